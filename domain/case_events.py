"""What the billing system, the bank and the customer do to a case: payments and reversals,
disputes, plans, promises, calls, invoice changes and cancellation.

Each returns False when the event changes nothing (a duplicate or out of place), so that the
workflow only wakes its loop for real changes. Its fields are those of `CaseCore`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from domain.calendar import add_business_days, paris_date, send_slot
from domain.case_records import (
    REVERSAL_WATCH,
    ZERO,
    PaymentRecord,
)
from domain.case_steering import CaseSteering
from domain.ladder import Channel
from domain.models import (
    ActionStatus,
    CallLogged,
    CallOutcome,
    DisputeOpened,
    DisputeResolved,
    InstallmentPlanAgreed,
    InvoiceCancelled,
    InvoiceUpdated,
    PaymentReceived,
    PaymentReversed,
    PromiseToPay,
)
from domain.pauses import DisputeState, PlanState, PromiseState
from domain.rules import Rule


class CaseEvents(CaseSteering):
    def receive_payment(self, now: datetime, p: PaymentReceived) -> bool:
        if p.payment_id in self.payments:
            return False
        record = PaymentRecord(
            payment_id=p.payment_id, amount=p.amount, received_on=p.received_on, reference=p.reference
        )
        self.payments[p.payment_id] = record
        self._recorded(
            now,
            "payment_received",
            "bank",
            f"{p.amount} {self.invoice.currency} received {p.received_on} ({p.payment_id})",
        )
        if p.payment_id in self.early_reversals:
            record.reversed = True
            self._recorded(
                now,
                "payment_reversed",
                "bank",
                f"{p.payment_id} was reversed before it arrived: {self.early_reversals.pop(p.payment_id)}",
            )
        self._after_balance_change(now, p.received_on)
        return True

    def reverse_payment(self, now: datetime, r: PaymentReversed) -> bool:
        record = self.payments.get(r.payment_id)
        if record is None:
            if r.payment_id in self.early_reversals:
                return False
            self.early_reversals[r.payment_id] = r.reason
            self._recorded(
                now, "payment_reversed", "bank", f"reversal of unknown payment {r.payment_id} kept until it arrives"
            )
            return True
        if record.reversed:
            return False
        record.reversed = True
        self._recorded(
            now,
            "payment_reversed",
            "bank",
            f"{record.amount} {self.invoice.currency} ({r.payment_id}) reversed: {r.reason or 'no reason'}",
        )
        self._after_balance_change(now)
        return True

    def open_dispute(self, now: datetime, d: DisputeOpened) -> bool:
        if self.dispute is not None or self.outcome is not None:
            return False
        self.dispute = DisputeState(reason=d.reason, opened_on=paris_date(now))
        self._recorded(now, "dispute_opened", "customer", d.reason)
        return True

    def resolve_dispute(self, now: datetime, d: DisputeResolved) -> bool:
        if self.dispute is None:
            return False
        self.dispute = None
        detail = "rejected"
        if d.outcome == "credit_note" and d.credited_amount is not None:
            self.credits.append(d.credited_amount)
            detail = f"credit note of {d.credited_amount} {self.invoice.currency}"
        self._recorded(now, "dispute_resolved", "customer", detail)
        resume_day = paris_date(now + timedelta(days=self.policy.pauses.dispute_resume_days))
        self._resume_from(resume_day)
        self._pauses_resume_after(send_slot(resume_day))
        self._after_balance_change(now)
        return True

    def _pauses_resume_after(self, resume_at: datetime) -> None:
        """Checks of a plan or promise that fell due during the dispute wait until it has been over
        as long as the ladder waits."""
        plan, promise = self.plan, self.promise
        plan_moves = plan is not None and plan.check_at(plan.checked) < resume_at
        promise_moves = promise is not None and promise.resume_at < resume_at
        if not (plan_moves or promise_moves) or not self._rules.on(Rule.PAUSES_WAIT_OUT_DISPUTES):
            return
        if plan is not None and plan_moves:
            plan.not_before = resume_at
        if promise is not None and promise_moves:
            promise.resume_at = resume_at

    def agree_plan(self, now: datetime, p: InstallmentPlanAgreed) -> bool:
        if self.plan is not None and self.plan.installments == p.installments:
            return False
        self.plan = PlanState(
            installments=p.installments,
            paid_at_agreement=self.paid + self.credited,
            grace_days=self.policy.pauses.installment_grace_days,
        )
        # A plan supersedes an earlier promise: its own dates now decide.
        self.promise = None
        total = sum((i.amount for i in p.installments), ZERO)
        self._recorded(
            now,
            "installment_plan_agreed",
            "customer",
            f"{len(p.installments)} installments totalling {total} {self.invoice.currency},"
            f" last due {p.installments[-1].due_on}",
        )
        return True

    def promise_payment(self, now: datetime, p: PromiseToPay) -> bool:
        if self.promise is not None and self.promise.promised_on == p.promised_on:
            return False
        resume_day = add_business_days(p.promised_on, self.policy.pauses.promise_grace_business_days)
        self.promise = PromiseState(
            promised_on=p.promised_on,
            amount=p.amount,
            paid_at_promise=self.paid + self.credited,
            resume_at=send_slot(resume_day),
        )
        amount = f"{p.amount} {self.invoice.currency}" if p.amount is not None else "the balance"
        self._recorded(
            now,
            "promise_to_pay",
            "customer",
            f"{amount} promised for {p.promised_on}; reminders paused until {resume_day}",
        )
        return True

    def log_call(self, now: datetime, c: CallLogged) -> bool:
        task = self.open_calls.pop(c.step, None)
        note = f": {c.note}" if c.note else ""
        self.record(
            now,
            c.step,
            Channel.CALL.value,
            ActionStatus.DONE,
            f"{c.outcome.value}{note}" + ("" if task else " (no open call task for this step)"),
        )
        if c.outcome is not CallOutcome.NO_ANSWER:
            self.reached_by_phone = True
        if c.contact is not None:
            self.contact = c.contact
        hold = self.hold
        if hold is not None and c.step == self.steps[hold.index].name and c.outcome is CallOutcome.REACHED:
            # A person confirms the held step did happen (the provider's log, the partner's receipt).
            self.record(now, c.step, self.steps[hold.index].channel.value, ActionStatus.DONE, "confirmed by a person")
            self._advance(now, hold.index)
        elif c.outcome is CallOutcome.INVOICE_NOT_RECEIVED:
            self.resends_requested += 1
        elif c.outcome is CallOutcome.DISPUTED:
            self.open_dispute(now, DisputeOpened(reason=c.note or f"disputed during {c.step}"))
        elif c.outcome is CallOutcome.PROMISED and c.promised_on is not None:
            self.promise_payment(now, PromiseToPay(promised_on=c.promised_on, amount=c.promised_amount))
        return True

    def update_invoice(self, now: datetime, u: InvoiceUpdated) -> bool:
        changes = []
        before = self.steps
        if u.amount is not None and u.amount != self.amount:
            changes.append(f"amount {self.amount} -> {u.amount}")
            self.amount = u.amount
        if u.due_on is not None and u.due_on != self.due_on:
            changes.append(f"due date {self.due_on} -> {u.due_on}")
            # A new due date is a new agreement: the remaining steps are planned from it afresh, but
            # never in the past, where they would all be due at once and skipped as late.
            self.due_on = u.due_on
            self.shift_days = 0
            today = paris_date(now)
            if (
                self.next_index < len(self.steps)
                and self._planned_day(self.next_index) < today
                and self._rules.on(Rule.NEW_DUE_DATE_NEVER_BURSTS)
            ):
                self._resume_from(today)
        if not changes:
            return False
        self._recorded(now, "invoice_updated", "billing", ", ".join(changes))
        # A new amount may cross a band of the policy: the case follows the ladder of its new amount.
        self._relink(now, before)
        self._after_balance_change(now)
        return True

    def cancel(self, now: datetime, c: InvoiceCancelled) -> bool:
        if self.cancel_reason is not None or self.outcome is not None:
            return False
        self.cancel_reason = c.reason
        self._recorded(now, "invoice_cancelled", "billing", c.reason)
        return True

    def _after_balance_change(self, now: datetime, on: date | None = None) -> None:
        if self.balance <= 0 and self.settled_at is None:
            self.settled_at = now
            self.settled_on = on or paris_date(now)
            self.open_calls.clear()
            self._recorded(
                now,
                "settled",
                "bank",
                f"balance {self.balance} {self.invoice.currency}; watching {REVERSAL_WATCH.days} days"
                " for a reversal before closing",
            )
        elif self.balance > 0 and self.settled_at is not None:
            self.settled_at = None
            self.settled_on = None
            self._recorded(
                now, "reopened", "bank", f"balance back to {self.balance} {self.invoice.currency}: reminders resume"
            )
            self._resume_from(paris_date(now))
