"""Dispute, installment plan, promise to pay and cancellation pause or end the ladder."""

from datetime import timedelta
from decimal import Decimal

from domain.calendar import add_business_days, paris_date, send_slot
from domain.models import (
    CaseStatus,
    DisputeOpened,
    DisputeResolved,
    InstallmentPlanAgreed,
    InvoiceCancelled,
    Outcome,
    PaymentReceived,
    PromiseToPay,
    Stage,
)
from tests.conftest import Harness, advance_to, at_step, clear_due_date, close_case, make_invoice, near
from workflows.invoice_dunning import InvoiceDunning


def ladder_steps(status: CaseStatus) -> list[str]:
    return [a.step for a in status.actions if a.channel in ("email", "call", "sms", "registered_letter")]


async def test_dispute_pauses_then_credit_note_lowers_balance_and_resumes_after_3_days(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, at_step(due, 1))
        await handle.signal(InvoiceDunning.dispute_opened, DisputeOpened(reason="two pallets missing"))
        await handle.signal(InvoiceDunning.dispute_opened, DisputeOpened(reason="repeated"))
        await advance_to(harness, at_step(due, 40))
        paused = await handle.query(InvoiceDunning.status)
        resolved_on = await harness.today()
        await handle.signal(
            InvoiceDunning.dispute_resolved, DisputeResolved(outcome="credit_note", credited_amount=Decimal("200.00"))
        )
        resumed = await handle.query(InvoiceDunning.status)
        await advance_to(harness, send_slot(resolved_on + timedelta(days=20)))
        later = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert paused.stage is Stage.DISPUTED
    assert paused.next_action is None
    # Nothing was sent during the 38 days of dispute.
    assert ladder_steps(paused) == ["preventive_email", "preventive_call", "level1_email"]
    assert [a.step for a in paused.actions].count("dispute_opened") == 1
    assert resumed.stage is Stage.LEVEL_1
    assert resumed.credited == Decimal("200.00")
    assert resumed.balance == Decimal("1000.00")
    assert resumed.next_action is not None
    assert resumed.next_action.step == "level1_call"
    assert near(resumed.next_action.at, send_slot(resolved_on + timedelta(days=3)))
    # Spacing kept after the pause: level1_call, then the follow-up 3 days later, then level 2.
    assert ladder_steps(later)[3:6] == ["level1_call", "level1_followup_email", "level2_email"]
    level2 = next(r for r in harness.sendgrid.requests if r["custom_args"]["step"] == "level2_email")
    assert "Avoir : 200,00\xa0€" in level2["text"]
    assert "Reste dû : 1\u202f000,00\xa0€" in level2["text"]


async def test_dispute_rejected_resumes_the_ladder(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, 8))
        await handle.signal(InvoiceDunning.dispute_opened, DisputeOpened(reason="price"))
        await advance_to(harness, at_step(due, 12))
        await handle.signal(InvoiceDunning.dispute_resolved, DisputeResolved(outcome="rejected"))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert status.stage is Stage.LEVEL_2
    assert status.balance == Decimal("1200.00")
    assert status.next_action is not None
    assert paris_date(status.next_action.at) >= paris_date(status.actions[-1].at) + timedelta(days=3)


async def test_installment_plan_kept_settles_the_invoice(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    first, second = due + timedelta(days=20), due + timedelta(days=50)
    plan = InstallmentPlanAgreed(
        installments=[{"due_on": first, "amount": "600.00"}, {"due_on": second, "amount": "600.00"}]
    )
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, at_step(due, 4))
        await handle.signal(InvoiceDunning.installment_plan_agreed, plan)
        await handle.signal(InvoiceDunning.installment_plan_agreed, plan)
        await advance_to(harness, send_slot(first - timedelta(days=1)))
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="I1", amount=Decimal("600.00"), received_on=first - timedelta(days=1)),
        )
        await advance_to(harness, send_slot(first + timedelta(days=10)))
        during = await handle.query(InvoiceDunning.status)
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="I2", amount=Decimal("600.00"), received_on=second),
        )
        result = await handle.result()
        final = await handle.query(InvoiceDunning.status)
    assert during.stage is Stage.INSTALLMENT_PLAN
    assert during.next_action is not None
    assert during.next_action.step == "installment_check"
    assert result.outcome is Outcome.SETTLED
    assert [a.step for a in final.actions].count("installment_plan_agreed") == 1
    # No reminder while the plan ran: the last one was before the agreement.
    assert ladder_steps(final) == ["preventive_email", "preventive_call", "level1_email", "level1_call"]


async def test_broken_installment_plan_resumes_escalation_at_level_2(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    first = due + timedelta(days=20)
    plan = InstallmentPlanAgreed(
        installments=[{"due_on": first, "amount": "400.00"}, {"due_on": first + timedelta(days=30), "amount": "800.00"}]
    )
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, at_step(due, 1))
        await handle.signal(InvoiceDunning.installment_plan_agreed, plan)
        # Only part of the first installment arrives.
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="I1", amount=Decimal("100.00"), received_on=first),
        )
        await advance_to(harness, send_slot(first + timedelta(days=4)))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    check = next(a for a in status.actions if a.step == "installment_check")
    assert "missed" in (check.detail or "")
    assert near(check.at, send_slot(first + timedelta(days=3)))
    steps = ladder_steps(status)
    # Level 1 steps not yet taken when the plan started are not sent: escalation goes on at level 2.
    assert steps[:3] == ["preventive_email", "preventive_call", "level1_email"]
    assert steps[3] == "level2_email"
    assert "level1_call" not in steps
    assert status.stage is Stage.LEVEL_2


async def test_promise_kept_settles_without_reminders(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, at_step(due, 1))
        promised_on = due + timedelta(days=15)
        await handle.signal(InvoiceDunning.promise_to_pay, PromiseToPay(promised_on=promised_on))
        await advance_to(harness, send_slot(promised_on))
        promised = await handle.query(InvoiceDunning.status)
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="P", amount=invoice.amount, received_on=promised_on),
        )
        await handle.result()
        final = await handle.query(InvoiceDunning.status)
    assert promised.stage is Stage.PROMISED
    assert promised.next_action is not None
    assert near(promised.next_action.at, send_slot(add_business_days(promised_on, 2)))
    assert ladder_steps(final) == ["preventive_email", "preventive_call", "level1_email"]


async def test_promise_broken_resumes_two_business_days_after_the_date(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, 1))
        promised_on = due + timedelta(days=12)
        await handle.signal(InvoiceDunning.promise_to_pay, PromiseToPay(promised_on=promised_on, amount="1200.00"))
        await advance_to(harness, send_slot(promised_on + timedelta(days=10)))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    resume_at = send_slot(add_business_days(promised_on, 2))
    check = next(a for a in status.actions if a.step == "promise_check")
    assert near(check.at, resume_at)
    assert "not kept" in (check.detail or "")
    first_after = next(a for a in status.actions if a.at >= resume_at and a.channel in ("email", "call"))
    assert first_after.step == "level1_call"
    assert first_after.at < resume_at + timedelta(minutes=1)


async def test_cancellation_ends_the_case_at_once(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, 4))
        sent = len(harness.sendgrid.requests)
        cancelled_on = await harness.today()
        await handle.signal(InvoiceDunning.invoice_cancelled, InvoiceCancelled(reason="credit note issued by billing"))
        result = await handle.result()
        status = await handle.query(InvoiceDunning.status)
    assert result.outcome is Outcome.CANCELLED
    assert result.closed_on == cancelled_on
    assert status.stage is Stage.CANCELLED
    assert status.open_calls == []
    assert len(harness.sendgrid.requests) == sent
