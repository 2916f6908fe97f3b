"""`GET /reports/aging` and `dunning report` on a real dev server (visibility lists the book): a case paid
before any reminder and an overdue one, read back through the API and the CLI. This module's `dev` server
is its own, so the book holds only these cases."""

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from domain.calendar import paris_date
from dunning.settings import ChannelSettings, TemporalSettings
from starter.api import IngressSettings, create_app
from starter.cli import app as cli
from tests.conftest import make_invoice
from tests.ingress.conftest import TOKEN, created, event
from worker import MAX_CONCURRENT_ACTIVITIES, build_activities, build_worker

QUEUE = f"report-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def book_api(dev: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = IngressSettings(
        api_token=TOKEN,
        var_dir=tmp_path / "var",
        temporal=TemporalSettings(address=dev.client.service_client.config.target_host, task_queue=QUEUE),
    )
    transport = httpx.ASGITransport(app=create_app(settings, dev.client))
    with ThreadPoolExecutor(MAX_CONCURRENT_ACTIVITIES) as executor:
        activities = build_activities(ChannelSettings(var_dir=tmp_path / "worker"))
        async with (
            build_worker(dev.client, QUEUE, activities, executor),
            httpx.AsyncClient(
                transport=transport, base_url="http://ingress", headers={"Authorization": f"Bearer {TOKEN}"}
            ) as client,
        ):
            yield client


async def test_the_aging_report_of_a_live_book(dev: WorkflowEnvironment, book_api: httpx.AsyncClient) -> None:
    today = paris_date(await dev.get_current_time())
    overdue = make_invoice(today - timedelta(days=40))
    early = make_invoice(today + timedelta(days=30))
    for invoice in (overdue, early):
        assert (await book_api.post("/events", json=created(invoice))).json()["results"][0]["outcome"] == "started"
    payment = event(
        "pay-early", "payment.received", early.invoice_id, payment_id="P-1", amount="1200.00", received_on=str(today)
    )
    assert (await book_api.post("/events", json=payment)).json()["results"][0]["outcome"] == "signalled"

    async def report() -> dict[str, Any]:
        return dict((await book_api.get("/reports/aging")).json())

    # Visibility lags the cases by about a second: poll, bounded.
    for _ in range(50):
        aging = await report()
        eur = aging["books"][0] if aging["books"] else {}
        if eur.get("cases") == 2 and eur.get("outstanding_cases") == 1:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"the book never showed both cases settled as expected: {aging}")

    assert aging["as_of"] == str(today)
    assert eur["currency"] == "EUR"
    assert eur["outstanding"] == "1200.00"
    assert eur["by_age"]["31-60"] == "1200.00"
    assert eur["by_age"]["not_due"] == "0.00"
    assert sum(float(v) for v in eur["by_stage"].values()) == 1200.0
    paid_early = next(s for s in eur["steps"] if s["step"] == "none")
    assert (paid_early["recovered"], paid_early["recovered_amount"]) == (1, "1200.00")
    assert paid_early["average_days_to_pay"] == "-30.0"

    env = {"TEMPORAL_ADDRESS": dev.client.service_client.config.target_host}
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["report", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == aging
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["report", "--format", "csv"], env=env)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["currency", "section", "key", "value"]
    assert ["EUR", "age", "31-60", "1200.00"] in rows
    assert ["EUR", "step:none", "recovered", "1"] in rows
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["report"], env={**env, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "By age" in result.output
    assert "1200.00" in result.output
