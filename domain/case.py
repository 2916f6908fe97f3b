"""The state of one invoice case and every rule that changes it, as pure, deterministic code.

The workflow owns one `CaseState`, feeds it signals and the clock, asks `decide()` what to do next and
reports back what the channels did. Keeping the rules here (no Temporal calls) lets them be unit-tested
directly and keeps the workflow a thin orchestration shell. The whole state is one serialisable value,
carried across continue-as-new as is.

Time model: the ladder is a list of steps with offsets from the due date. A pause (dispute, promise,
installment plan) does not drop or burst steps: when it ends, `shift_days` pushes the rest of the
ladder later so the next step lands no sooner than the resume date and the spacing between steps is
kept ("resumes where it stopped").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, Field

from domain.calendar import (
    add_business_days,
    in_send_window,
    next_send_opportunity,
    paris_date,
    send_slot,
)
from domain.delivery import MessageRequest, PaymentLine, message_id_for
from domain.ladder import (
    INVOICE_RESEND,
    RESUME_AFTER_BROKEN_PLAN,
    Channel,
    Step,
    first_index_at_level,
    ladder,
)
from domain.models import (
    Action,
    ActionStatus,
    CallLogged,
    CallOutcome,
    CaseStatus,
    DisputeOpened,
    DisputeResolved,
    DunningResult,
    Installment,
    InstallmentPlanAgreed,
    InvoiceCancelled,
    InvoiceInput,
    InvoiceUpdated,
    NextAction,
    Outcome,
    PaymentReceived,
    PaymentReversed,
    PromiseToPay,
    Stage,
)

ZERO = Decimal("0.00")
REVERSAL_WATCH = timedelta(days=14)
DISPUTE_RESUME_DELAY = timedelta(days=3)
INSTALLMENT_GRACE = timedelta(days=3)
PROMISE_GRACE_BUSINESS_DAYS = 2
FORMAL_NOTICE_DEADLINE = timedelta(days=8)


class PaymentRecord(BaseModel):
    payment_id: str
    amount: Decimal
    received_on: date
    reference: str | None = None
    reversed: bool = False


class DisputeState(BaseModel):
    reason: str
    opened_on: date


class PromiseState(BaseModel):
    promised_on: date
    amount: Decimal | None
    paid_at_promise: Decimal
    resume_at: datetime


class PlanState(BaseModel):
    installments: list[Installment]
    paid_at_agreement: Decimal
    checked: int = 0

    def check_at(self, index: int) -> datetime:
        return send_slot(self.installments[index].due_on + INSTALLMENT_GRACE)

    def due_by(self, index: int) -> Decimal:
        return sum((i.amount for i in self.installments[: index + 1]), ZERO)


class CallTask(BaseModel):
    step: str
    opened_at: datetime


# --------------------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Close:
    outcome: Outcome


@dataclass(frozen=True)
class Wait:
    until: datetime | None  # None: only a signal can move the case on
    step: str | None  # what happens when the wait ends, for status and the timer summary


@dataclass(frozen=True)
class RunStep:
    index: int
    skipped: tuple[int, ...]


@dataclass(frozen=True)
class ResendInvoice:
    occurrence: int


Decision = Close | Wait | RunStep | ResendInvoice


class CaseState(BaseModel):
    invoice: InvoiceInput
    ladder_version: str
    amount: Decimal
    due_on: date
    next_index: int = 0
    shift_days: int = 0
    ladder_stage: Stage = Stage.SCHEDULED
    payments: dict[str, PaymentRecord] = Field(default_factory=dict)
    # A reversal that arrived before its payment (bank files can be imported out of order).
    early_reversals: dict[str, str | None] = Field(default_factory=dict)
    credits: list[Decimal] = Field(default_factory=list)
    dispute: DisputeState | None = None
    promise: PromiseState | None = None
    plan: PlanState | None = None
    open_calls: dict[str, CallTask] = Field(default_factory=dict)
    resends_requested: int = 0
    resends_done: int = 0
    cancel_reason: str | None = None
    settled_at: datetime | None = None
    outcome: Outcome | None = None
    closed_on: date | None = None
    actions: list[Action] = Field(default_factory=list)
    seen_event_ids: list[str] = Field(default_factory=list)

    @classmethod
    def open(cls, invoice: InvoiceInput, ladder_version: str) -> CaseState:
        return cls(invoice=invoice, ladder_version=ladder_version, amount=invoice.amount, due_on=invoice.due_on)

    # ------------------------------------------------------------------------------ derived values

    @property
    def steps(self) -> tuple[Step, ...]:
        return ladder(self.ladder_version, self.invoice.customer.segment)

    @property
    def paid(self) -> Decimal:
        return sum((p.amount for p in self.payments.values() if not p.reversed), ZERO)

    @property
    def credited(self) -> Decimal:
        return sum(self.credits, ZERO)

    @property
    def balance(self) -> Decimal:
        return self.amount - self.paid - self.credited

    @property
    def stage(self) -> Stage:
        if self.outcome is not None:
            return Stage(self.outcome.value)
        if self.cancel_reason is not None:
            return Stage.CANCELLED
        if self.balance <= 0:
            return Stage.SETTLED
        if self.dispute is not None:
            return Stage.DISPUTED
        if self.plan is not None:
            return Stage.INSTALLMENT_PLAN
        if self.promise is not None:
            return Stage.PROMISED
        return self.ladder_stage

    def step_at(self, index: int) -> datetime:
        step = self.steps[index]
        return send_slot(self.due_on + timedelta(days=step.offset_days + self.shift_days))

    def days_overdue(self, now: datetime) -> int:
        as_of = self.closed_on or paris_date(now)
        return max(0, (as_of - self.due_on).days)

    # ---------------------------------------------------------------------------------- decisions

    def decide(self, now: datetime) -> Decision:
        """What the case does next. Call `on_clock(now)` first so time-driven changes are applied."""
        if self.outcome is not None:
            return Close(self.outcome)
        if self.cancel_reason is not None:
            return Close(Outcome.CANCELLED)
        if self.balance <= 0:
            assert self.settled_at is not None
            return Wait(self.settled_at + REVERSAL_WATCH, "close_settled")
        if self.dispute is not None:
            return Wait(None, None)
        if self.plan is not None:
            return Wait(self.plan.check_at(self.plan.checked), "installment_check")
        if self.promise is not None:
            return Wait(self.promise.resume_at, "promise_check")
        if self.resends_done < self.resends_requested:
            if not in_send_window(now):
                return Wait(next_send_opportunity(now), INVOICE_RESEND)
            return ResendInvoice(self.resends_done)
        due = [i for i in range(self.next_index, len(self.steps)) if self.step_at(i) <= now]
        if not due:
            return Wait(self.step_at(self.next_index), self.steps[self.next_index].name)
        if not in_send_window(now):
            return Wait(next_send_opportunity(now), self.steps[due[-1]].name)
        # A late start or a long outage never bursts: only the latest due step runs.
        return RunStep(due[-1], tuple(due[:-1]))

    def skipped_notice(self, decision: RunStep) -> int | None:
        """The formal notice a catch-up would skip on its way to the litigation hand-over, if any.

        A case caught up past J+60 (late import, long outage) would otherwise be handed over without
        ever having been put on notice."""
        if self.steps[decision.index].channel is not Channel.LITIGATION:
            return None
        notices = [i for i in decision.skipped if self.steps[i].stage is Stage.FORMAL_NOTICE]
        return notices[-1] if notices else None

    def notice_first(self, decision: RunStep, notice: int, now: datetime) -> RunStep:
        """Run the formal notice now; the hand-over follows at the ladder's usual distance after it."""
        planned = self.due_on + timedelta(days=self.steps[notice].offset_days + self.shift_days)
        self.shift_days += (paris_date(now) - planned).days
        return RunStep(notice, tuple(i for i in decision.skipped if i < notice))

    def on_clock(self, now: datetime) -> None:
        """Apply what the passing of time decides: closing, lapsed promises, installment checks."""
        if self.outcome is not None:
            return
        today = paris_date(now)
        if self.cancel_reason is not None:
            self._close(Outcome.CANCELLED, today)
        elif self.balance <= 0:
            if self.settled_at is not None and now >= self.settled_at + REVERSAL_WATCH:
                self._close(Outcome.SETTLED, today)
        else:
            self._check_plan(now)
            self._check_promise(now)

    def _check_plan(self, now: datetime) -> None:
        while self.plan is not None and now >= self.plan.check_at(self.plan.checked):
            plan, n = self.plan, self.plan.checked
            installment = plan.installments[n]
            if self.paid + self.credited - plan.paid_at_agreement >= plan.due_by(n):
                plan.checked += 1
                self.record(
                    now,
                    "installment_check",
                    "bank",
                    ActionStatus.DONE,
                    f"installment {n + 1} of {installment.amount} due {installment.due_on} paid",
                )
                if plan.checked == len(plan.installments):
                    self.plan = None
                    self._resume_from(paris_date(now))
            else:
                self.plan = None
                self.record(
                    now,
                    "installment_check",
                    "bank",
                    ActionStatus.DONE,
                    f"installment {n + 1} of {installment.amount} due {installment.due_on} missed:"
                    " plan broken, escalation resumes at level 2",
                )
                level2 = first_index_at_level(self.steps, RESUME_AFTER_BROKEN_PLAN)
                # Never back: steps already sent at level 2 or above are not sent again.
                self.next_index = max(self.next_index, level2)
                self._resume_from(paris_date(now))

    def _check_promise(self, now: datetime) -> None:
        promise = self.promise
        if promise is None or now < promise.resume_at:
            return
        paid_since = self.paid + self.credited - promise.paid_at_promise
        kept = promise.amount is not None and paid_since >= promise.amount
        self.promise = None
        self.record(
            now,
            "promise_check",
            "bank",
            ActionStatus.DONE,
            f"promise for {promise.promised_on} {'kept' if kept else 'not kept'}:"
            f" {self.balance} {self.invoice.currency} still due, reminders resume",
        )
        self._resume_from(paris_date(now))

    def _resume_from(self, day: date) -> None:
        if self.next_index >= len(self.steps):
            return
        planned = self.due_on + timedelta(days=self.steps[self.next_index].offset_days + self.shift_days)
        if planned < day:
            self.shift_days += (day - planned).days

    def _close(self, outcome: Outcome, today: date) -> None:
        self.outcome = outcome
        self.closed_on = today
        self.open_calls.clear()

    # ------------------------------------------------------------------------------ step results

    def mark_skipped(self, now: datetime, index: int, why: str) -> None:
        step = self.steps[index]
        self.record(now, step.name, step.channel.value, ActionStatus.SKIPPED, why)

    def complete_step(self, now: datetime, index: int, status: ActionStatus, detail: str | None) -> None:
        step = self.steps[index]
        self.record(now, step.name, step.channel.value, status, detail)
        self.next_index = index + 1
        self.ladder_stage = step.stage
        if step.channel is Channel.CALL and status is ActionStatus.OPEN:
            self.open_calls[step.name] = CallTask(step=step.name, opened_at=now)
        if step.channel is Channel.LITIGATION:
            self._close(Outcome.LITIGATION, paris_date(now))

    def complete_resend(self, now: datetime, status: ActionStatus, detail: str | None) -> None:
        self.resends_done += 1
        self.record(now, INVOICE_RESEND, Channel.EMAIL.value, status, detail)

    def message(
        self, now: datetime, step: str, channel: Channel, workflow_id: str, occurrence: int = 0
    ) -> MessageRequest:
        today = paris_date(now)
        return MessageRequest(
            message_id=message_id_for(workflow_id, step, occurrence),
            workflow_id=workflow_id,
            step=step,
            channel=channel,
            invoice_id=self.invoice.invoice_id,
            issued_on=self.invoice.issued_on,
            due_on=self.due_on,
            amount=self.amount,
            credited=self.credited,
            paid=self.paid,
            balance=self.balance,
            currency=self.invoice.currency,
            payment_reference=self.invoice.payment_reference,
            customer=self.invoice.customer,
            as_of=today,
            days_overdue=self.days_overdue(now),
            payments=sorted(
                (
                    PaymentLine(received_on=p.received_on, amount=p.amount)
                    for p in self.payments.values()
                    if not p.reversed
                ),
                key=lambda line: line.received_on,
            ),
            deadline=today + FORMAL_NOTICE_DEADLINE if step == "formal_notice" else None,
        )

    # ------------------------------------------------------------------------------------ signals
    # Each returns False when the signal changes nothing (a duplicate or out of place) so that the
    # workflow only wakes its loop for real changes.

    def accept_event(self, event_id: str | None) -> bool:
        if event_id is None:
            return True
        if event_id in self.seen_event_ids:
            return False
        self.seen_event_ids.append(event_id)
        return True

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
        self._after_balance_change(now)
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
        self._resume_from(paris_date(now + DISPUTE_RESUME_DELAY))
        self._after_balance_change(now)
        return True

    def agree_plan(self, now: datetime, p: InstallmentPlanAgreed) -> bool:
        if self.plan is not None and self.plan.installments == p.installments:
            return False
        self.plan = PlanState(installments=p.installments, paid_at_agreement=self.paid + self.credited)
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
        resume_day = add_business_days(p.promised_on, PROMISE_GRACE_BUSINESS_DAYS)
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
        if c.outcome is CallOutcome.INVOICE_NOT_RECEIVED:
            self.resends_requested += 1
        elif c.outcome is CallOutcome.DISPUTED:
            self.open_dispute(now, DisputeOpened(reason=c.note or f"disputed during {c.step}"))
        return True

    def update_invoice(self, now: datetime, u: InvoiceUpdated) -> bool:
        changes = []
        if u.amount is not None and u.amount != self.amount:
            changes.append(f"amount {self.amount} -> {u.amount}")
            self.amount = u.amount
        if u.due_on is not None and u.due_on != self.due_on:
            changes.append(f"due date {self.due_on} -> {u.due_on}")
            # A new due date is a new agreement: the remaining steps are planned from it afresh.
            self.due_on = u.due_on
            self.shift_days = 0
        if not changes:
            return False
        self._recorded(now, "invoice_updated", "billing", ", ".join(changes))
        self._after_balance_change(now)
        return True

    def cancel(self, now: datetime, c: InvoiceCancelled) -> bool:
        if self.cancel_reason is not None or self.outcome is not None:
            return False
        self.cancel_reason = c.reason
        self._recorded(now, "invoice_cancelled", "billing", c.reason)
        return True

    def _after_balance_change(self, now: datetime) -> None:
        if self.balance <= 0 and self.settled_at is None:
            self.settled_at = now
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
            self._recorded(
                now, "reopened", "bank", f"balance back to {self.balance} {self.invoice.currency}: reminders resume"
            )
            self._resume_from(paris_date(now))

    # ------------------------------------------------------------------------------------ reading

    def _recorded(self, now: datetime, step: str, channel: str, detail: str) -> None:
        """An event that changed the case (payment, dispute, ...), as opposed to a ladder step."""
        self.record(now, step, channel, ActionStatus.RECORDED, detail)

    def record(self, now: datetime, step: str, channel: str, status: ActionStatus, detail: str | None) -> None:
        self.actions.append(Action(step=step, channel=channel, at=now, status=status, detail=detail))

    def status(self, now: datetime) -> CaseStatus:
        decision = self.decide(now)
        next_action = None
        if isinstance(decision, Wait) and decision.step is not None and decision.until is not None:
            next_action = NextAction(step=decision.step, at=decision.until)
        elif isinstance(decision, RunStep):
            next_action = NextAction(step=self.steps[decision.index].name, at=now)
        elif isinstance(decision, ResendInvoice):
            next_action = NextAction(step=INVOICE_RESEND, at=now)
        return CaseStatus(
            invoice_id=self.invoice.invoice_id,
            customer_id=self.invoice.customer.customer_id,
            stage=self.stage,
            amount=self.amount,
            currency=self.invoice.currency,
            due_on=self.due_on,
            paid=self.paid,
            credited=self.credited,
            balance=self.balance,
            days_overdue=self.days_overdue(now),
            next_action=next_action,
            open_calls=sorted(self.open_calls),
            actions=list(self.actions),
            outcome=self.outcome,
        )

    def result(self) -> DunningResult:
        assert self.outcome is not None
        assert self.closed_on is not None
        return DunningResult(
            outcome=self.outcome,
            balance=self.balance,
            closed_on=self.closed_on,
            overpayment=max(-self.balance, ZERO),
        )
