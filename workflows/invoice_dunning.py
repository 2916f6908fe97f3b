"""InvoiceDunning: one durable case per invoice, from the courtesy reminder to litigation.

Pure orchestration. The rules live in `domain.case.CaseState`; this class feeds it signals and the
clock, runs the step it asks for through an activity, and keeps the web UI's view (search attributes,
current details) in step. Signal handlers only mutate state and wake the loop: they never await, so
no lock is needed and no handler can be cut off when the run ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate, SearchAttributeValueType
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from domain.calendar import PARIS, send_window_closes, start_of_day_utc
    from domain.case import CaseState, Close, ResendInvoice, RunStep, TrackLetter, Wait
    from domain.delivery import Delivery, DeliveryStatus, HandoverRequest, MessageRequest
    from domain.digest import DigestReply
    from domain.ladder import INVOICE_RESEND, Channel
    from domain.models import (
        ActionStatus,
        CallLogged,
        CaseStatus,
        DisputeOpened,
        DisputeResolved,
        DunningResult,
        EscalationApproved,
        EscalationHeld,
        InstallmentPlanAgreed,
        InvoiceCancelled,
        InvoiceInput,
        InvoiceUpdated,
        NextAction,
        PaymentReceived,
        PaymentReversed,
        PromiseToPay,
        SegmentChanged,
        Signal,
    )
    from domain.policy import CaseStart, PolicyChanged
    from domain.policy_file import legacy
    from domain.rules import Rule
    from domain.tracking import LetterStatusReported, LetterTracking, MessageEvent, TrackRequest
    from dunning import search_attributes as sa
    from dunning.contract import STATUS_QUERY, WORKFLOW_TYPE, ActivityName, SignalName
    from workflows.digest_handover import DigestHandOver
    from workflows.patched_rules import PatchedRules

# Transient provider trouble (429, 5xx, timeouts) is retried for about a day; a 4xx is not retried
# (the activity raises a non-retryable error) and is recorded on the case as a failed step.
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=30),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=2),
    maximum_attempts=16,
)

# (activity, start-to-close timeout): above each adapter's own HTTP timeout (SendGrid 10 s; registered
# mail providers answer in up to 60 s), short enough that a worker dying mid-send is retried soon.
ACTIVITY_FOR_CHANNEL = {
    Channel.EMAIL: (ActivityName.SEND_EMAIL, timedelta(seconds=20)),
    Channel.SMS: (ActivityName.SEND_SMS, timedelta(seconds=20)),
    Channel.REGISTERED_LETTER: (ActivityName.SEND_REGISTERED_LETTER, timedelta(seconds=90)),
    Channel.LITIGATION: (ActivityName.HAND_OVER_TO_LITIGATION, timedelta(seconds=90)),
    # The posted copy of an invoice: the letters activity knows a plain letter by its step.
    Channel.LETTER: (ActivityName.SEND_REGISTERED_LETTER, timedelta(seconds=90)),
}
# Quiet hours: an SMS still failing when the day's sending window closes is not sent at night; the
# step is recorded failed and the ladder goes on (a letter or a call follows it).
QUIET_CHANNELS = frozenset({Channel.SMS})
# A status poll that fails is tried again at the letter's next poll, not hammered now.
TRACK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=30), maximum_interval=timedelta(minutes=10), maximum_attempts=5
)

# Errors of the case's rules on its own input or state (a ValidationError of the input, a date the
# rules cannot place): the same history fails the same way on every retry, so the run fails at once
# with the message, visible as Failed in the UI, instead of sitting Running with a failing task. A
# nondeterminism error is not one of them: that is a deploy to roll back, and retrying heals it.
CASE_ERRORS: list[type[BaseException]] = [ValidationError, ValueError, LookupError, ArithmeticError, AssertionError]


@workflow.defn(name=WORKFLOW_TYPE, failure_exception_types=CASE_ERRORS)
class InvoiceDunning:
    @workflow.init
    def __init__(self, start: CaseStart | InvoiceInput) -> None:
        # State is built here, not in run(): with signal-with-start the handler runs before run().
        self._rules = PatchedRules()
        # A case started without a policy (all of them before policy files) runs the 2026-11 ladders.
        if isinstance(start, InvoiceInput):
            start = CaseStart(invoice=start, policy=legacy())
        invoice = start.invoice
        self.case = CaseState.open(invoice, start.policy, self._rules)
        self._revision = 0
        self._published: dict[str, object] = {}
        # Starts as what the ingress recorded at start; BalanceChangedAt is set whenever the case moves
        # from the last value seen here.
        self._balance_view = (invoice.amount, invoice.due_on)
        self._pending_upserts: list[SearchAttributeUpdate[Any]] = []
        # The timer of the current wait and the time it fires, kept across signals that do not move it.
        self._timer: tuple[datetime, asyncio.Task[None]] | None = None
        self._digest = DigestHandOver()

    @workflow.run
    async def run(self, start: CaseStart | InvoiceInput) -> DunningResult:
        while True:
            now = workflow.now()
            self.case.on_clock(now)
            self._publish(now)
            decision = self.case.decide(now)
            if not isinstance(decision, Wait):
                await self._drop_timer()
            if isinstance(decision, Close):
                break
            if isinstance(decision, Wait):
                await self._wait(now, decision)
            elif isinstance(decision, RunStep):
                await self._run_step(decision)
            elif isinstance(decision, ResendInvoice):
                await self._resend_invoice(decision)
            elif isinstance(decision, TrackLetter):
                await self._track_letter(decision)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.case.result()

    # -------------------------------------------------------------------------------------- steps

    async def _wait(self, now: datetime, decision: Wait) -> None:
        revision = self._revision
        if decision.until is None or decision.until <= now:
            await self._drop_timer()
            if decision.until is None:
                await workflow.wait_condition(lambda: self._revision != revision)
            return
        timer = await self._timer_until(now, decision.until, decision.step)
        await workflow.wait_condition(lambda: self._revision != revision or timer.done())
        if timer.done():
            self._timer = None
        elif not self._rules.on(Rule.TIMER_KEPT_WHILE_WAKE_UNCHANGED):
            # Cases that waited before the rule cancel at once, as their histories recorded: the
            # cancellation comes before this task's upserts there.
            await self._drop_timer()

    async def _timer_until(self, now: datetime, until: datetime, step: str | None) -> asyncio.Task[None]:
        """The running timer if it fires at `until`, else a new one (the old one cancelled)."""
        if self._timer is not None:
            if self._timer[0] == until:
                return self._timer[1]
            await self._drop_timer()
        local = until.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")
        timer = asyncio.create_task(workflow.sleep(until - now, summary=f"{step} at {local} Paris"))
        self._timer = (until, timer)
        return timer

    async def _drop_timer(self) -> None:
        if self._timer is not None:
            self._timer[1].cancel()
            self._timer = None
            # Let the timer's task see its cancellation now, so the cancel command comes before any
            # command this task issues next (the order the histories recorded under wait_condition).
            await asyncio.sleep(0)

    async def _run_step(self, decision: RunStep) -> None:
        now = workflow.now()
        self.case.begin_step(now, decision)
        step = self.case.steps[decision.index]
        if step.channel is Channel.CALL:
            self.case.complete_step(now, decision.index, ActionStatus.OPEN, "call task for a credit controller")
            return
        channel, why = self.case.route(decision.index)
        if channel is None:
            self.case.complete_step(now, decision.index, ActionStatus.SKIPPED, why)
            return
        message = self.case.message(now, step.name, channel, workflow.info().workflow_id)
        if self.case.digested(decision.index, channel) and await self._digest.run_step(
            self.case, decision.index, message
        ):
            return
        status, detail, delivery = await self._deliver(channel, message)
        done = workflow.now()
        self.case.record_sent(done, message, channel, status, delivery)
        self.case.complete_step(done, decision.index, status, f"{why}; {detail}" if why else detail, channel)

    async def _resend_invoice(self, decision: ResendInvoice) -> None:
        results = []
        for channel in self.case.resend_channels():
            message = self.case.message(
                workflow.now(), INVOICE_RESEND, channel, workflow.info().workflow_id, decision.occurrence
            )
            status, detail, delivery = await self._deliver(channel, message)
            self.case.record_sent(workflow.now(), message, channel, status, delivery)
            results.append((channel, status, detail))
        self.case.complete_resend(workflow.now(), results)

    async def _track_letter(self, decision: TrackLetter) -> None:
        sent = self.case.messages[decision.message_id]
        assert sent.provider is not None
        assert sent.provider_message_id is not None
        request = TrackRequest(
            workflow_id=workflow.info().workflow_id,
            message_id=sent.message_id,
            provider=sent.provider,
            provider_message_id=sent.provider_message_id,
        )
        try:
            tracking = await workflow.execute_activity(
                ActivityName.TRACK_LETTER,
                request,
                result_type=LetterTracking,
                # Several provider calls (token, status, each proof) of up to 30 s each.
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=TRACK_RETRY,
                summary=f"status of the {sent.step} letter",
            )
        except ActivityError as err:
            self.case.tracked(workflow.now(), sent.message_id, None, str(err.cause or err))
            return
        self.case.tracked(workflow.now(), sent.message_id, tracking)

    async def _deliver(
        self, channel: Channel, message: MessageRequest
    ) -> tuple[ActionStatus, str | None, Delivery | None]:
        argument: MessageRequest | HandoverRequest = message
        if channel is Channel.LITIGATION:
            argument = HandoverRequest(
                message=message,
                actions=self.case.actions,
                messages=[*self.case.messages.values()],
                destination=self.case.handover,
            )
        activity_name, timeout = ACTIVITY_FOR_CHANNEL[channel]
        now = workflow.now()
        # Visible to a query and in the UI while the provider is retried (an outage lasts hours).
        self.case.sending = NextAction(step=message.step, at=now)
        workflow.set_current_details(f"**Sending** {message.step} by {channel.value} since {now:%Y-%m-%d %H:%M} UTC")
        quiet = send_window_closes(now, self.case.hours) - now if channel in QUIET_CHANNELS else None
        try:
            delivery = await workflow.execute_activity(
                activity_name,
                argument,
                result_type=Delivery,
                start_to_close_timeout=timeout,
                schedule_to_close_timeout=quiet,
                retry_policy=SEND_RETRY,
                summary=f"{message.step} by {channel.value}",
            )
        except ActivityError as err:
            # A failed reminder is on the case for a person to act upon and the next step still runs
            # at its date; a failed formal notice or hand-over holds the case (domain.case.Hold).
            return ActionStatus.FAILED, str(err.cause or err), None
        finally:
            self.case.sending = None
        status = ActionStatus.SENT if delivery.status is DeliveryStatus.SENT else ActionStatus.UNCONFIRMED
        detail = f"{delivery.provider} {delivery.provider_message_id or ''}".strip()
        return status, f"{detail}; {delivery.detail}" if delivery.detail else detail, delivery

    # ----------------------------------------------------------------------------------- messages

    def _apply(self, signal: Signal, apply: Callable[[], bool]) -> None:
        if self.case.outcome is None and self.case.apply_event(signal.event_id, apply):
            self._revision += 1

    @workflow.signal(name=SignalName.PAYMENT_RECEIVED)
    def payment_received(self, payment: PaymentReceived) -> None:
        self._apply(payment, lambda: self.case.receive_payment(workflow.now(), payment))

    @workflow.signal(name=SignalName.PAYMENT_REVERSED)
    def payment_reversed(self, reversal: PaymentReversed) -> None:
        self._apply(reversal, lambda: self.case.reverse_payment(workflow.now(), reversal))

    @workflow.signal(name=SignalName.DISPUTE_OPENED)
    def dispute_opened(self, dispute: DisputeOpened) -> None:
        self._apply(dispute, lambda: self.case.open_dispute(workflow.now(), dispute))

    @workflow.signal(name=SignalName.DISPUTE_RESOLVED)
    def dispute_resolved(self, resolution: DisputeResolved) -> None:
        self._apply(resolution, lambda: self.case.resolve_dispute(workflow.now(), resolution))

    @workflow.signal(name=SignalName.INSTALLMENT_PLAN_AGREED)
    def installment_plan_agreed(self, plan: InstallmentPlanAgreed) -> None:
        self._apply(plan, lambda: self.case.agree_plan(workflow.now(), plan))

    @workflow.signal(name=SignalName.PROMISE_TO_PAY)
    def promise_to_pay(self, promise: PromiseToPay) -> None:
        self._apply(promise, lambda: self.case.promise_payment(workflow.now(), promise))

    @workflow.signal(name=SignalName.CALL_LOGGED)
    def call_logged(self, call: CallLogged) -> None:
        self._apply(call, lambda: self.case.log_call(workflow.now(), call))

    @workflow.signal(name=SignalName.INVOICE_UPDATED)
    def invoice_updated(self, update: InvoiceUpdated) -> None:
        self._apply(update, lambda: self.case.update_invoice(workflow.now(), update))

    @workflow.signal(name=SignalName.INVOICE_CANCELLED)
    def invoice_cancelled(self, cancellation: InvoiceCancelled) -> None:
        self._apply(cancellation, lambda: self.case.cancel(workflow.now(), cancellation))

    @workflow.signal(name=SignalName.LETTER_STATUS)
    def letter_status(self, report: LetterStatusReported) -> None:
        self._apply(report, lambda: self.case.letter_status(workflow.now(), report))

    @workflow.signal(name=SignalName.MESSAGE_EVENT)
    def message_event(self, event: MessageEvent) -> None:
        self._apply(event, lambda: self.case.message_event(workflow.now(), event))

    @workflow.signal(name=SignalName.SEGMENT_CHANGED)
    def segment_changed(self, change: SegmentChanged) -> None:
        self._apply(change, lambda: self.case.change_segment(workflow.now(), change))

    @workflow.signal(name=SignalName.POLICY_CHANGED)
    def policy_changed(self, change: PolicyChanged) -> None:
        self._apply(change, lambda: self.case.change_policy(workflow.now(), change))

    @workflow.signal(name=SignalName.ESCALATION_APPROVED)
    def escalation_approved(self, approval: EscalationApproved) -> None:
        self._apply(approval, lambda: self.case.approve(workflow.now(), approval))

    @workflow.signal(name=SignalName.ESCALATION_HELD)
    def escalation_held(self, held: EscalationHeld) -> None:
        self._apply(held, lambda: self.case.hold_escalation(workflow.now(), held))

    @workflow.signal(name=SignalName.DIGEST_SENT)
    def digest_sent(self, reply: DigestReply) -> None:
        self._digest.receive(reply)

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> CaseStatus:
        return self.case.status(workflow.now())

    # ------------------------------------------------------------------------------------ web UI

    def _publish(self, now: datetime) -> None:
        case = self.case
        with self._rules.peeking():
            status = case.status(now)
        self._set(sa.STAGE, case.stage.value)
        self._set(sa.CUSTOMER_ID, case.invoice.customer.customer_id)
        self._set(sa.SEGMENT, case.segment.value)
        if self._rules.on(Rule.POLICY_VERSION_PUBLISHED):
            self._set(sa.POLICY_VERSION, case.policy.version)
        self._set(sa.AMOUNT_DUE, float(case.balance))
        self._set(sa.DUE_DATE, start_of_day_utc(case.due_on))
        if (case.balance, case.due_on) != self._balance_view:
            self._balance_view = (case.balance, case.due_on)
            self._set(sa.BALANCE_CHANGED_AT, now)
        self._set(sa.OPEN_CALLS, sorted(case.open_calls) or None)
        self._set(sa.NEXT_ACTION_AT, status.next_action.at if status.next_action else None)
        if self._pending_upserts:
            workflow.upsert_search_attributes(self._pending_upserts)
            self._pending_upserts = []
        next_line = "none"
        if status.next_action:
            local = status.next_action.at.astimezone(PARIS)
            next_line = f"{status.next_action.step} at {local:%Y-%m-%d %H:%M} Paris"
        workflow.set_current_details(
            f"**Stage** {case.stage.value}  \n"
            f"**Balance** {case.balance} {case.invoice.currency} of {case.amount}, due {case.due_on}  \n"
            f"**Next** {next_line}  \n"
            f"**Open calls** {', '.join(sorted(case.open_calls)) or 'none'}"
        )

    def _set(self, key: SearchAttributeKey[SearchAttributeValueType], value: SearchAttributeValueType | None) -> None:
        """Queue an upsert only for a changed value: every upsert is a history event."""
        if key.name in self._published and self._published[key.name] == value:
            return
        self._published[key.name] = value
        self._pending_upserts.append(key.value_unset() if value is None else key.value_set(value))
