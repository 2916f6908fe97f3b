"""One e-mail per customer listing its invoices at the same step (policy `digest = true`).

An invoice case hands its step's e-mail (the `MessageRequest` it would have sent) to its customer's
`CustomerDigest` workflow and waits for the answer. The digest gathers the entries that arrive
within a short window, sends one e-mail listing them and answers every case. Entries go in one
digest only if they share the step, its level, the currency, the address and the language: one
message says one thing, to one inbox, with one total.

The exactly-once guarantee stays the sent-ledger's: the digest claims its own message id and the
message id of every invoice in it, which is also what a case claims when it sends on its own (its
fallback). Whoever claims an invoice's message id first is the only one to send it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import NAMESPACE_URL, uuid5

from pydantic import BaseModel, ConfigDict, Field

from domain.delivery import Delivery, MessageRequest

# Cases at the same step of the same customer wake at the same send slot, within seconds of each
# other; an entry waits this long after the first of its batch, never past its send window.
WINDOW = timedelta(minutes=15)
# A customer without entries for this long has its digest workflow end (the next entry starts a
# new one): provider reports on its e-mails (bounces) come within days.
IDLE = timedelta(days=30)
# Entries already answered are remembered this long, so a repeated hand-over is not sent again.
ANSWERED_KEPT = timedelta(days=2)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


def digest_workflow_id(customer_id: str) -> str:
    return f"customer-{customer_id}"


def digest_message_id(customer_id: str, day: date, step: str, invoice_ids: list[str]) -> str:
    """Stable across retries: the same invoices at the same step on the same day are one message."""
    key = f"dunning-digest:{customer_id}/{day.isoformat()}/{step}/{','.join(sorted(invoice_ids))}"
    return uuid5(NAMESPACE_URL, key).hex


class DigestEntry(Frozen):
    """One case's e-mail for a step, handed to its customer's digest."""

    message: MessageRequest
    # The end of the case's send window that day: the digest goes no later.
    send_by: datetime

    @property
    def batch(self) -> tuple[str, int, str, str, str]:
        m = self.message
        return (m.step, m.level or 0, m.currency, str(m.customer.email), m.customer.language)


class DigestWithdrawn(Frozen):
    """The case was paid, cancelled, disputed or paused before its digest went: leave it out."""

    message_id: str


class DigestOutcome(StrEnum):
    DELIVERED = "delivered"  # in the digest: `delivery` is what the provider said
    FAILED = "failed"  # the digest could not be sent: `detail` says why
    WITHDRAWN = "withdrawn"  # left out, as the case asked
    # The case sends its own e-mail: it was alone in its batch, or another sender holds its message
    # id in the ledger (which then answers the case's own attempt).
    OWN_MESSAGE = "own_message"


class DigestReply(Frozen):
    message_id: str  # the case's own message id, as in its entry
    outcome: DigestOutcome
    delivery: Delivery | None = None
    detail: str | None = None
    invoices: int = 0


class DigestRequest(Frozen):
    """What the send activity renders and delivers: one message for several invoices."""

    message_id: str
    workflow_id: str
    entries: list[MessageRequest] = Field(min_length=2)

    @property
    def step(self) -> str:
        return self.entries[0].step

    @property
    def latest(self) -> MessageRequest:
        """The entry handed last: its customer details are the freshest."""
        return self.entries[-1]


class DigestResult(Frozen):
    delivery: Delivery | None = None
    # Invoices whose message id another sender (a case's fallback) had claimed: left out, not sent.
    taken: list[str] = []


class Pending(Frozen):
    entry: DigestEntry
    received_at: datetime


class SentDigest(Frozen):
    message_id: str
    sent_at: datetime
    # The cases listed in it: provider reports on the digest are passed on to each.
    cases: list[str]


class DigestState(BaseModel):
    """The digest workflow's whole state, carried over continue-as-new."""

    customer_id: str
    pending: list[Pending] = []
    answered: dict[str, datetime] = {}
    sent: list[SentDigest] = []
    last_entry_at: datetime | None = None
    # Continue-as-new past this many history events (tests set it low).
    history_limit: int = Field(default=10_000, ge=10)

    def add(self, entry: DigestEntry, now: datetime, in_flight: set[str]) -> bool:
        """Keep an entry; the same message handed again (a retried hand-over) replaces the pending
        one and is ignored once being sent or answered."""
        message_id = entry.message.message_id
        self.last_entry_at = now
        if message_id in in_flight or message_id in self.answered:
            return False
        before = next((p for p in self.pending if p.entry.message.message_id == message_id), None)
        received_at = before.received_at if before else now
        self.pending = [p for p in self.pending if p is not before] + [Pending(entry=entry, received_at=received_at)]
        return True

    def withdraw(self, message_id: str) -> DigestEntry | None:
        found = next((p for p in self.pending if p.entry.message.message_id == message_id), None)
        if found is None:
            return None
        self.pending.remove(found)
        return found.entry

    def next_batch(self) -> tuple[tuple[str, int, str, str, str], datetime] | None:
        """The batch to send first and when: WINDOW after its first entry, or its earliest send-by."""
        due: dict[tuple[str, int, str, str, str], datetime] = {}
        for p in self.pending:
            at = min(p.received_at + WINDOW, max(p.entry.send_by, p.received_at))
            key = p.entry.batch
            due[key] = min(due.get(key, at), at)
        if not due:
            return None
        return min(due.items(), key=lambda item: item[1])

    def take(self, batch: tuple[str, int, str, str, str]) -> list[DigestEntry]:
        taken = [p.entry for p in self.pending if p.entry.batch == batch]
        self.pending = [p for p in self.pending if p.entry.batch != batch]
        return taken

    def request(self, entries: list[DigestEntry], day: date) -> DigestRequest:
        messages = [e.message for e in entries]
        message_id = digest_message_id(self.customer_id, day, messages[0].step, [m.invoice_id for m in messages])
        return DigestRequest(message_id=message_id, workflow_id=digest_workflow_id(self.customer_id), entries=messages)

    def cases_of(self, message_id: str) -> list[str]:
        return next((s.cases for s in self.sent if s.message_id == message_id), [])

    def prune(self, now: datetime) -> None:
        self.answered = {m: at for m, at in self.answered.items() if now - at < ANSWERED_KEPT}
        self.sent = [s for s in self.sent if now - s.sent_at < IDLE]

    def idle_until(self, now: datetime) -> datetime:
        return (self.last_entry_at or now) + IDLE
