"""CustomerDigest: one e-mail listing a customer's invoices at the same step (policy `digest = true`).

One workflow per customer (`customer-<customer id>`), started by the first case that hands an e-mail
over (signal-with-start, `dunning.digests`). It keeps the entries of each batch (same step, level,
currency, address and language) for `domain.digest.WINDOW` after the first one, sends one e-mail
through the SEND_DIGEST activity, and answers every case with `digest_sent`. Provider reports on a
digest (bounces) come here, by its case reference, and are passed on to each case it listed.

Signal handlers only change the state and queue what to tell the cases; the loop sends it. The
workflow continues as new when its history grows and ends after `IDLE` without entries.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from domain.calendar import paris_date
    from domain.delivery import Delivery
    from domain.digest import (
        DigestEntry,
        DigestOutcome,
        DigestReply,
        DigestResult,
        DigestState,
        DigestWithdrawn,
        SentDigest,
    )
    from domain.tracking import MessageEvent
    from dunning.contract import DIGEST_WORKFLOW_TYPE, ActivityName, DigestSignal, SignalName
    from workflows.invoice_dunning import SEND_RETRY


@workflow.defn(name=DIGEST_WORKFLOW_TYPE)
class CustomerDigest:
    @workflow.init
    def __init__(self, state: DigestState) -> None:
        self._state = state
        self._revision = 0
        # The cases' message ids in the digest being sent: a repeated hand-over of one is ignored.
        self._in_flight: set[str] = set()
        # Signals to cases (workflow id, signal name, argument), sent by the loop.
        self._outgoing: list[tuple[str, str, BaseModel]] = []

    @workflow.run
    async def run(self, state: DigestState) -> None:
        while True:
            await self._flush()
            now = workflow.now()
            self._state.prune(now)
            due = self._state.next_batch()
            if due is not None and due[1] <= now:
                await self._send(due[0])
                continue
            info = workflow.info()
            if info.get_current_history_length() >= self._state.history_limit or info.is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                # What the handlers queued meanwhile: the new run starts from the state alone.
                await self._flush()
                workflow.continue_as_new(self._state)
            until = due[1] if due is not None else self._state.idle_until(now)
            if until <= now:
                return
            await self._wait_until(until)

    async def _wait_until(self, until: datetime) -> None:
        """Until a signal changes something, or `until`."""
        revision = self._revision
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._revision != revision, timeout=until - workflow.now())

    async def _send(self, batch: tuple[str, int, str, str, str]) -> None:
        entries = self._state.take(batch)
        self._in_flight = {e.message.message_id for e in entries}
        while len(entries) > 1:
            request = self._state.request(entries, paris_date(workflow.now()))
            try:
                result = await workflow.execute_activity(
                    ActivityName.SEND_DIGEST,
                    request,
                    result_type=DigestResult,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=SEND_RETRY,
                    summary=f"{request.step} digest of {len(entries)} invoices",
                )
            except ActivityError as err:
                self._answer(entries, DigestOutcome.FAILED, detail=str(err.cause or err), invoices=len(entries))
                entries = []
            if result.taken:
                # A case's fallback claimed its own message first: it keeps it, the others go again.
                self._answer([e for e in entries if e.message.message_id in result.taken], DigestOutcome.OWN_MESSAGE)
                entries = [e for e in entries if e.message.message_id not in result.taken]
                continue
            assert result.delivery is not None
            self._answer(entries, DigestOutcome.DELIVERED, result.delivery, invoices=len(entries))
            cases = [e.message.workflow_id for e in entries]
            self._state.sent.append(
                SentDigest(message_id=result.delivery.message_id, sent_at=workflow.now(), cases=cases)
            )
            entries = []
        # Alone in its batch: the case sends its own e-mail, with its step's own wording.
        self._answer(entries, DigestOutcome.OWN_MESSAGE)
        self._in_flight = set()

    def _answer(
        self,
        entries: list[DigestEntry],
        outcome: DigestOutcome,
        delivery: Delivery | None = None,
        detail: str | None = None,
        invoices: int = 0,
    ) -> None:
        for entry in entries:
            message_id = entry.message.message_id
            reply = DigestReply(
                message_id=message_id, outcome=outcome, delivery=delivery, detail=detail, invoices=invoices
            )
            self._state.answered[message_id] = workflow.now()
            self._outgoing.append((entry.message.workflow_id, SignalName.DIGEST_SENT, reply))

    async def _flush(self) -> None:
        while self._outgoing:
            outgoing, self._outgoing = self._outgoing, []
            await asyncio.gather(*(_signal(*item) for item in outgoing))

    @workflow.signal(name=DigestSignal.ENTRY)
    def entry(self, entry: DigestEntry) -> None:
        if self._state.add(entry, workflow.now(), self._in_flight):
            self._revision += 1

    @workflow.signal(name=DigestSignal.WITHDRAWN)
    def withdrawn(self, withdrawal: DigestWithdrawn) -> None:
        entry = self._state.withdraw(withdrawal.message_id)
        if entry is not None:
            self._answer([entry], DigestOutcome.WITHDRAWN)
            self._revision += 1

    @workflow.signal(name=SignalName.MESSAGE_EVENT)
    def message_event(self, event: MessageEvent) -> None:
        for case in self._state.cases_of(event.message_id):
            self._outgoing.append((case, SignalName.MESSAGE_EVENT, event))
        self._revision += 1


async def _signal(workflow_id: str, name: str, argument: BaseModel) -> None:
    # A case closed since (settled, cancelled) waits for nothing: the signal has nowhere to go.
    with contextlib.suppress(FailureError):
        await workflow.get_external_workflow_handle(workflow_id).signal(name, argument)
