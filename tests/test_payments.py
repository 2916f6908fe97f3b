"""Payments stop everything at once; partial, over, duplicate and reversed payments."""

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.calendar import paris_date, send_slot
from domain.models import Outcome, PaymentReceived, PaymentReversed, Stage
from tests.conftest import Harness, advance_to, at_step, clear_due_date, close_case, make_invoice
from tests.ladders import STANDARD
from workflows.invoice_dunning import InvoiceDunning

# (the next step's offset, the stage the case is in just before it): each payment arrives an hour
# before a step, so the 14 days it is watched for a reversal contain steps that must not run.
PAYMENT_POINTS = [
    (-15, Stage.SCHEDULED),
    (-7, Stage.PREVENTIVE),
    (4, Stage.LEVEL_1),
    (10, Stage.LEVEL_2),
    (32, Stage.LEVEL_3),
    (60, Stage.FORMAL_NOTICE),
]
CHANNEL_OUTBOXES = ("sms", "letters", "litigation")


@pytest.mark.parametrize(("offset", "stage"), PAYMENT_POINTS, ids=[s.value for _, s in PAYMENT_POINTS])
async def test_full_payment_at_any_stage_stops_every_reminder(harness: Harness, offset: int, stage: Stage) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    next_step = send_slot(due + timedelta(days=offset))
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, next_step - timedelta(hours=1))
        before = await handle.query(InvoiceDunning.status)
        assert before.stage is stage
        assert before.next_action is not None
        assert before.next_action.at == next_step
        emails, outboxes = len(harness.sendgrid.requests), [len(harness.outbox(c)) for c in CHANNEL_OUTBOXES]
        paid_on = await harness.today()
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="P1", amount=invoice.amount, received_on=paid_on),
        )
        settled = await handle.query(InvoiceDunning.status)
        result = await handle.result()
        after = await handle.query(InvoiceDunning.status)
    assert settled.stage is Stage.SETTLED
    assert settled.next_action is not None
    assert settled.next_action.step == "close_settled"
    assert result.outcome is Outcome.SETTLED
    assert result.balance == Decimal("0.00")
    # The case watched 14 days for a reversal, a window holding at least the step it was paid before,
    # and nothing at all happened on any channel after the money arrived: no message, no call task.
    assert result.closed_on == paid_on + timedelta(days=14)
    assert paris_date(next_step) < result.closed_on
    assert len(harness.sendgrid.requests) == emails
    assert [len(harness.outbox(c)) for c in CHANNEL_OUTBOXES] == outboxes
    ladder_steps = {s.name for s in STANDARD}
    assert [a for a in after.actions[len(before.actions) :] if a.step in ladder_steps] == []
    assert after.open_calls == []


async def test_partial_payment_lowers_balance_and_ladder_goes_on(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, at_step(due, 1))
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="P1", amount=Decimal("200.00"), received_on=await harness.today()),
        )
        await advance_to(harness, at_step(due, 8))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert status.paid == Decimal("200.00")
    assert status.balance == Decimal("1000.00")
    assert status.stage is Stage.LEVEL_2
    # Never restarted, never skipped: each e-mail step exactly once, in ladder order.
    assert harness.sendgrid.steps() == ["preventive_email", "level1_email", "level1_followup_email", "level2_email"]
    level2 = harness.sendgrid.requests[-1]["text"]
    assert "Déjà réglé : 200,00\xa0€" in level2
    assert "Reste dû : 1\u202f000,00\xa0€" in level2
    level1 = harness.sendgrid.requests[1]["text"]
    assert "Reste dû" not in level1


async def test_overpayment_is_reported_in_the_result(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        today = await harness.today()
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="P1", amount=Decimal("1000.00"), received_on=today),
        )
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="P2", amount=Decimal("250.50"), received_on=today),
        )
        result = await handle.result()
    assert result.outcome is Outcome.SETTLED
    assert result.balance == Decimal("-50.50")
    assert result.overpayment == Decimal("50.50")


async def test_duplicate_payment_and_event_ids_count_once(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        today = await harness.today()
        payment = PaymentReceived(payment_id="BANK-1", amount=Decimal("300.00"), received_on=today)
        for _ in range(3):
            await handle.signal(InvoiceDunning.payment_received, payment)
        # Same event id, different payment id: a replayed billing event, ignored as a whole.
        replayed = PaymentReceived(event_id="evt-7", payment_id="BANK-2", amount=Decimal("100.00"), received_on=today)
        await handle.signal(InvoiceDunning.payment_received, replayed)
        await handle.signal(InvoiceDunning.payment_received, replayed.model_copy(update={"payment_id": "BANK-3"}))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert status.paid == Decimal("400.00")
    assert status.balance == Decimal("800.00")
    assert [a.step for a in status.actions].count("payment_received") == 2


async def test_reversal_after_settlement_reopens_the_case(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, at_step(due, 1))
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="P1", amount=invoice.amount, received_on=await harness.today()),
        )
        await advance_to(harness, at_step(due, 12))
        settled = await handle.query(InvoiceDunning.status)
        reopened_on = await harness.today()
        await handle.signal(
            InvoiceDunning.payment_reversed, PaymentReversed(payment_id="P1", reason="AM04 insufficient funds")
        )
        await handle.signal(
            InvoiceDunning.payment_reversed, PaymentReversed(payment_id="P1", reason="duplicate bank line")
        )
        reopened = await handle.query(InvoiceDunning.status)
        await advance_to(harness, at_step(due, 25))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert settled.stage is Stage.SETTLED
    assert reopened.stage is Stage.LEVEL_1
    assert reopened.balance == invoice.amount
    done_before = [a.step for a in settled.actions if a.channel not in ("bank",)]
    # The ladder resumes at the step after the last one taken, from the reversal day: no restart,
    # no burst of the steps whose dates passed while the case was settled.
    expected_next = STANDARD[[s.name for s in STANDARD].index(done_before[-1]) + 1].name
    names = {s.name for s in STANDARD}
    reopen_at = next(i for i, a in enumerate(status.actions) if a.step == "reopened")
    resumed = [a for a in status.actions[reopen_at:] if a.step in names]
    assert resumed[0].step == expected_next
    assert paris_date(resumed[0].at) >= reopened_on
    assert [a.step for a in status.actions].count("payment_reversed") == 1
    ladder_steps = [a.step for a in status.actions if a.step in names]
    assert len(ladder_steps) == len(set(ladder_steps)), "a step ran twice"


async def test_reversal_before_its_payment_is_kept_and_applied(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        await handle.signal(InvoiceDunning.payment_reversed, PaymentReversed(payment_id="P9", reason="returned"))
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="P9", amount=invoice.amount, received_on=await harness.today()),
        )
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert status.paid == Decimal("0.00")
    assert status.stage is Stage.SCHEDULED
