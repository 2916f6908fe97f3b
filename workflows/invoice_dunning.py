"""InvoiceDunning: one durable case per invoice, from the courtesy reminder to litigation.

Pure orchestration. The rules live in `domain.case.CaseState`; this class feeds it signals and the
clock, runs the step it asks for through an activity, and keeps the web UI's view (search attributes,
current details) in step. Signal handlers only mutate state and wake the loop: they never await, so
no lock is needed and no handler can be cut off when the run ends.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate, SearchAttributeValueType
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from domain.calendar import PARIS, start_of_day_utc
    from domain.case import CaseState, Close, ResendInvoice, RunStep, Wait
    from domain.delivery import Delivery, DeliveryStatus, HandoverRequest, MessageRequest
    from domain.ladder import CURRENT_VERSION, INVOICE_RESEND, Channel
    from domain.models import (
        ActionStatus,
        CallLogged,
        CaseStatus,
        DisputeOpened,
        DisputeResolved,
        DunningResult,
        InstallmentPlanAgreed,
        InvoiceCancelled,
        InvoiceInput,
        InvoiceUpdated,
        PaymentReceived,
        PaymentReversed,
        PromiseToPay,
        Signal,
    )
    from dunning import search_attributes as sa

# Transient provider trouble (429, 5xx, timeouts) is retried for about a day; a 4xx is not retried
# (the activity raises a non-retryable error) and is recorded on the case as a failed step.
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=30),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=2),
    maximum_attempts=16,
)
# 2026-11: a catch-up past J+60 sends the formal notice instead of handing over at once.
NOTICE_BEFORE_LITIGATION = "notice-before-litigation"

# (activity, start-to-close timeout): above each adapter's own HTTP timeout (SendGrid 10 s; registered
# mail providers answer in up to 60 s), short enough that a worker dying mid-send is retried soon.
ACTIVITY_FOR_CHANNEL = {
    Channel.EMAIL: ("send_email", timedelta(seconds=20)),
    Channel.SMS: ("send_sms", timedelta(seconds=20)),
    Channel.REGISTERED_LETTER: ("send_registered_letter", timedelta(seconds=90)),
    Channel.LITIGATION: ("hand_over_to_litigation", timedelta(seconds=90)),
}


@workflow.defn(name="InvoiceDunning", failure_exception_types=[ValidationError])
class InvoiceDunning:
    """Input decoding errors (ValidationError) fail the run at once with the field named, instead of
    leaving a half-alive case retrying its first workflow task forever."""

    @workflow.init
    def __init__(self, invoice: InvoiceInput) -> None:
        # State is built here, not in run(): with signal-with-start the handler runs before run().
        self.case = CaseState.open(invoice, CURRENT_VERSION)
        self._revision = 0
        self._published: dict[str, object] = {}
        # Starts as what the ingress recorded at start; BalanceChangedAt is set whenever the case moves
        # from the last value seen here.
        self._balance_view = (invoice.amount, invoice.due_on)
        self._pending_upserts: list[SearchAttributeUpdate[Any]] = []

    @workflow.run
    async def run(self, invoice: InvoiceInput) -> DunningResult:
        while True:
            now = workflow.now()
            self.case.on_clock(now)
            self._publish(now)
            decision = self.case.decide(now)
            if isinstance(decision, Close):
                break
            if isinstance(decision, Wait):
                await self._wait(now, decision)
            elif isinstance(decision, RunStep):
                notice = self.case.skipped_notice(decision)
                if notice is not None and workflow.patched(NOTICE_BEFORE_LITIGATION):
                    decision = self.case.notice_first(decision, notice, now)
                await self._run_step(decision)
            elif isinstance(decision, ResendInvoice):
                await self._resend_invoice(decision)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.case.result()

    # -------------------------------------------------------------------------------------- steps

    async def _wait(self, now: datetime, decision: Wait) -> None:
        revision = self._revision
        if decision.until is None:
            await workflow.wait_condition(lambda: self._revision != revision)
            return
        if decision.until <= now:
            return
        local = decision.until.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._revision != revision,
                timeout=decision.until - now,
                timeout_summary=f"{decision.step} at {local} Paris",
            )

    async def _run_step(self, decision: RunStep) -> None:
        now = workflow.now()
        for index in decision.skipped:
            self.case.mark_skipped(now, index, "not sent: a later step was already due")
        step = self.case.steps[decision.index]
        customer = self.case.invoice.customer
        if step.channel is Channel.CALL:
            self.case.complete_step(now, decision.index, ActionStatus.OPEN, "call task for a credit controller")
            return
        if step.channel is Channel.SMS and customer.phone is None:
            self.case.complete_step(now, decision.index, ActionStatus.SKIPPED, "no phone number")
            return
        if step.channel is Channel.REGISTERED_LETTER and customer.postal_address is None:
            self.case.complete_step(now, decision.index, ActionStatus.SKIPPED, "no postal address")
            return
        message = self.case.message(now, step.name, step.channel, workflow.info().workflow_id)
        status, detail = await self._deliver(step.channel, message)
        self.case.complete_step(workflow.now(), decision.index, status, detail)

    async def _resend_invoice(self, decision: ResendInvoice) -> None:
        message = self.case.message(
            workflow.now(), INVOICE_RESEND, Channel.EMAIL, workflow.info().workflow_id, decision.occurrence
        )
        status, detail = await self._deliver(Channel.EMAIL, message)
        self.case.complete_resend(workflow.now(), status, detail)

    async def _deliver(self, channel: Channel, message: MessageRequest) -> tuple[ActionStatus, str | None]:
        argument: MessageRequest | HandoverRequest = message
        if channel is Channel.LITIGATION:
            argument = HandoverRequest(message=message, actions=self.case.actions)
        activity_name, timeout = ACTIVITY_FOR_CHANNEL[channel]
        try:
            delivery = await workflow.execute_activity(
                activity_name,
                argument,
                result_type=Delivery,
                start_to_close_timeout=timeout,
                retry_policy=SEND_RETRY,
                summary=f"{message.step} by {channel.value}",
            )
        except ActivityError as err:
            # The ladder goes on: a failed reminder is on the case for a person to act upon, and
            # the next step still runs at its date.
            return ActionStatus.FAILED, str(err.cause or err)
        status = ActionStatus.SENT if delivery.status is DeliveryStatus.SENT else ActionStatus.UNCONFIRMED
        detail = f"{delivery.provider} {delivery.provider_message_id or ''}".strip()
        return status, f"{detail}; {delivery.detail}" if delivery.detail else detail

    # ----------------------------------------------------------------------------------- messages

    def _wake(self, changed: bool) -> None:
        if changed:
            self._revision += 1

    def _accept(self, signal: Signal) -> bool:
        return self.case.outcome is None and self.case.accept_event(signal.event_id)

    @workflow.signal(name="payment_received")
    def payment_received(self, payment: PaymentReceived) -> None:
        if self._accept(payment):
            self._wake(self.case.receive_payment(workflow.now(), payment))

    @workflow.signal(name="payment_reversed")
    def payment_reversed(self, reversal: PaymentReversed) -> None:
        if self._accept(reversal):
            self._wake(self.case.reverse_payment(workflow.now(), reversal))

    @workflow.signal(name="dispute_opened")
    def dispute_opened(self, dispute: DisputeOpened) -> None:
        if self._accept(dispute):
            self._wake(self.case.open_dispute(workflow.now(), dispute))

    @workflow.signal(name="dispute_resolved")
    def dispute_resolved(self, resolution: DisputeResolved) -> None:
        if self._accept(resolution):
            self._wake(self.case.resolve_dispute(workflow.now(), resolution))

    @workflow.signal(name="installment_plan_agreed")
    def installment_plan_agreed(self, plan: InstallmentPlanAgreed) -> None:
        if self._accept(plan):
            self._wake(self.case.agree_plan(workflow.now(), plan))

    @workflow.signal(name="promise_to_pay")
    def promise_to_pay(self, promise: PromiseToPay) -> None:
        if self._accept(promise):
            self._wake(self.case.promise_payment(workflow.now(), promise))

    @workflow.signal(name="call_logged")
    def call_logged(self, call: CallLogged) -> None:
        if self._accept(call):
            self._wake(self.case.log_call(workflow.now(), call))

    @workflow.signal(name="invoice_updated")
    def invoice_updated(self, update: InvoiceUpdated) -> None:
        if self._accept(update):
            self._wake(self.case.update_invoice(workflow.now(), update))

    @workflow.signal(name="invoice_cancelled")
    def invoice_cancelled(self, cancellation: InvoiceCancelled) -> None:
        if self._accept(cancellation):
            self._wake(self.case.cancel(workflow.now(), cancellation))

    @workflow.query(name="status")
    def status(self) -> CaseStatus:
        return self.case.status(workflow.now())

    # ------------------------------------------------------------------------------------ web UI

    def _publish(self, now: datetime) -> None:
        case = self.case
        status = case.status(now)
        self._set(sa.STAGE, case.stage.value)
        self._set(sa.CUSTOMER_ID, case.invoice.customer.customer_id)
        self._set(sa.SEGMENT, case.invoice.customer.segment.value)
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
