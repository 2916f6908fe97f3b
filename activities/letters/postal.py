"""Posting a registered letter: the one postal interface, and its outbox implementation.

A real provider adapter (printing and posting on paper, or an electronic registered letter) plugs in
behind the same `PostalAdapter`; the outbox is the default, for development and tests.

The outbox reports a letter accepted and posted as soon as it is written. A developer simulates what
happens next by writing `statuses.json` into the letter's folder (`<outbox>/letters/<message_id>/`),
a list of `{"status": "delivered", "at": "2026-03-02T10:15:00+01:00"}` in the `LetterStatus`
vocabulary, and for `proof_available` the proof itself as `receipt-proof.pdf` (a deposit proof as
`deposit-proof.pdf`). The outbox never makes up a proof: without the file, none is reported.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from activities.delivery import Receipt
from activities.outbox import Outbox
from domain.models import PostalAddress
from domain.tracking import LetterStatus, ProofKind


@dataclass(frozen=True)
class Letter:
    message_id: str
    recipient: str
    address: PostalAddress
    html: str
    # What is printed and posted (or sent as an LRE); the case file keeps the same bytes.
    pdf: bytes
    # The recipient's e-mail, for an electronic registered letter (LRE) where one is allowed.
    email: str
    # A business may get an LRE; a consumer only after consenting to electronic delivery (CPCE L100).
    electronic_allowed: bool
    registered: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def sent_to(self) -> str:
        a = self.address
        return ", ".join([self.recipient, *a.lines, f"{a.postcode} {a.city}", a.country])

    @property
    def sent_content(self) -> bytes:
        return self.pdf

    @property
    def document(self) -> bytes:
        return self.pdf


@dataclass(frozen=True)
class ProviderEvent:
    """One status in a provider's history of a letter, in the provider's own words."""

    code: str
    at: datetime


@dataclass(frozen=True)
class ProviderTracking:
    events: list[ProviderEvent]
    # What the provider needs to hand out this letter's proofs (Merci Facteur: the La Poste number).
    proof_ref: str | None


@dataclass(frozen=True)
class ProofDocument:
    content: bytes
    extension: str


class TrackingUnavailable(Exception):
    """The provider cannot be asked now (unreachable, 429, 5xx, no answer): worth asking again."""


class TrackingRefused(Exception):
    """The provider refused the question or answered nonsense: asking again will not help."""


class PostalAdapter(Protocol):
    """A real provider or the local outbox; chosen by configuration, same contract."""

    name: str

    def send(self, message: Letter) -> Receipt: ...

    def track(self, provider_message_id: str) -> ProviderTracking:
        """The letter's status history; raises `TrackingUnavailable` or `TrackingRefused`."""
        ...

    def fetch_proof(self, proof_ref: str, kind: ProofKind) -> ProofDocument | None:
        """The proof, or None while the provider has none yet."""
        ...


class OutboxLetters:
    name = "outbox"

    def __init__(self, root: Path) -> None:
        self._outbox = Outbox(root, "letters")

    def send(self, message: Letter) -> Receipt:
        self._outbox.write(
            message.message_id,
            {
                "message_id": message.message_id,
                "recipient": message.recipient,
                "address": message.address.model_dump(),
                "registered": message.registered,
            },
            {"letter.html": message.html, "letter.pdf": message.pdf},
        )
        return Receipt(provider=self.name, provider_message_id=message.message_id)

    def track(self, provider_message_id: str) -> ProviderTracking:
        folder = self._outbox.directory / provider_message_id
        envelope = folder / "envelope.json"
        if not envelope.exists():
            raise TrackingRefused(f"no letter {provider_message_id} in the outbox")
        written = datetime.fromtimestamp(envelope.stat().st_mtime, UTC)
        events = [ProviderEvent(LetterStatus.ACCEPTED, written), ProviderEvent(LetterStatus.POSTED, written)]
        simulated = folder / "statuses.json"
        if simulated.exists():
            try:
                for entry in json.loads(simulated.read_text(encoding="utf-8")):
                    at = datetime.fromisoformat(entry["at"])
                    if at.tzinfo is None:
                        raise ValueError(f"{entry['at']!r} has no UTC offset")
                    events.append(ProviderEvent(str(entry["status"]), at))
            except (ValueError, KeyError, TypeError) as err:
                raise TrackingRefused(f"{simulated}: {err}") from err
        return ProviderTracking(events, proof_ref=provider_message_id)

    def fetch_proof(self, proof_ref: str, kind: ProofKind) -> ProofDocument | None:
        proof = self._outbox.directory / proof_ref / f"{kind.value}-proof.pdf"
        return ProofDocument(proof.read_bytes(), "pdf") if proof.exists() else None
