"""The invoice case's side of the customer digest: hand the step's e-mail over, wait for the answer.

A workflow cannot signal-with-start another one, so the hand-over is an activity (JOIN_DIGEST) that
does it with the worker's client. The case then waits for `digest_sent`. If the case stops owing
the reminder meanwhile (paid, cancelled, disputed), it asks the digest to leave it out. If no answer
comes within FALLBACK (the digest's worker or provider down for hours), the case sends its own
e-mail: it claims its own message id in the ledger, which the digest also claims for every invoice
it lists, so only one of them ever sends it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from domain.calendar import send_window_closes
    from domain.case import CaseState
    from domain.delivery import Delivery, DeliveryStatus, MessageRequest
    from domain.digest import DigestEntry, DigestOutcome, DigestReply, DigestWithdrawn, digest_workflow_id
    from domain.ladder import Channel
    from domain.models import ActionStatus, NextAction
    from dunning.contract import ActivityName, DigestSignal

# Well past the digest's window (15 minutes) and its first send retries: a digest still silent
# then is stuck, and the case's own message is better late than never.
FALLBACK = timedelta(hours=4)
# Starting or signalling a workflow: Temporal answers in milliseconds or is unreachable.
JOIN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=1), maximum_attempts=10
)


class DigestHandOver:
    def __init__(self) -> None:
        # Answers by the case's message id; one may come before the hand-over activity returns.
        self._replies: dict[str, DigestReply] = {}

    def receive(self, reply: DigestReply) -> None:
        self._replies.setdefault(reply.message_id, reply)

    async def run_step(self, case: CaseState, index: int, message: MessageRequest) -> bool:
        """Run the step through the digest and record it; False if the case must send its own."""
        now = workflow.now()
        case.sending = NextAction(step=message.step, at=now)
        workflow.set_current_details(
            f"**Sending** {message.step} in the customer's digest since {now:%Y-%m-%d %H:%M} UTC"
        )
        try:
            reply = await self._hand_over(case, message, now)
        finally:
            case.sending = None
        done = workflow.now()
        if reply is None:
            if case.reminding():
                return False
            # Withdrawn, but the digest may have been sending it already: a person checks.
            detail = "no answer from the customer's digest, which may have listed this invoice"
            case.complete_step(done, index, ActionStatus.UNCONFIRMED, detail, Channel.EMAIL)
            return True
        if reply.outcome is DigestOutcome.OWN_MESSAGE:
            return False
        if reply.outcome is DigestOutcome.WITHDRAWN:
            case.complete_step(done, index, ActionStatus.SKIPPED, "left out of the customer's digest: no longer due")
            return True
        status, detail, delivery = _outcome(reply)
        recorded = message if delivery is None else message.model_copy(update={"message_id": delivery.message_id})
        case.record_sent(done, recorded, Channel.EMAIL, status, delivery)
        case.complete_step(done, index, status, detail, Channel.EMAIL)
        return True

    async def _hand_over(self, case: CaseState, message: MessageRequest, now: datetime) -> DigestReply | None:
        message_id = message.message_id
        digest = digest_workflow_id(message.customer.customer_id)
        entry = DigestEntry(message=message, send_by=send_window_closes(now, case.hours))
        try:
            await workflow.execute_activity(
                ActivityName.JOIN_DIGEST,
                entry,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=JOIN_RETRY,
                summary=f"{message.step} to the customer's digest",
            )
        except ActivityError:
            return DigestReply(message_id=message_id, outcome=DigestOutcome.OWN_MESSAGE)
        deadline = now + FALLBACK
        await self._wait(message_id, deadline, case.reminding)
        if message_id not in self._replies:
            # No longer owed, or the digest is silent: leave it out. Should the digest send it anyway
            # (already sending), the ledger lets only one of it and the case's own message go.
            await _withdraw(digest, message_id)
            if not case.reminding():
                await self._wait(message_id, deadline, lambda: True)
        return self._replies.get(message_id)

    async def _wait(self, message_id: str, deadline: datetime, still: Callable[[], bool]) -> None:
        """Until the digest answers, `still()` turns false, or the deadline."""
        remaining = deadline - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: message_id in self._replies or not still(), timeout=remaining)


async def _withdraw(digest: str, message_id: str) -> None:
    # No digest running (FailureError): then nothing will send this entry.
    with contextlib.suppress(FailureError):
        await workflow.get_external_workflow_handle(digest).signal(
            DigestSignal.WITHDRAWN, DigestWithdrawn(message_id=message_id)
        )


def _outcome(reply: DigestReply) -> tuple[ActionStatus, str, Delivery | None]:
    if reply.outcome is DigestOutcome.FAILED or reply.delivery is None:
        return ActionStatus.FAILED, f"customer's digest not sent: {reply.detail}", None
    delivery = reply.delivery
    status = ActionStatus.SENT if delivery.status is DeliveryStatus.SENT else ActionStatus.UNCONFIRMED
    provider = f"{delivery.provider} {delivery.provider_message_id or ''}".strip()
    detail = f"in the customer's digest of {reply.invoices} invoices; {provider}"
    return status, f"{detail}; {delivery.detail}" if delivery.detail else detail, delivery
