"""`dunning purge` against Temporal: the sweep copies closures from a dev server's visibility into the
register (CloseTime, final stage), the command prints counts and no personal data, and a case the
register knows is never started again once the server has forgotten it."""

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from domain.models import InvoiceInput
from dunning import search_attributes as sa
from starter.cli import app as cli
from starter.closures import Closure
from starter.dispatch import Applied, Dispatcher
from starter.events import EVENT
from starter.retention import namespace_retention, sweep_closures
from starter.store import IngressStore
from tests.conftest import Harness, make_invoice
from tests.ingress.conftest import created, event, status_of
from tests.ingress.dev_book import eventually


async def _closed_at_stage(client: Client, invoice: InvoiceInput, stage: str) -> None:
    """A case as the workflow leaves it, closed at `stage`, without running the ladder."""
    pairs: list[SearchAttributePair[Any]] = [SearchAttributePair(sa.STAGE, stage)]
    handle = await client.start_workflow(
        "InvoiceDunning",
        invoice,
        id=invoice.workflow_id,
        task_queue="no-worker",
        search_attributes=TypedSearchAttributes(pairs),
    )
    await handle.terminate("test: closed")


async def test_the_sweep_records_closures_and_the_command_prints_only_counts(
    dev: WorkflowEnvironment, tmp_path: Path
) -> None:
    due = datetime.now(UTC).date() + timedelta(days=30)
    settled = make_invoice(due, customer={"name": "Fromagerie Petit"})
    litigation = make_invoice(due, customer={"name": "Traiteur Leroy"})
    running = make_invoice(due)
    before = datetime.now(UTC)
    await _closed_at_stage(dev.client, settled, "settled")
    await _closed_at_stage(dev.client, litigation, "litigation")
    await dev.client.start_workflow("InvoiceDunning", running, id=running.workflow_id, task_queue="no-worker")

    assert await namespace_retention(dev.client) > timedelta(0)
    var = tmp_path / "var"
    env = {"TEMPORAL_ADDRESS": dev.client.service_client.config.target_host, "DUNNING_VAR_DIR": str(var)}
    with IngressStore.in_dir(var) as store:
        swept = await eventually(lambda: sweep_closures(dev.client, store.closures), lambda found: len(found) == 2)
    by_id = {closure.workflow_id: closure for closure in swept}
    assert set(by_id) == {settled.workflow_id, litigation.workflow_id}
    assert by_id[litigation.workflow_id].in_litigation
    assert by_id[settled.workflow_id].status == "terminated"
    assert all(before - timedelta(seconds=5) <= c.closed_at <= datetime.now(UTC) for c in swept)

    dry = await asyncio.to_thread(CliRunner().invoke, cli, ["purge", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "2 closures recorded from visibility" in dry.output
    assert "dry run, nothing removed" in dry.output
    with IngressStore.in_dir(var) as store:
        assert store.closures.all() == []  # a dry run records nothing either

    far = (datetime.now(UTC).date() + timedelta(days=6 * 365)).isoformat()
    real = await asyncio.to_thread(CliRunner().invoke, cli, ["purge", "--as-of", far], env=env)
    assert real.exit_code == 0, real.output
    assert "2 closures recorded from visibility; 1 cases past their period (1 purged now), 1 held" in real.output
    for private in (settled.invoice_id, litigation.invoice_id, "Fromagerie", "Traiteur", settled.customer.email):
        assert private not in real.output
    with IngressStore.in_dir(var) as store:
        assert store.closures.get(settled.workflow_id) is not None
        assert store.closures.swept_at() is not None

    # The next sweep starts from the previous one: nothing new.
    again = await asyncio.to_thread(CliRunner().invoke, cli, ["purge"], env=env)
    assert "0 closures recorded from visibility" in again.output

    released = await asyncio.to_thread(CliRunner().invoke, cli, ["purge", "release", litigation.invoice_id], env=env)
    assert released.exit_code == 0, released.output
    assert "released" in released.output
    unknown = await asyncio.to_thread(CliRunner().invoke, cli, ["purge", "release", "F-NOPE"], env=env)
    assert unknown.exit_code == 1


@pytest.mark.parametrize("kind", ["invoice.created", "payment.received"])
async def test_a_case_the_register_knows_is_never_started_again(
    harness: Harness, dispatcher: Dispatcher, var_dir: Path, kind: str
) -> None:
    """The server forgot the case (namespace retention) but the register has its closure."""
    invoice = make_invoice((await harness.today()) + timedelta(days=30))
    dispatcher.store.closures.record([Closure(invoice.workflow_id, datetime.now(UTC), "completed", "settled")])
    if kind == "invoice.created":
        body = created(invoice, event_id=f"again-{uuid.uuid4().hex}")
    else:
        body = event(
            f"pay-{uuid.uuid4().hex}",
            kind,
            invoice.invoice_id,
            payment_id="P-9",
            amount="10.00",
            received_on="2026-03-01",
        )
    async with harness.worker():
        handled = await dispatcher.apply(EVENT.validate_python(body))
    assert handled.applied is Applied.CLOSED
    assert [e.invoice_id for e in dispatcher.store.closed_events()] == [invoice.invoice_id]
    assert dispatcher.store.all_pending() == []
    with pytest.raises(RPCError) as missing:
        await status_of(harness, invoice.invoice_id)
    assert missing.value.status == RPCStatusCode.NOT_FOUND
    with sqlite3.connect(var_dir / "ingress.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM invoice").fetchone() == (0,)
