"""Call tasks wait for a person without holding the ladder; a call's outcome acts on the case."""

from datetime import timedelta

from domain.models import CallLogged, Stage
from tests.conftest import Harness, advance_to, at_step, clear_due_date, close_case, make_invoice
from workflows.invoice_dunning import InvoiceDunning


async def test_call_task_stays_open_until_logged_and_invoice_not_received_resends_once(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, -7))
        waiting = await handle.query(InvoiceDunning.status)
        logged = CallLogged(event_id="call-1", step="preventive_call", outcome="invoice_not_received", note="lost")
        await handle.signal(InvoiceDunning.call_logged, logged)
        await handle.signal(InvoiceDunning.call_logged, logged)
        await advance_to(harness, at_step(due, 1))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert waiting.open_calls == ["preventive_call"]
    assert waiting.stage is Stage.PREVENTIVE
    assert status.open_calls == []
    # One copy of the invoice, whatever the number of deliveries of the call log, and the ladder went on.
    assert harness.sendgrid.steps() == ["preventive_email", "invoice_resend", "level1_email"]
    resend = next(r for r in harness.sendgrid.requests if r["custom_args"]["step"] == "invoice_resend")
    assert "Copie de votre facture" in resend["subject"]
    logs = [a for a in status.actions if a.step == "preventive_call" and a.status == "done"]
    assert [a.detail for a in logs] == ["invoice_not_received: lost"]


async def test_call_reporting_a_dispute_pauses_the_ladder(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, 4))
        await handle.signal(
            InvoiceDunning.call_logged, CallLogged(step="level1_call", outcome="disputed", note="wrong price")
        )
        await advance_to(harness, at_step(due, 30))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert status.stage is Stage.DISPUTED
    assert harness.sendgrid.steps() == ["preventive_email", "level1_email"]
    assert any(a.step == "dispute_opened" and a.detail == "wrong price" for a in status.actions)
