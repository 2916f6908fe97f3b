"""A provider outage is retried, and the case says meanwhile what it is trying to send."""

from datetime import timedelta

from domain.calendar import send_slot
from tests.conftest import Harness, advance_to, clear_due_date, close_case, make_invoice
from workflows.invoice_dunning import InvoiceDunning


async def test_an_email_refused_by_a_failing_provider_is_retried_and_shown_as_sending(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    slot = send_slot(due - timedelta(days=15))
    # Down for the first two attempts (30 s and 60 s apart), then back.
    harness.sendgrid.script.extend([503, 503])
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, slot + timedelta(seconds=10))
        during = await handle.query(InvoiceDunning.status)
        await advance_to(harness, slot + timedelta(minutes=10))
        after = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert during.sending is not None
    assert during.sending.step == "preventive_email"
    assert slot <= during.sending.at < slot + timedelta(seconds=10)
    assert not any(a.step == "preventive_email" for a in during.actions)
    assert after.sending is None
    assert [(a.step, a.status) for a in after.actions] == [("preventive_email", "sent")]
    assert len(harness.sendgrid.requests) == 3
    assert harness.sendgrid.steps() == ["preventive_email"] * 3
