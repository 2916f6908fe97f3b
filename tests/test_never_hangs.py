"""A case never hangs and never reports stale figures: on the time-skipping server, end to end."""

from datetime import date, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError

from domain.calendar import paris_date, send_slot
from domain.models import DisputeOpened, DisputeResolved, Stage
from starter.cases import case_status
from tests.conftest import Harness, advance_to, close_case, make_invoice
from workflows.invoice_dunning import InvoiceDunning


@pytest.mark.parametrize("due", [date(2019, 6, 14), date(2206, 1, 10)], ids=["2019", "2206"])
async def test_a_due_date_of_any_year_runs(harness: Harness, due: date) -> None:
    invoice = make_invoice(due, issued_on=(due - timedelta(days=30)).isoformat())
    async with harness.worker():
        handle = await harness.start(invoice)
        status = await handle.query(InvoiceDunning.status)
        result = await close_case(handle)
    assert status.next_action is not None
    assert result.outcome == "cancelled"


async def test_an_error_no_retry_can_fix_fails_the_run_at_once_with_its_message(harness: Harness) -> None:
    # The end of the calendar: no business day can follow. The run fails; it does not sit Running.
    invoice = make_invoice(date(9999, 12, 31), issued_on="9999-12-01")
    async with harness.worker():
        handle = await harness.start(invoice)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "date value out of range" in str(failure.value.cause)
    assert (await handle.describe()).status is WorkflowExecutionStatus.FAILED


async def test_a_status_read_after_a_long_sleep_is_current(harness: Harness) -> None:
    due = await harness.today() + timedelta(days=2)
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        # Between the level 2 letter (J+15) and the level 3 e-mail (J+30): no workflow task for days before the reading.
        await advance_to(harness, send_slot(due + timedelta(days=27)) + timedelta(hours=3))
        now = await harness.now()
        raw = await handle.query(InvoiceDunning.status)
        read = await case_status(harness.client, raw.invoice_id, now=now)
        await close_case(handle)
    # The query answers as of the last workflow task, days before; the reader as of its own time.
    assert raw.as_of is not None
    assert raw.as_of < now - timedelta(days=1)
    assert raw.days_overdue < read.days_overdue
    assert read.as_of == now
    assert read.days_overdue == (paris_date(now) - due).days


async def test_a_resolution_sent_before_its_dispute_applies_when_sent_again(harness: Harness) -> None:
    due = await harness.today() + timedelta(days=30)
    resolution = DisputeResolved(event_id="evt-resolve", outcome="rejected")
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await handle.signal(InvoiceDunning.dispute_resolved, resolution)
        await handle.signal(InvoiceDunning.dispute_opened, DisputeOpened(event_id="evt-open", reason="wrong price"))
        disputed = await handle.query(InvoiceDunning.status)
        await handle.signal(InvoiceDunning.dispute_resolved, resolution)
        resolved = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert disputed.stage is Stage.DISPUTED
    assert resolved.stage is not Stage.DISPUTED
