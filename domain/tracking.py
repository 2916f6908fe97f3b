"""What providers report back about a message once it left: the one vocabulary every channel maps to.

A registered letter moves through `LetterStatus` (reported by a provider's webhook or by polling it);
an e-mail or an SMS reports a `MessageEventKind`. Both reach the case as signals carrying the
provider's own event id as `event_id`, so a webhook delivered twice changes the case once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.calendar import send_slot
from domain.ladder import Channel
from domain.models import LetterStatus, Proof, ProofKind, SentMessage, Signal

__all__ = [
    "LETTER_OUTCOMES",
    "LETTER_RANK",
    "LetterStatus",
    "LetterStatusReported",
    "LetterTracking",
    "MessageEvent",
    "MessageEventKind",
    "Proof",
    "ProofKind",
    "TrackRequest",
    "Watch",
    "advance",
    "receipt_kept",
]


# How far along each status is: a report never moves a letter back (a late "posted" after "delivered").
# The four outcomes share a rank: the first one reported is the letter's outcome.
LETTER_RANK = {
    LetterStatus.ACCEPTED: 1,
    LetterStatus.POSTED: 2,
    LetterStatus.DELIVERED: 3,
    LetterStatus.REFUSED: 3,
    LetterStatus.UNCLAIMED: 3,
    LetterStatus.UNDELIVERABLE: 3,
    LetterStatus.PROOF_AVAILABLE: 4,
}
LETTER_OUTCOMES = frozenset(status for status, rank in LETTER_RANK.items() if rank == 3)


class LetterStatusReported(Signal):
    """`letter_status`: one provider report about one registered letter of the case."""

    message_id: str = Field(min_length=1, max_length=64)
    status: LetterStatus
    at: AwareDatetime
    proofs: list[Proof] = Field(default_factory=list)
    detail: str | None = Field(default=None, max_length=500)


class MessageEventKind(StrEnum):
    DELIVERED = "delivered"
    # The address or number cannot be used: later steps take another channel, a person gets a task.
    BOUNCED = "bounced"  # SendGrid bounce / dropped; Twilio undelivered / failed


class MessageEvent(Signal):
    """`message_event`: what the e-mail or SMS provider reported about one message of the case."""

    message_id: str = Field(min_length=1, max_length=64)
    channel: Channel
    kind: MessageEventKind
    at: AwareDatetime
    detail: str | None = Field(default=None, max_length=500)


class TrackRequest(BaseModel):
    """What the `track_letter` activity needs to ask the provider about one letter."""

    model_config = ConfigDict(frozen=True)

    workflow_id: str
    message_id: str
    provider: str
    provider_message_id: str


class LetterTracking(BaseModel):
    """What the provider says now: every status it reports (the case ignores the ones it has), and
    the proofs fetched and kept in the case file."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    reports: list[LetterStatusReported]
    checked_at: datetime


# Days after posting on which a letter's provider is asked again: paper is usually presented within
# two days and returned as unclaimed after 15; past a month nothing more will come.
TRACK_AFTER_DAYS = (1, 2, 3, 5, 8, 13, 21, 30)
# The provider's overnight batch has run by then.
TRACK_HOUR_AFTER_SLOT = timedelta(hours=1)


class Watch(BaseModel):
    """A registered letter whose provider is polled until its outcome and receipt are known."""

    sent_on: date
    polls: int = 0

    def next_at(self) -> datetime | None:
        if self.polls >= len(TRACK_AFTER_DAYS):
            return None
        return send_slot(self.sent_on + timedelta(days=TRACK_AFTER_DAYS[self.polls])) + TRACK_HOUR_AFTER_SLOT


LETTER_STATUSES = frozenset(status.value for status in LetterStatus)


def advance(sent: SentMessage, report: LetterStatusReported) -> SentMessage | None:
    """The letter after the report, or None when the report moves nothing: a status only moves
    forward, and the first outcome reported is the letter's outcome."""
    current = LETTER_RANK.get(LetterStatus(sent.delivery), 0) if sent.delivery in LETTER_STATUSES else 0
    update: dict[str, object] = {}
    if LETTER_RANK[report.status] > current:
        update |= {"delivery": report.status.value, "delivery_at": report.at}
    if report.status in LETTER_OUTCOMES and sent.letter_outcome is None:
        update |= {"letter_outcome": report.status, "outcome_at": report.at}
    kept = {proof.path for proof in sent.proofs}
    new_proofs = [proof for proof in report.proofs if proof.path not in kept]
    if new_proofs:
        update["proofs"] = [*sent.proofs, *new_proofs]
    return sent.model_copy(update=update) if update else None


def receipt_kept(sent: SentMessage) -> bool:
    return sent.letter_outcome is not None and any(p.kind is ProofKind.RECEIPT for p in sent.proofs)
