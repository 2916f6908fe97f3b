"""What providers report back about a message once it left: the one vocabulary every channel maps to.

A registered letter moves through `LetterStatus` (reported by a provider's webhook or by polling it);
an e-mail or an SMS reports a `MessageEventKind`. Both reach the case as signals carrying the
provider's own event id as `event_id`, so a webhook delivered twice changes the case once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.ladder import Channel
from domain.models import Signal


class LetterStatus(StrEnum):
    ACCEPTED = "accepted"  # the provider has the letter
    POSTED = "posted"  # deposited with the postal service (or sent, for an electronic letter): deposit proof
    DELIVERED = "delivered"  # signed for (paper) or accepted by the recipient (electronic)
    REFUSED = "refused"
    UNCLAIMED = "unclaimed"  # "pli avisé et non réclamé", or an electronic letter left unopened 15 days
    UNDELIVERABLE = "undeliverable"  # wrong address ("destinataire inconnu à l'adresse")
    PROOF_AVAILABLE = "proof_available"  # the receipt (or refusal, neglect) proof can be fetched


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


class ProofKind(StrEnum):
    DEPOSIT = "deposit"  # preuve de dépôt
    RECEIPT = "receipt"  # avis de réception, or proof of refusal / neglect for an electronic letter


class Proof(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ProofKind
    # Where the case file keeps the document (relative to the case-file root), and its SHA-256.
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


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
