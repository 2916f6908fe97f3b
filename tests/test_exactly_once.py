"""Exactly one of each reminder: crashes, retries and provider errors never send twice."""

import asyncio
import os
import signal
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.delivery import deliver_once
from activities.email import EmailActivities
from activities.email.adapters import OutboxEmail, SendGridEmail
from activities.ledger import SentLedger
from activities.outbox import Outbox
from domain.calendar import next_send_opportunity
from domain.case import CaseState
from domain.ladder import Channel
from domain.models import ActionStatus, Outcome, PaymentReceived
from dunning.settings import Creditor
from tests.conftest import TRACKING_KEY, Harness, advance_to, at_step, clear_due_date, close_case, make_invoice
from tests.ladders import DEFAULT_POLICY
from workflows.invoice_dunning import InvoiceDunning

ROOT = Path(__file__).resolve().parent.parent


async def test_worker_killed_mid_send_resumes_without_a_duplicate_email(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    # The provider receives the first e-mail, then the worker process dies before hearing back.
    harness.sendgrid.script.append("hang")
    worker_env = {
        **os.environ,
        "TEMPORAL_ADDRESS": harness.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": harness.client.namespace,
        "DUNNING_TASK_QUEUE": harness.task_queue,
        "SENDGRID_API_KEY": "SG.test-key",
        "SENDGRID_API_HOST": harness.sendgrid.url,
        "DUNNING_TRACKING_KEY": TRACKING_KEY,
        "DUNNING_VAR_DIR": str(harness.settings.var_dir),
        # The test server does not notice a dead worker's open polls nor its sticky queue (a real
        # server sees the closed connection): with its one activity slot busy with the hanging send
        # and no cache, the killed worker leaves nothing behind that the retry could be handed to.
        "DUNNING_MAX_CONCURRENT_ACTIVITIES": "1",
        "DUNNING_WORKFLOW_CACHE": "0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "worker.py"),
        env=worker_env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        handle = await harness.start(invoice)
        # One result() call drives the clock for the whole test: it skips to J-15, then waits in real
        # time while an attempt is in flight (the server skips no time then), then skips again.
        outcome = asyncio.create_task(handle.result())
        for _ in range(300):
            if harness.sendgrid.requests:
                break
            await asyncio.sleep(0.1)
        assert harness.sendgrid.requests, "the first e-mail never reached the provider"
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    harness.sendgrid.release()

    async with harness.worker():
        # The dead attempt times out after its start-to-close (20 s, real time) and is retried here.
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="P1", amount=invoice.amount, received_on=due - timedelta(days=14)),
        )
        result = await outcome
        status = await handle.query(InvoiceDunning.status)

    assert result.outcome is Outcome.SETTLED
    assert harness.sendgrid.steps() == ["preventive_email"]
    preventive = next(a for a in status.actions if a.step == "preventive_email")
    # The provider may have accepted it: flagged for a person instead of sent again.
    assert preventive.status is ActionStatus.UNCONFIRMED
    assert "check sendgrid for message_id" in (preventive.detail or "")
    assert SentLedger(harness.settings.ledger_path).count("unconfirmed") == 1


async def test_provider_5xx_is_retried_and_sent_once(harness: Harness) -> None:
    today = await harness.today()
    harness.sendgrid.script.extend([503, 429])
    async with harness.worker():
        handle = await harness.start(make_invoice(today + timedelta(days=10)))
        await advance_to(harness, next_send_opportunity(await harness.now()) + timedelta(hours=2))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert [r["answer"] for r in harness.sendgrid.requests] == [503, 429, 202]
    preventive = next(a for a in status.actions if a.step == "preventive_email")
    assert preventive.status is ActionStatus.SENT


async def test_provider_4xx_is_not_retried_and_the_ladder_goes_on(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    harness.sendgrid.script.append(400)
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, 1))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert harness.sendgrid.steps() == ["preventive_email", "level1_email"]
    preventive = next(a for a in status.actions if a.step == "preventive_email")
    assert preventive.status is ActionStatus.FAILED
    assert "refused the message (400)" in (preventive.detail or "")


def test_a_retry_after_the_provider_accepted_does_not_send_again(harness: Harness, tmp_path: Path) -> None:
    # The attempt that sent died before Temporal heard of it; the next attempt finds the ledger entry.
    ledger = SentLedger(tmp_path / "ledger.sqlite3")
    adapter = SendGridEmail("SG.test-key", harness.sendgrid.url, "relances@exemple.fr", "Exemple", harness.refs)
    activities = EmailActivities(ledger, adapter, Creditor())
    case = CaseState.open(make_invoice(date(2027, 3, 1)), DEFAULT_POLICY)
    request = case.message(case.schedule()[0], "preventive_email", Channel.EMAIL, "invoice-X")
    first = ActivityEnvironment().run(deliver_once, ledger, request, activities.render, adapter)
    second = ActivityEnvironment().run(activities.send_email, request)
    assert len(harness.sendgrid.requests) == 1
    assert first.status == second.status == "sent"
    assert first.provider_message_id == second.provider_message_id


def test_an_error_before_the_provider_is_retried_and_sends_once(tmp_path: Path) -> None:
    # The outbox cannot be written (its folder is a file): nothing was sent, so nothing is in doubt.
    ledger = SentLedger(tmp_path / "ledger.sqlite3")
    outbox_root = tmp_path / "outbox"
    outbox_root.write_text("not a folder")
    creditor = Creditor()
    case = CaseState.open(make_invoice(date(2027, 3, 1)), DEFAULT_POLICY)
    request = case.message(case.schedule()[0], "preventive_email", Channel.EMAIL, "invoice-X")
    with pytest.raises(OSError, match="outbox"):
        ActivityEnvironment().run(EmailActivities(ledger, OutboxEmail(outbox_root), creditor).send_email, request)
    assert ledger.count("sending") == ledger.count("unconfirmed") == 0
    outbox_root.unlink()
    retried = ActivityEnvironment().run(EmailActivities(ledger, OutboxEmail(outbox_root), creditor).send_email, request)
    assert retried.status == "sent"
    assert len(Outbox(outbox_root, "email").envelopes()) == 1
    assert ledger.count("sent") == 1
