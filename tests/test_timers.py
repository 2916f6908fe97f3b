"""A signal wakes the case; its timer is replaced only when the wake time moves (history size)."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from domain.models import DunningResult, PaymentReceived, PromiseToPay
from tests.conftest import Harness, advance_to, at_step, clear_due_date, close_case, make_invoice
from workflows.invoice_dunning import InvoiceDunning

TIMER_EVENTS = (EventType.EVENT_TYPE_TIMER_STARTED, EventType.EVENT_TYPE_TIMER_CANCELED)


async def event_counts(handle: WorkflowHandle[Any, DunningResult]) -> Counter[int]:
    history = await handle.fetch_history()
    return Counter(event.event_type for event in history.events)


async def test_a_signal_that_leaves_the_wake_time_unchanged_adds_no_timer_events(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, -15))
        before = await event_counts(handle)
        waiting = await handle.query(InvoiceDunning.status)
        for n in range(3):
            payment = PaymentReceived(
                event_id=f"pay-{n}", payment_id=f"P{n}", amount=Decimal("100.00"), received_on=await harness.today()
            )
            await handle.signal(InvoiceDunning.payment_received, payment)
        paid = await handle.query(InvoiceDunning.status)
        after_payments = await event_counts(handle)
        # A promise moves the wake time to the day after the promised date: one timer replaced.
        promise = PromiseToPay(event_id="promise-1", promised_on=due + timedelta(days=20))
        await handle.signal(InvoiceDunning.promise_to_pay, promise)
        promised = await handle.query(InvoiceDunning.status)
        after_promise = await event_counts(handle)
        await close_case(handle)
    assert paid.balance == Decimal("900.00")
    assert paid.next_action == waiting.next_action
    assert [after_payments[t] - before[t] for t in TIMER_EVENTS] == [0, 0]
    assert (
        after_payments[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
        - before[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
        == 3
    )
    assert promised.next_action != waiting.next_action
    assert [after_promise[t] - after_payments[t] for t in TIMER_EVENTS] == [1, 1]
