"""The core of a case: its fields, what derives from them, when it takes which step, and reading it.

Time model: the ladder is a list of steps with offsets from the due date (domain.schedule). A pause
(dispute, promise, installment plan) does not drop or burst steps: when it ends, `shift_days` pushes
the rest of the ladder later so the next step lands no sooner than the resume date and the spacing
between steps is kept ("resumes where it stopped"). Only a case that is late (started late, or a
worker outage) skips steps: it runs the latest one due and records the others as skipped.

Rule changes that running cases see are asked of `rules` (domain.rules) where they decide differently.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Self, TypeVar

from pydantic import BaseModel, Field, PrivateAttr

from domain import schedule
from domain.calendar import (
    PARIS,
    SendHours,
    add_business_days,
    in_send_window,
    next_send_opportunity,
    paris_date,
    send_slot,
)
from domain.case_records import (
    CHANNEL_NAMES,
    HAPPENED,
    LEGAL_STAGES,
    LIMITATION_TASK,
    LIMITATION_WARNING,
    LIMITATION_YEARS,
    NOTICE_PRESENTED,
    POSTAL_DELAY_BUSINESS_DAYS,
    REVERSAL_WATCH,
    ZERO,
    CallTask,
    Hold,
    PaymentRecord,
)
from domain.decisions import Close, Decision, ResendInvoice, RunStep, TrackLetter, Wait
from domain.delivery import MessageRequest, PaymentLine, message_id_for
from domain.ladder import (
    INVOICE_RESEND,
    RESUME_AFTER_BROKEN_PLAN,
    Channel,
    Step,
    first_index_at_level,
)
from domain.models import (
    Action,
    ActionStatus,
    CaseStatus,
    DunningResult,
    InvoiceInput,
    NextAction,
    Outcome,
    PaymentMade,
    Segment,
    SentMessage,
    Stage,
)
from domain.pauses import DisputeState, PlanState, PromiseState
from domain.policy import FORMAL_NOTICE, Policy
from domain.rules import ALL_ON, Rule, Rules
from domain.tracking import MessageEvent, Watch

T = TypeVar("T")
# Events by which the debtor acknowledges the debt, which restarts limitation (Code civil 2240).
ACKNOWLEDGING = frozenset({"promise_to_pay", "installment_plan_agreed"})


class CaseCore(BaseModel):
    """The fields of a case, what derives from them, its decisions and its steps; events and
    deliveries are applied by the subclasses of `domain.case_events` and `domain.case_deliveries`."""

    invoice: InvoiceInput
    # The policy the case started with (or was moved to by `policy_changed`), content and all.
    policy: Policy
    segment: Segment
    amount: Decimal
    due_on: date
    next_index: int = 0
    shift_days: int = 0
    ladder_stage: Stage = Stage.SCHEDULED
    # The Paris day the last ladder step ran: the next one is planned no earlier than the day after.
    last_step_on: date | None = None
    hold: Hold | None = None
    payments: dict[str, PaymentRecord] = Field(default_factory=dict)
    # A reversal that arrived before its payment (bank files can be imported out of order).
    early_reversals: dict[str, str | None] = Field(default_factory=dict)
    credits: list[Decimal] = Field(default_factory=list)
    dispute: DisputeState | None = None
    promise: PromiseState | None = None
    plan: PlanState | None = None
    open_calls: dict[str, CallTask] = Field(default_factory=dict)
    reached_by_phone: bool = False
    contact: str | None = None
    # Every message sent, by message id, with what its provider reported since (the case's proof).
    messages: dict[str, SentMessage] = Field(default_factory=dict)
    # Registered letters whose provider is polled for their status and proofs, by message id.
    watches: dict[str, Watch] = Field(default_factory=dict)
    unusable: list[Channel] = Field(default_factory=list)
    # Provider reports about a message not recorded yet (it lands in the same task as the send).
    early_events: dict[str, MessageEvent] = Field(default_factory=dict)
    # The limitation date a person was last warned of (a later acknowledgement moves it and warns again).
    limitation_warned_for: date | None = None
    # The step whose message a provider is being asked to deliver, and since when (retries included).
    sending: NextAction | None = None
    resends_requested: int = 0
    resends_done: int = 0
    cancel_reason: str | None = None
    settled_at: datetime | None = None
    # The day the balance reached zero: the payment's own date when a payment settled it.
    settled_on: date | None = None
    outcome: Outcome | None = None
    closed_on: date | None = None
    actions: list[Action] = Field(default_factory=list)
    seen_event_ids: list[str] = Field(default_factory=list)
    # Events that arrived before they applied (a resolution before its dispute): a retry may apply.
    unapplied_event_ids: list[str] = Field(default_factory=list)
    # Steps a person approved (policy `approval = true`), and the one now waiting for a go-ahead.
    approved: list[str] = Field(default_factory=list)
    awaiting_approval: str | None = None
    _rules: Rules = PrivateAttr(default=ALL_ON)
    _ladder: tuple[tuple[Policy, Segment, Decimal], tuple[Step, ...]] | None = PrivateAttr(default=None)

    @classmethod
    def open(cls, invoice: InvoiceInput, policy: Policy, rules: Rules = ALL_ON) -> Self:
        case = cls(
            invoice=invoice,
            policy=policy,
            segment=invoice.customer.segment,
            amount=invoice.amount,
            due_on=invoice.due_on,
        )
        case._rules = rules
        return case

    def _choose(self, rule: Rule, new: T, old: T) -> T:
        """`new`, unless it differs from `old` and this case is one that keeps the old rule."""
        if new == old:
            return new
        return new if self._rules.on(rule) else old

    # ------------------------------------------------------------------------------ derived values

    @property
    def steps(self) -> tuple[Step, ...]:
        """The ladder of the case's policy for its segment and amount (asked at every decision)."""
        key = (self.policy, self.segment, self.amount)
        # By identity: comparing two policies field by field at every decision would cost more.
        if self._ladder is None or self._ladder[0][0] is not self.policy or self._ladder[0][1:] != key[1:]:
            self._ladder = (key, self.policy.ladder_for(self.segment, self.amount))
        return self._ladder[1]

    @property
    def handover(self) -> str | None:
        """Where the policy hands this case over, or None for the operator's setting."""
        destination = self.policy.handover_for(self.segment, self.amount)
        return destination.value if destination is not None else None

    @property
    def hours(self) -> SendHours:
        return self.policy.send_hours.window

    @property
    def notice_deadline(self) -> timedelta:
        return timedelta(days=self.policy.formal_notice_deadline_days)

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
        if self.awaiting_approval is not None:
            return Stage.AWAITING_APPROVAL
        return self.ladder_stage

    def schedule(self, spread: bool = True) -> dict[int, datetime]:
        """When each remaining step runs, by ladder index (domain.schedule). The hand-over never
        comes before the deadline the formal notice gave (`_handover_floor`)."""
        slots = schedule.slots(
            self.steps, self.due_on, self.shift_days, self.next_index, self.last_step_on, spread, self.hours
        )
        for index, at in slots.items():
            if self.steps[index].channel is Channel.LITIGATION:
                earliest = self._handover_floor(at)
                if earliest is not None and at < earliest:
                    slots[index] = earliest
        return slots

    def _handover_floor(self, planned: datetime | None = None) -> datetime | None:
        """The first morning after the deadline the notice gave, counted from its presentation; while
        no presentation is reported (a provider that never says, the outbox), from the day it can
        have been presented at the earliest. A hand-over `planned` later than that is not asked about."""
        presented = self._notice_presented_on()
        if presented is None:
            estimated = self._notice_earliest_presentation()
            if estimated is None:
                return None
            floor = send_slot(add_business_days(estimated + self.notice_deadline, 1), self.hours)
            # Before the rule, a late case's hand-over could follow an unreported notice the next day.
            if planned is not None and planned >= floor:
                return floor
            return floor if self._rules.on(Rule.NOTICE_DEADLINE_WITHOUT_PRESENTATION) else None
        return send_slot(add_business_days(presented + self.notice_deadline, 1), self.hours)

    def _notice_earliest_presentation(self) -> date | None:
        """A registered notice is presented POSTAL_DELAY_BUSINESS_DAYS after posting at the soonest;
        one sent by e-mail (no postal address) the day it was sent."""
        days = [
            paris_date(m.sent_at)
            if m.channel != Channel.REGISTERED_LETTER.value
            else add_business_days(paris_date(m.sent_at), POSTAL_DELAY_BUSINESS_DAYS)
            for m in self.messages.values()
            if m.step == FORMAL_NOTICE and m.status in HAPPENED
        ]
        return max(days, default=None)

    def _notice_presented_on(self) -> date | None:
        days = [
            paris_date(m.outcome_at)
            for m in self.messages.values()
            if m.step == FORMAL_NOTICE and m.letter_outcome in NOTICE_PRESENTED and m.outcome_at is not None
        ]
        return max(days, default=None)

    def _planned_day(self, index: int) -> date:
        return schedule.planned_day(self.due_on, self.steps[index], self.shift_days)

    @property
    def limitation_on(self) -> date:
        """The day the claim is time-barred: its period from the due date or the debtor's last
        acknowledgement of the debt (a payment, a promise, a plan)."""
        acknowledged = [p.received_on for p in self.payments.values() if not p.reversed]
        acknowledged += [
            paris_date(a.at) for a in self.actions if a.step in ACKNOWLEDGING and a.status is ActionStatus.RECORDED
        ]
        start = max([self.due_on, *acknowledged])
        year = start.year + LIMITATION_YEARS[self.invoice.customer.kind]
        if year > date.max.year:
            # Past the end of the calendar: the steps fail first, naming the date they cannot place.
            return date.max
        try:
            return start.replace(year=year)
        except ValueError:  # from 29 February into a year without one
            return start.replace(year=year, day=28)

    @property
    def overdue_until(self) -> date | None:
        """The day the debt stopped being overdue: settled, cancelled or handed over."""
        if self.balance <= 0 and self.settled_on is not None:
            return self.settled_on
        return self.closed_on

    def days_overdue(self, now: datetime) -> int:
        as_of = self.overdue_until or paris_date(now)
        return max(0, (as_of - self.due_on).days)

    def happened(self, step: str) -> bool:
        return any(a.step == step and a.status in HAPPENED for a in self.actions)

    def channels_used(self) -> list[Channel]:
        """The channels by which the customer was really reached so far, for what a message may claim:
        a call task counts only once a person logged that they spoke to the customer."""
        used = {
            Channel(a.channel) for a in self.actions if a.status is ActionStatus.SENT and a.channel in CHANNEL_NAMES
        }
        if self.reached_by_phone:
            used.add(Channel.CALL)
        return sorted(used)

    # ---------------------------------------------------------------------------------- decisions

    def decide(self, now: datetime) -> Decision:
        """What the case does next. Call `on_clock(now)` first so time-driven changes are applied."""
        decision = self._watch_limitation(self._next_step(now))
        if isinstance(decision, Close) or self.balance <= 0 or not self.watches:
            return decision
        # Asking a provider about a letter goes on whatever the ladder waits for (a dispute, a plan).
        message_id, at = min(((m, w.next_at()) for m, w in self.watches.items()), key=_watch_time)
        if at is not None and at <= now:
            return TrackLetter(message_id)
        if at is not None and isinstance(decision, Wait) and (decision.until is None or at < decision.until):
            return Wait(at, "track_letter")
        return decision

    def _watch_limitation(self, decision: Decision) -> Decision:
        """A case that waits long (a dispute, a plan, a person) wakes in time to warn of limitation."""
        if not isinstance(decision, Wait) or self.balance <= 0 or self.limitation_warned_for == self.limitation_on:
            return decision
        warn_at = send_slot(self.limitation_on - LIMITATION_WARNING)
        if decision.until is not None and decision.until <= warn_at:
            return decision
        return Wait(warn_at, "limitation_warning") if self._rules.on(Rule.LIMITATION_WATCHED) else decision

    def _next_step(self, now: datetime, gated: bool = True) -> Decision:
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
            if not in_send_window(now, self.hours):
                return Wait(next_send_opportunity(now, self.hours), INVOICE_RESEND)
            return ResendInvoice(self.resends_done)
        if self.hold is not None:
            return self._retry_held(now, self.hold)
        if self.next_index >= len(self.steps):
            return Wait(None, None)
        decision = self._choose(Rule.EVERY_STEP_ON_TIME, self._due_step(now, True), self._due_step(now, False))
        if isinstance(decision, RunStep):
            decision = self._notice_before_litigation(decision, now)
            if gated and self._needs_approval(decision.index):
                # Nothing wakes a case waiting for a person but the person (or a payment, a dispute).
                return Wait(None, None)
        return decision

    def _needs_approval(self, index: int) -> bool:
        step = self.steps[index]
        return step.approval and step.name not in self.approved

    def _ask_approval(self, now: datetime) -> None:
        """A gated step that fell due waits, visibly: stage, an open task, a line in the trail."""
        if self.awaiting_approval is not None or not any(s.approval for s in self.steps):
            return
        decision = self._next_step(now, gated=False)
        if not isinstance(decision, RunStep) or not self._needs_approval(decision.index):
            return
        step = self.steps[decision.index]
        self.awaiting_approval = step.name
        self.open_calls[approval_task(step.name)] = CallTask(step=approval_task(step.name), opened_at=now)
        self.record(
            now,
            step.name,
            step.channel.value,
            ActionStatus.OPEN,
            "due, waits for a person's approval (dunning approve, or the escalation_approved signal)",
        )

    def _due_step(self, now: datetime, spread: bool) -> Wait | RunStep:
        planned = self.schedule(spread)
        due = [i for i, at in planned.items() if at <= now]
        if not due:
            return Wait(planned[self.next_index], self.steps[self.next_index].name)
        if not in_send_window(now, self.hours):
            return Wait(next_send_opportunity(now, self.hours), self.steps[due[-1]].name)
        # Only a late case (late start, long outage) has several steps due at once: it never bursts,
        # only the latest due step runs.
        return RunStep(due[-1], tuple(due[:-1]))

    def _retry_held(self, now: datetime, hold: Hold) -> Wait | RunStep:
        name = self.steps[hold.index].name
        if hold.retry_at is None:
            return Wait(None, None)
        retry_at = hold.retry_at
        if self.steps[hold.index].channel is Channel.LITIGATION:
            # A retried hand-over still waits out the deadline the notice gave from its presentation.
            retry_at = max(retry_at, self._handover_floor() or retry_at)
        if now < retry_at:
            return Wait(retry_at, name)
        if not in_send_window(now, self.hours):
            return Wait(next_send_opportunity(now, self.hours), name)
        return RunStep(hold.index, ())

    def _notice_before_litigation(self, decision: RunStep, now: datetime) -> RunStep:
        """No hand-over without a formal notice: a catch-up past J+60 (late import, long outage), or a
        notice skipped or failed before the rule held it, sends the notice first; the hand-over then
        follows at the ladder's usual distance after it."""
        if self.steps[decision.index].channel is not Channel.LITIGATION:
            return decision
        notices = [i for i in decision.skipped if self.steps[i].stage is Stage.FORMAL_NOTICE]
        if notices:
            notice = notices[-1]
            first = RunStep(
                notice, tuple(i for i in decision.skipped if i < notice), self._days_late(notice, paris_date(now))
            )
            return self._choose(Rule.NOTICE_BEFORE_LITIGATION, first, decision)
        earlier = [i for i in range(decision.index) if self.steps[i].stage is Stage.FORMAL_NOTICE]
        if earlier and not self.happened(self.steps[earlier[-1]].name):
            first = RunStep(earlier[-1], decision.skipped, self._days_late(earlier[-1], paris_date(now)))
            return self._choose(Rule.LEGAL_STEPS_MUST_HAPPEN, first, decision)
        return decision

    def _days_late(self, index: int, day: date) -> int:
        return max(0, (day - self._planned_day(index)).days)

    def route(self, index: int) -> tuple[Channel | None, str | None]:
        """The channel a step goes by for this customer, or None and why it is skipped."""
        step = self.steps[index]
        customer = self.invoice.customer
        if step.channel is Channel.EMAIL and Channel.EMAIL in self.unusable:
            if customer.phone is not None and Channel.SMS not in self.unusable:
                return Channel.SMS, "by SMS: the e-mail address bounced"
            return None, "the e-mail address bounced"
        if step.channel is Channel.SMS and customer.phone is None:
            return None, "no phone number"
        if step.channel is Channel.SMS and Channel.SMS in self.unusable:
            return None, "the phone number is unusable"
        if step.channel is Channel.REGISTERED_LETTER and Channel.REGISTERED_LETTER in self.unusable:
            if step.stage is Stage.FORMAL_NOTICE and Channel.EMAIL not in self.unusable:
                return Channel.EMAIL, "by e-mail: the postal address is undeliverable"
            return None, "the postal address is undeliverable"
        if step.channel is Channel.REGISTERED_LETTER and customer.postal_address is None:
            # Any sufficient written demand is a formal notice (Code civil 1344): without an address
            # it goes by e-mail, and a person is asked for the address the court file will need.
            if (
                step.stage is Stage.FORMAL_NOTICE
                and Channel.EMAIL not in self.unusable
                and self._rules.on(Rule.LEGAL_STEPS_MUST_HAPPEN)
            ):
                return Channel.EMAIL, "by e-mail: no postal address"
            return None, "no postal address"
        return step.channel, None

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
            # While a dispute is open the customer may rightly withhold payment: a plan or promise
            # checked then would be declared broken for it.
            held = self.dispute is not None and self._pause_check_due(now)
            if not (held and self._rules.on(Rule.PAUSES_WAIT_OUT_DISPUTES)):
                self._check_plan(now)
                self._check_promise(now)
            self._check_limitation(now)
            self._ask_approval(now)

    def _check_limitation(self, now: datetime) -> None:
        limitation = self.limitation_on
        due = now >= send_slot(limitation - LIMITATION_WARNING)
        if not due or self.limitation_warned_for == limitation or not self._rules.on(Rule.LIMITATION_WATCHED):
            return
        self.limitation_warned_for = limitation
        self.open_calls[LIMITATION_TASK] = CallTask(step=LIMITATION_TASK, opened_at=now)
        self.record(
            now,
            LIMITATION_TASK,
            "law",
            ActionStatus.OPEN,
            f"the claim is time-barred on {limitation}: file a claim (Code civil 2241) or obtain a written"
            " acknowledgement of the debt (2240) before then",
        )

    def _pause_check_due(self, now: datetime) -> bool:
        plan_due = self.plan is not None and now >= self.plan.check_at(self.plan.checked)
        promise_due = self.promise is not None and now >= self.promise.resume_at
        return plan_due or promise_due

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
        self.shift_days += self._days_late(self.next_index, day)

    def _close(self, outcome: Outcome, today: date) -> None:
        self.outcome = outcome
        self.closed_on = today
        self.open_calls.clear()

    # ------------------------------------------------------------------------------ step results

    def begin_step(self, now: datetime, decision: RunStep) -> None:
        for index in decision.skipped:
            step = self.steps[index]
            self.record(
                now, step.name, step.channel.value, ActionStatus.SKIPPED, "not sent: a later step was already due"
            )
        self.shift_days += decision.reshift_days

    def complete_step(
        self, now: datetime, index: int, status: ActionStatus, detail: str | None, channel: Channel | None = None
    ) -> None:
        step = self.steps[index]
        self.record(now, step.name, (channel or step.channel).value, status, detail)
        if step.stage in LEGAL_STAGES and status not in HAPPENED and self._rules.on(Rule.LEGAL_STEPS_MUST_HAPPEN):
            self._hold(now, index, status)
            return
        self._advance(now, index)
        if step.channel is Channel.CALL and status is ActionStatus.OPEN:
            self.open_calls[step.name] = CallTask(step=step.name, opened_at=now)
        elif channel not in (None, step.channel) and status is ActionStatus.SENT:
            # Sent by another channel than the ladder's (a notice by e-mail): a person completes the file.
            self.open_calls[step.name] = CallTask(step=step.name, opened_at=now)

    def _hold(self, now: datetime, index: int, status: ActionStatus) -> None:
        step = self.steps[index]
        retry_at = (
            send_slot(add_business_days(paris_date(now), 1), self.hours) if status is ActionStatus.FAILED else None
        )
        self.hold = Hold(index=index, retry_at=retry_at)
        self.open_calls[step.name] = CallTask(step=step.name, opened_at=now)
        if step.channel is not Channel.LITIGATION:
            self.ladder_stage = step.stage
        self.last_step_on = paris_date(now)

    def _advance(self, now: datetime, index: int) -> None:
        step = self.steps[index]
        if self.hold is not None:
            # Done later than planned: the rest of the ladder keeps its distance from it.
            self.shift_days += self._days_late(index, paris_date(now))
            self.hold = None
            self.open_calls.pop(step.name, None)
        self.next_index = index + 1
        self.ladder_stage = step.stage
        self.last_step_on = paris_date(now)
        if step.channel is Channel.LITIGATION:
            self._close(Outcome.LITIGATION, paris_date(now))

    def message(
        self, now: datetime, step: str, channel: Channel, workflow_id: str, occurrence: int = 0
    ) -> MessageRequest:
        today = paris_date(now)
        ladder_step = next((s for s in self.steps if s.name == step), None)
        # The posted copy of an invoice is a message of its own beside the e-mailed one.
        key = f"{step}:{channel.value}" if channel is Channel.LETTER else step
        return MessageRequest(
            message_id=message_id_for(workflow_id, key, occurrence),
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
            deadline=today + self.notice_deadline if step == FORMAL_NOTICE else None,
            reached_by=self.channels_used(),
            order_reference=self.invoice.order_reference,
            penalty_rate_percent=self.invoice.penalty_rate_percent,
            level=ladder_step.level if ladder_step is not None else 0,
            template=ladder_step.template if ladder_step is not None else None,
        )

    # ------------------------------------------------------------------------------------ events

    def apply_event(self, event_id: str | None, apply: Callable[[], bool]) -> bool:
        """Apply an event once: its id is consumed only when it changed the case, so the same event
        sent again once it applies (a resolution resent after its dispute) is not lost."""
        if event_id is None:
            return apply()
        if event_id in self.seen_event_ids:
            return False
        if event_id in self.unapplied_event_ids and not self._rules.on(Rule.EVENT_ID_CONSUMED_WHEN_APPLIED):
            return False
        changed = apply()
        if changed:
            self.seen_event_ids.append(event_id)
            if event_id in self.unapplied_event_ids:
                self.unapplied_event_ids.remove(event_id)
        elif event_id not in self.unapplied_event_ids:
            self.unapplied_event_ids.append(event_id)
        return changed

    # ------------------------------------------------------------------------------------ reading

    def _recorded(self, now: datetime, step: str, channel: str, detail: str) -> None:
        """An event that changed the case (payment, dispute, ...), as opposed to a ladder step."""
        self.record(now, step, channel, ActionStatus.RECORDED, detail)

    def record(self, now: datetime, step: str, channel: str, status: ActionStatus, detail: str | None) -> None:
        self.actions.append(Action(step=step, channel=channel, at=now, status=status, detail=detail))

    def status(self, now: datetime) -> CaseStatus:
        """The case as of `now`, the time of its last workflow task; readers bring it to their own
        time with `CaseStatus.read_at`."""
        decision = self._next_step(now)
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
            as_of=now,
            overdue_until=self.overdue_until,
            messages=list(self.messages.values()),
            contact=self.contact,
            unusable_channels=[c.value for c in self.unusable],
            sending=self.sending,
            limitation_on=self.limitation_on,
            payments=sorted(
                (
                    PaymentMade(received_on=p.received_on, amount=p.amount)
                    for p in self.payments.values()
                    if not p.reversed
                ),
                key=lambda p: p.received_on,
            ),
            customer_kind=self.invoice.customer.kind,
            penalty_rate_percent=self.invoice.penalty_rate_percent,
            policy_version=self.policy.version,
            segment=self.segment,
            awaiting_approval=self.awaiting_approval,
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


def approval_task(step: str) -> str:
    """The open task of a gated step waiting for a person."""
    return f"{step}_approval"


def _watch_time(item: tuple[str, datetime | None]) -> datetime:
    return item[1] or datetime.max.replace(tzinfo=PARIS)
