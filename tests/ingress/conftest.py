"""Ingress fixtures: a dispatcher on the time-skipping server, the API on an httpx client, samples."""

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from domain.models import CaseStatus, InvoiceInput
from dunning import search_attributes
from dunning.binaries import venv_binary
from dunning.client import DATA_CONVERTER
from dunning.settings import ChannelSettings, TemporalSettings
from starter.api import IngressSettings, create_app
from starter.bank import Journal
from starter.dispatch import Dispatcher
from starter.reconcile import journal_path
from starter.store import IngressStore
from tests.conftest import Harness
from tests.fake_sendgrid import FakeSendGrid

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "test-token-0123456789"


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "ingress-var"


@pytest.fixture
def dispatcher(harness: Harness, var_dir: Path) -> Iterator[Dispatcher]:
    with IngressStore.in_dir(var_dir) as store:
        yield Dispatcher(harness.client, store, harness.task_queue)


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
    status: CaseStatus = await handle.query("status", result_type=CaseStatus)
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
async def sample_harness(sendgrid: FakeSendGrid, tmp_path: Path) -> AsyncIterator[Harness]:
    """A fresh time-skipping server: the shared samples have fixed invoice ids, and a closed case's id
    is never reused (REJECT_DUPLICATE), so each test of them needs its own server."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=DATA_CONVERTER
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace=env.client.namespace, search_attributes=search_attributes.indexed_types())
    )
    settings = ChannelSettings(sendgrid_api_key="SG.test-key", sendgrid_api_host=sendgrid.url, var_dir=tmp_path / "var")
    yield Harness(env, env.client, "tq-samples", sendgrid, settings)
    await env.shutdown()


@pytest.fixture
def sample_dispatcher(sample_harness: Harness, var_dir: Path) -> Iterator[Dispatcher]:
    with IngressStore.in_dir(var_dir) as store:
        yield Dispatcher(sample_harness.client, store, sample_harness.task_queue)
