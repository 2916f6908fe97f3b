"""Case lists and open calls over visibility, on a real dev server (the time-skipping server has no
list_workflows). Cases started through the API publish their search attributes on their first task,
run by a worker; cases at a later stage are started with those attributes on a queue no worker polls."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from domain.calendar import PARIS, send_slot, start_of_day_utc
from domain.calls import script_for
from domain.models import InvoiceInput, Stage
from dunning import search_attributes as sa
from starter.cases import cases_query
from starter.cli import app as cli_app
from tests.conftest import make_invoice
from tests.ingress.conftest import created
from tests.ingress.dev_book import api_on_dev, eventually
from tests.ingress.listings import same_rows

API_QUEUE = f"visibility-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def dev_api(dev: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with api_on_dev(dev, tmp_path, API_QUEUE) as client:
        yield client


async def _start_at_stage(dev: WorkflowEnvironment, invoice: InvoiceInput, stage: Stage, calls: list[str]) -> None:
    """A case as the workflow would have published it at `stage`, without running the ladder."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(sa.STAGE, stage.value),
        SearchAttributePair(sa.CUSTOMER_ID, invoice.customer.customer_id),
        SearchAttributePair(sa.AMOUNT_DUE, float(invoice.amount)),
        SearchAttributePair(sa.DUE_DATE, start_of_day_utc(invoice.due_on)),
    ]
    if calls:
        pairs.append(SearchAttributePair(sa.OPEN_CALLS, calls))
    await dev.client.start_workflow(
        "InvoiceDunning",
        invoice,
        id=invoice.workflow_id,
        task_queue="no-worker",
        search_attributes=TypedSearchAttributes(pairs),
    )


async def test_cases_by_stage_and_customer_and_open_calls(dev: WorkflowEnvironment, dev_api: httpx.AsyncClient) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    due = (await dev.get_current_time()).date() + timedelta(days=30)
    scheduled = make_invoice(due, customer={"customer_id": customer})
    # An id as long as real ones: the table of `dunning cases` used to cut it.
    noticed = make_invoice(due, invoice_id=f"F-2026-{uuid.uuid4().hex[:12]}", customer={"customer_id": customer})
    response = await dev_api.post("/events", json=created(scheduled))
    assert response.json()["results"][0]["outcome"] == "started"
    await _start_at_stage(dev, noticed, Stage.FORMAL_NOTICE, ["level3_call"])

    async def mine() -> list[dict[str, Any]]:
        return list((await dev_api.get("/cases", params={"customer_id": customer})).json())

    rows = await eventually(mine, lambda rows: len(rows) == 2)
    assert {row["invoice_id"]: row["stage"] for row in rows} == {
        scheduled.invoice_id: "scheduled",
        noticed.invoice_id: "formal_notice",
    }
    response = await dev_api.get("/cases", params={"customer_id": customer, "stage": "formal_notice"})
    assert [row["invoice_id"] for row in response.json()] == [noticed.invoice_id]
    assert response.json()[0]["amount_due"] == 1200.0

    calls = (await dev_api.get("/calls")).json()
    assert {
        "invoice_id": noticed.invoice_id,
        "customer_id": customer,
        "step": "level3_call",
        "stage": "formal_notice",
        "script": list(script_for("level3_call")),
    } in calls
    assert any("formal notice" in line for line in script_for("level3_call"))
    assert all(call["invoice_id"] != scheduled.invoice_id for call in calls)

    # The CLI reads the same (in a thread: it runs its own event loop), on an 80-column terminal.
    env = {"TEMPORAL_ADDRESS": dev.client.service_client.config.target_host, "COLUMNS": "80"}

    async def cli(*args: str) -> str:
        result = await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    listing = ["cases", "--stage", "formal_notice", "--customer-id", customer]
    table = await cli(*listing)
    assert f"│ {noticed.invoice_id} │" in table  # whole, never "F-2026-…"
    assert scheduled.invoice_id not in table
    [row] = same_rows(await cli(*listing, "--output", "json"), await cli(*listing, "--output", "csv"))
    assert row == {
        "invoice_id": noticed.invoice_id,
        "stage": "formal_notice",
        "customer_id": customer,
        "amount_due": "1200.00",
        "due_date": str(due),
        "next_step": None,  # no worker runs that case: it cannot say
        "next_action_at": None,
        "open_calls": ["level3_call"],
    }
    assert "level3_call" in await cli("calls")
    listed_calls = same_rows(await cli("calls", "--output", "json"), await cli("calls", "--output", "csv"))
    assert {
        "invoice_id": noticed.invoice_id,
        "customer_id": customer,
        "step": "level3_call",
        "stage": "formal_notice",
        "script": list(script_for("level3_call")),
    } in listed_calls


async def test_query_values_are_checked_and_quoted(dev_api: httpx.AsyncClient) -> None:
    response = await dev_api.get("/cases", params={"customer_id": "x' OR WorkflowType != '"})
    assert response.status_code == 422
    assert "is not a valid id" in response.json()["detail"]
    response = await dev_api.get("/cases", params={"stage": "paid' OR '1'='1"})
    assert response.status_code == 422
    assert cases_query("formal_notice", "C-1") == (
        "WorkflowType = 'InvoiceDunning' AND DunningStage = 'formal_notice' AND CustomerId = 'C-1'"
    )


async def test_cases_show_the_next_step_in_paris_time(dev: WorkflowEnvironment, dev_api: httpx.AsyncClient) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    due = (await dev.get_current_time()).date() + timedelta(days=30)
    invoice = make_invoice(due, customer={"customer_id": customer})
    assert (await dev_api.post("/events", json=created(invoice))).json()["results"][0]["outcome"] == "started"

    async def mine() -> list[dict[str, Any]]:
        return list((await dev_api.get("/cases", params={"customer_id": customer})).json())

    await eventually(mine, lambda rows: len(rows) == 1 and rows[0]["next_action_at"] is not None)
    env = {"TEMPORAL_ADDRESS": dev.client.service_client.config.target_host, "COLUMNS": "200"}
    slot = send_slot(due - timedelta(days=15)).astimezone(PARIS)
    assert slot.hour == 9
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["cases", "--customer-id", customer], env=env)
    assert result.exit_code == 0, result.output
    assert "at (Paris)" in result.output
    assert f"│ preventive_email │ {slot:%Y-%m-%d} 09:00 │" in result.output
    as_json = ["cases", "--customer-id", customer, "--output", "json"]
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, as_json, env=env)
    [row] = json.loads(result.output)
    assert row["next_step"] == "preventive_email"
    assert datetime.fromisoformat(row["next_action_at"]) == slot
