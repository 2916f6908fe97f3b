"""Ingress fixtures: a dispatcher on the test's server, the API on an httpx client, the CLI, samples."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from domain.models import CaseStatus, InvoiceInput
from dunning.settings import TemporalSettings
from starter.api import IngressSettings, create_app
from starter.bank import Journal
from starter.cli import app as cli
from starter.dispatch import Dispatcher
from starter.reconcile import journal_path
from starter.store import IngressStore
from tests.conftest import Harness
from tests.ladders import DEFAULT_POLICY
from workflows.invoice_dunning import InvoiceDunning

# The samples shipped with the product (README, "Daily use").
FIXTURES = Path(__file__).resolve().parents[2] / "samples"
TOKEN = "test-token-0123456789"


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "ingress-var"


@pytest.fixture
def dispatcher(harness: Harness, var_dir: Path) -> Iterator[Dispatcher]:
    with IngressStore.in_dir(var_dir) as store:
        yield Dispatcher(harness.client, store, harness.task_queue, DEFAULT_POLICY)


@pytest.fixture
def journal(var_dir: Path) -> Iterator[Journal]:
    with Journal(journal_path(var_dir)) as journal:
        yield journal


@pytest.fixture
def settings(harness: Harness, var_dir: Path) -> IngressSettings:
    temporal = TemporalSettings(
        address=harness.client.service_client.config.target_host,
        namespace=harness.client.namespace,
        task_queue=harness.task_queue,
    )
    return IngressSettings(api_token=TOKEN, var_dir=var_dir, temporal=temporal)


@pytest.fixture
async def api(harness: Harness, settings: IngressSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, harness.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://ingress", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as client:
        yield client


async def status_of(harness: Harness, invoice_id: str) -> CaseStatus:
    handle = harness.client.get_workflow_handle(f"invoice-{invoice_id}")
    status: CaseStatus = await handle.query(InvoiceDunning.status)
    return status


def created(invoice: InvoiceInput, event_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id or f"created-{invoice.invoice_id}",
        "type": "invoice.created",
        "data": json.loads(invoice.model_dump_json()),
    }


def event(event_id: str, type_: str, invoice_id: str, **data: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "data": {"invoice_id": invoice_id, **data}}


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: IngressSettings) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", settings.temporal.address)
    monkeypatch.setenv("DUNNING_TASK_QUEUE", settings.temporal.task_queue)
    monkeypatch.setenv("DUNNING_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("COLUMNS", "200")


async def invoke(*args: str) -> tuple[int, str]:
    """Run `dunning ARGS` in a thread: each command runs its own event loop."""
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    return result.exit_code, result.output
