"""Selections over visibility, on a real dev server (the time-skipping one has no list_workflows): the
cases waiting for an approval, and `dunning policy apply` to a segment, to outdated cases, to a query."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from domain.models import InvoiceInput
from dunning import search_attributes as sa
from dunning.cases import start_case
from starter.cli import app as cli
from tests.conftest import make_invoice
from tests.ingress.dev_book import api_on_dev, eventually
from tests.ladders import DEFAULT_POLICY, ROUND_THE_CLOCK, gated
from tests.tables import table_row

QUEUE = f"steering-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def dev_api(dev: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with api_on_dev(dev, tmp_path, QUEUE) as client:
        yield client


async def dunning(dev: WorkflowEnvironment, *args: str) -> tuple[int, str]:
    env = {"TEMPORAL_ADDRESS": dev.client.service_client.config.target_host, "COLUMNS": "200"}
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)
    return result.exit_code, result.output


async def listed(dev: WorkflowEnvironment, query: str) -> list[str]:
    return [execution.id async for execution in dev.client.list_workflows(query)]


async def test_the_cases_waiting_for_an_approval(dev: WorkflowEnvironment, dev_api: httpx.AsyncClient) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    today = (await dev.get_current_time()).date()
    # On the real clock: its gated first step (J-15) is already due.
    waiting = make_invoice(today + timedelta(days=10), customer={"customer_id": customer})
    other = make_invoice(today + timedelta(days=40), customer={"customer_id": customer})
    policy = gated(ROUND_THE_CLOCK)
    for invoice in (waiting, other):
        await start_case(dev.client, invoice, QUEUE, policy)

    async def approvals() -> list[dict[str, Any]]:
        response = await dev_api.get("/cases", params={"customer_id": customer, "stage": "awaiting_approval"})
        return list(response.json())

    rows = await eventually(approvals, lambda rows: len(rows) == 1)
    assert rows[0]["invoice_id"] == waiting.invoice_id
    assert rows[0]["open_calls"] == ["preventive_email_approval"]
    code, output = await dunning(dev, "cases", "--waiting-approval", "--customer-id", customer)
    assert code == 0, output
    assert table_row(output, waiting.invoice_id)[:3] == [waiting.invoice_id, "awaiting_approval", customer]
    assert other.invoice_id not in output
    code, output = await dunning(dev, "cases", "--waiting-approval", "--stage", "settled")
    assert code == 2

    code, output = await dunning(dev, "approve", waiting.invoice_id, "--by", "controller-7")
    assert code == 0, output
    await eventually(approvals, lambda rows: rows == [])


async def _running(dev: WorkflowEnvironment, invoice: InvoiceInput) -> None:
    await start_case(dev.client, invoice, QUEUE, ROUND_THE_CLOCK)


@pytest.mark.usefixtures("dev_api")  # its worker answers the cases' queries
async def test_policy_apply_to_a_selection(dev: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUNNING_POLICY_FILE", raising=False)
    customer = f"C-{uuid.uuid4().hex[:8]}"
    due = (await dev.get_current_time()).date() + timedelta(days=40)
    new = make_invoice(due, customer={"customer_id": customer, "segment": "new"})
    standard = make_invoice(due, customer={"customer_id": customer})
    for invoice in (new, standard):
        await _running(dev, invoice)
    mine = f"{sa.CUSTOMER_ID.name} = '{customer}'"
    on_old = f"{mine} AND {sa.POLICY_VERSION.name} = '{ROUND_THE_CLOCK.version}'"
    await eventually(lambda: listed(dev, on_old), lambda ids: len(ids) == 2)

    code, output = await dunning(dev, "policy", "apply", "--query", mine, "--segment", "new", "--dry-run")
    assert code == 0, output
    assert table_row(output, new.invoice_id)[:3] == [new.invoice_id, "would move", ROUND_THE_CLOCK.version]
    assert standard.invoice_id not in output
    code, output = await dunning(dev, "policy", "apply", "--query", mine, "--segment", "new")
    assert code == 0, output
    assert table_row(output, new.invoice_id)[:2] == [new.invoice_id, "moved"]
    await eventually(lambda: listed(dev, on_old), lambda ids: ids == [standard.workflow_id])

    code, output = await dunning(dev, "policy", "apply", "--query", mine, "--outdated")
    assert code == 0, output
    assert table_row(output, standard.invoice_id)[:2] == [standard.invoice_id, "moved"]
    assert new.invoice_id not in output
    current = f"{mine} AND {sa.POLICY_VERSION.name} = '{DEFAULT_POLICY.version}'"
    await eventually(lambda: listed(dev, current), lambda ids: len(ids) == 2)
    code, output = await dunning(dev, "policy", "apply", "--query", mine, "--outdated")
    assert code == 0, output
    assert "no case selected" in output

    code, output = await dunning(dev, "policy", "apply", "--query", "NoSuchAttribute = 'x'")
    assert code == 2
    assert "--query refused by Temporal" in output
    code, output = await dunning(dev, "policy", "apply")
    assert code == 2
    code, output = await dunning(dev, "policy", "apply", new.invoice_id, "--segment", "new")
    assert code == 2
