"""What the workflow asks a channel to deliver, and what comes back.

The workflow decides *what* and *when*; the activity renders and sends. Everything a template needs is
in the request, computed deterministically by the workflow, so a retried activity renders the same
message.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import NAMESPACE_URL, uuid5

from pydantic import BaseModel, ConfigDict

from domain.ladder import Channel
from domain.models import Action, Customer, SentMessage


class PaymentLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    received_on: date
    amount: Decimal


class MessageRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str
    workflow_id: str
    step: str
    channel: Channel
    invoice_id: str
    issued_on: date
    due_on: date
    amount: Decimal
    credited: Decimal
    paid: Decimal
    balance: Decimal
    currency: str
    payment_reference: str | None
    customer: Customer
    as_of: date
    days_overdue: int
    payments: list[PaymentLine]
    # Set for the formal notice: the date by which payment is demanded.
    deadline: date | None = None
    # The channels that really reached the customer before this message: a message claims no other.
    reached_by: list[Channel] = []
    order_reference: str | None = None
    # The customer's contractual late-penalty rate, if the invoice has one (else the legal default).
    penalty_rate_percent: Decimal | None = None
    # The step's level in its ladder (0 before the due date, 4 for formal notice): what a message
    # may state depends on it (penalties from level 2), whatever the policy calls the step.
    # None in a request scheduled before policies (retried after the deploy): its step is a 2026-11 one.
    level: int | None = None
    # The template the policy names for the step, when not the step's own name.
    template: str | None = None

    @property
    def template_name(self) -> str:
        return self.template or self.step


class HandoverRequest(BaseModel):
    """The litigation dossier (fr-late-payment-law.md §7): the case and its whole trail."""

    model_config = ConfigDict(frozen=True)

    message: MessageRequest
    actions: list[Action]
    # The messages the case can prove it sent, whose documents and proofs go into the dossier. Empty
    # in hand-overs scheduled before the dossier carried them.
    messages: list[SentMessage] = []
    # "court" or "collection_agency" as the case's policy says; None: the operator's setting.
    destination: str | None = None


class DeliveryStatus(StrEnum):
    SENT = "sent"
    UNCONFIRMED = "unconfirmed"


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str
    status: DeliveryStatus
    provider: str
    provider_message_id: str | None
    accepted_at: datetime | None
    detail: str | None = None
    # What the case must be able to prove it sent: to whom, and a hash of exactly what was rendered
    # (for a letter, of the PDF, which the case file keeps at `document`).
    recipient: str | None = None
    content_sha256: str | None = None
    document: str | None = None


def message_id_for(workflow_id: str, step: str, occurrence: int = 0) -> str:
    """Opaque, stable across retries, worker restarts and continue-as-new; no personal data."""
    return uuid5(NAMESPACE_URL, f"dunning:{workflow_id}/{step}/{occurrence}").hex
