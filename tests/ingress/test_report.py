"""`GET /reports/aging` and `dunning report` on a real dev server (visibility lists the book): a case paid
before any reminder and an overdue one, read back through the API and the CLI. This module's `dev` server
is its own, so the book holds only these cases."""

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from domain.calendar import paris_date
from starter.cli import app as cli
from tests.conftest import make_invoice
from tests.ingress.conftest import created, event
from tests.ingress.dev_book import api_on_dev, eventually

QUEUE = f"report-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def book_api(dev: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with api_on_dev(dev, tmp_path, QUEUE) as client:
        yield client


async def test_the_aging_report_of_a_live_book(
    dev: WorkflowEnvironment, book_api: httpx.AsyncClient, tmp_path: Path
) -> None:
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

    def both_counted(aging: dict[str, Any]) -> bool:
        eur = aging["books"][0] if aging["books"] else {}
        return bool(eur.get("cases") == 2 and eur.get("outstanding_cases") == 1)

    aging = await eventually(report, both_counted)
    eur = aging["books"][0]

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

    chart = tmp_path / "book.png"
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["report", "--format", "png", "--out", str(chart)], env=env
    )
    assert result.exit_code == 0, result.output
    assert f"aging chart written to {chart}" in result.output
    with Image.open(chart) as image:
        assert (image.format, image.size) == ("PNG", (1200, 460))  # one currency: one row of charts
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["report", "--out", str(chart)], env=env)
    assert result.exit_code == 2
    assert "only with --format png" in result.output
