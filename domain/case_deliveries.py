"""What a case sent and what came back: the trail of messages it can prove, the invoice copy by
e-mail and post, the polling of registered letters, and providers' reports (a letter's fate, a
bounced address). Its fields are those of `CaseCore`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain import tracking
from domain.calendar import PARIS, paris_date
from domain.case_core import CaseCore
from domain.case_records import (
    LEGAL_STAGES,
    MAX_EARLY_EVENTS,
    UNUSABLE_TASK,
    CallTask,
    Hold,
)
from domain.delivery import Delivery, MessageRequest
from domain.ladder import INVOICE_RESEND, Channel
from domain.models import (
    ActionStatus,
    LetterStatus,
    SentMessage,
    Stage,
)
from domain.rules import Rule
from domain.tracking import LetterStatusReported, LetterTracking, MessageEvent, MessageEventKind, Watch


class CaseDeliveries(CaseCore):
    def digested(self, index: int, channel: Channel) -> bool:
        """Whether the step's message goes in the customer's digest (policy `digest`): e-mails of
        the ladder only. Letters, SMS, calls, the formal notice (even by e-mail) and the hand-over
        name one debt each."""
        step = self.steps[index]
        return (
            self.policy.digest
            and channel is Channel.EMAIL
            and step.channel is Channel.EMAIL
            and step.stage not in LEGAL_STAGES
            and self._rules.on(Rule.EMAILS_DIGESTED, step.name)
        )

    def reminding(self) -> bool:
        """Whether a reminder handed to the digest still applies: nothing has since closed the case,
        settled it, or paused its ladder (a dispute, a plan, a promise)."""
        paused = self.dispute is not None or self.plan is not None or self.promise is not None
        return self.outcome is None and self.cancel_reason is None and self.balance > 0 and not paused

    def resend_channels(self) -> list[Channel]:
        """How a copy of the invoice goes: by e-mail and, with a postal address, by post as well
        ("par courrier physique et électronique"), unless a provider reported either unusable."""
        channels = [] if Channel.EMAIL in self.unusable else [Channel.EMAIL]
        by_post = self.invoice.customer.postal_address is not None and Channel.REGISTERED_LETTER not in self.unusable
        # Asked per copy: a case whose first copy went by e-mail alone may post the next one.
        if by_post and self._rules.on(Rule.INVOICE_COPY_BY_POST, str(self.resends_done)):
            channels.append(Channel.LETTER)
        return channels

    def complete_resend(self, now: datetime, results: list[tuple[Channel, ActionStatus, str | None]]) -> None:
        self.resends_done += 1
        if not results:
            self.record(now, INVOICE_RESEND, Channel.EMAIL.value, ActionStatus.SKIPPED, "no usable e-mail or address")
        for channel, status, detail in results:
            self.record(now, INVOICE_RESEND, channel.value, status, detail)

    def record_sent(
        self, now: datetime, message: MessageRequest, channel: Channel, status: ActionStatus, delivery: Delivery | None
    ) -> None:
        """Keep what the case must be able to prove about a message, and watch a registered letter's
        provider for its outcome and proofs."""
        sent = SentMessage(
            message_id=message.message_id,
            step=message.step,
            channel=channel.value,
            sent_at=now,
            status=status,
            provider=delivery.provider if delivery else None,
            provider_message_id=delivery.provider_message_id if delivery else None,
            recipient=delivery.recipient if delivery else None,
            content_sha256=delivery.content_sha256 if delivery else None,
            document=delivery.document if delivery else None,
        )
        self.messages[message.message_id] = sent
        tracked = channel is Channel.REGISTERED_LETTER and status is ActionStatus.SENT
        # Asked per step: a case whose level 2 letter went before the rule still follows its notice.
        if tracked and sent.provider_message_id and self._rules.on(Rule.LETTERS_TRACKED, message.step):
            self.watches[message.message_id] = Watch(sent_on=paris_date(now))
        early = self.early_events.pop(message.message_id, None)
        if early is not None:
            self.message_event(now, early)

    def tracked(self, now: datetime, message_id: str, poll: LetterTracking | None, error: str | None = None) -> bool:
        """Apply a poll of a letter's provider (None when it could not be asked); the next poll
        follows the watch's cadence whatever the answer, and stops once the outcome and its receipt
        are kept."""
        changed = False
        for report in poll.reports if poll else []:
            changed |= self.apply_event(report.event_id, self._letter_status_of(now, report))
        return changed | self._watched(now, message_id, error)

    def _letter_status_of(self, now: datetime, report: LetterStatusReported) -> Callable[[], bool]:
        return lambda: self.letter_status(now, report)

    def _watched(self, now: datetime, message_id: str, error: str | None) -> bool:
        if message_id not in self.watches:
            return False
        watch = self.watches[message_id]
        watch.polls += 1
        # After an outage the polls missed are not made up one after the other: the next is the next due.
        while (at := watch.next_at()) is not None and at <= now:
            watch.polls += 1
        sent = self.messages[message_id]
        if error is not None:
            self.record(now, sent.step, sent.channel, ActionStatus.RECORDED, f"letter status not known: {error}")
        if tracking.receipt_kept(sent):
            del self.watches[message_id]
        elif watch.next_at() is None:
            del self.watches[message_id]
            self.record(
                now,
                sent.step,
                sent.channel,
                ActionStatus.RECORDED,
                f"tracking stopped at {sent.delivery or 'no status'}",
            )
        return True

    def letter_status(self, now: datetime, report: LetterStatusReported) -> bool:
        sent = self.messages.get(report.message_id)
        if sent is None or sent.channel != Channel.REGISTERED_LETTER.value:
            return False
        moved = tracking.advance(sent, report)
        if moved is None:
            return False
        self.messages[report.message_id] = moved
        at = report.at.astimezone(PARIS)
        detail = f"letter {report.status.value} {at:%Y-%m-%d %H:%M} Paris"
        self.record(
            now,
            sent.step,
            sent.channel,
            ActionStatus.RECORDED,
            f"{detail}; {report.detail}" if report.detail else detail,
        )
        if moved.letter_outcome is LetterStatus.UNDELIVERABLE and sent.letter_outcome is None:
            self._undeliverable(now, sent.step)
        return True

    def _undeliverable(self, now: datetime, step_name: str) -> None:
        """A letter returned "destinataire inconnu": later letters cannot go there, a person finds the
        address."""
        if Channel.REGISTERED_LETTER not in self.unusable:
            self.unusable.append(Channel.REGISTERED_LETTER)
        task = UNUSABLE_TASK[Channel.REGISTERED_LETTER]
        self.open_calls[task] = CallTask(step=task, opened_at=now)
        self._notice_not_received(now, step_name)

    def _notice_not_received(self, now: datetime, step_name: str) -> None:
        """A formal notice that never reached the customer (returned, bounced) holds the hand-over
        until a person confirms the demand was made, even a hand-over already held for a retry."""
        notice = [i for i, s in enumerate(self.steps) if s.name == step_name and s.stage is Stage.FORMAL_NOTICE]
        if not notice or self.outcome is not None or (self.hold is not None and self.hold.index <= notice[0]):
            return
        self.hold = Hold(index=notice[0], retry_at=None)
        self.open_calls[step_name] = CallTask(step=step_name, opened_at=now)

    def message_event(self, now: datetime, e: MessageEvent) -> bool:
        sent = self.messages.get(e.message_id)
        if sent is None:
            # A provider can report (a "dropped" e-mail) before the case has recorded the send: kept
            # until it does, a bounded few, since the webhook answered and will not send it again.
            if e.message_id in self.early_events or len(self.early_events) >= MAX_EARLY_EVENTS:
                return False
            self.early_events[e.message_id] = e
            return True
        if sent.channel != e.channel.value:
            return False
        if sent.delivery != MessageEventKind.BOUNCED.value:
            # A bounce stays: a "delivered" that arrives after it (out of order) does not hide it.
            self.messages[e.message_id] = sent.model_copy(update={"delivery": e.kind.value, "delivery_at": e.at})
        if e.kind is not MessageEventKind.BOUNCED:
            return True
        if e.channel is Channel.EMAIL:
            self._notice_not_received(now, sent.step)
        if e.channel in self.unusable or e.channel not in UNUSABLE_TASK:
            return True
        self.unusable.append(e.channel)
        task = UNUSABLE_TASK[e.channel]
        self.open_calls[task] = CallTask(step=task, opened_at=now)
        reason = f": {e.detail}" if e.detail else ""
        self._recorded(
            now, task, e.channel.value, f"{sent.step} not delivered{reason}; later steps use another channel"
        )
        return True
