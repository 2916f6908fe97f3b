"""The public contract of an InvoiceDunning case: its input, its signals, its status and its result.

Other systems (billing, bank reconciliation, the web UI's users) rely on these shapes exactly. Fields
may be added, never renamed or removed. Unknown fields are ignored rather than refused so that a newer
ingress can signal an older worker during a rolling deploy without the signal being dropped.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator
from stdnum import iso11649
from stdnum.fr import siren

from domain.calendar import paris_date
from domain.money import Amount, Balance, Currency, PositiveAmount

IdText = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:-]*$")


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --------------------------------------------------------------------------------------------- input


class CustomerKind(StrEnum):
    BUSINESS = "business"
    CONSUMER = "consumer"


class Segment(StrEnum):
    STANDARD = "standard"
    NEW = "new"
    STRATEGIC = "strategic"
    BAD_PAYER = "bad_payer"


class PostalAddress(Model):
    lines: list[str] = Field(min_length=1, max_length=4)
    postcode: str = Field(min_length=2, max_length=12)
    city: str = Field(min_length=1)
    country: str = Field(default="FR", pattern=r"^[A-Z]{2}$")


class Customer(Model):
    customer_id: str = IdText
    name: str = Field(min_length=1, max_length=200)
    kind: CustomerKind
    email: EmailStr
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164")
    segment: Segment = Segment.STANDARD
    language: Literal["fr", "en"] = "fr"
    postal_address: PostalAddress | None = None
    # Printed on the formal notice and in the litigation dossier (fr-late-payment-law §5, §7).
    siren: str | None = Field(default=None, description="French company number (9 digits)")
    # A consumer gets an electronic registered letter only after accepting electronic delivery (CPCE
    # L100); without it the letter goes on paper. A business needs no consent.
    electronic_delivery_consent: bool = False

    @field_validator("siren")
    @classmethod
    def _valid_siren(cls, value: str | None) -> str | None:
        if value is None:
            return None
        compact = siren.compact(value)
        if not siren.is_valid(compact):
            raise ValueError(f"{value!r} is not a valid SIREN (9 digits, Luhn check)")
        return str(compact)


class InvoiceInput(Model):
    invoice_id: str = IdText
    amount: PositiveAmount
    currency: Currency
    issued_on: date
    due_on: date
    payment_reference: str | None = Field(default=None, description="ISO 11649 RF creditor reference")
    # The order or contract the invoice bills, named on the formal notice.
    order_reference: str | None = Field(default=None, min_length=1, max_length=100)
    customer: Customer
    # A business customer's contractual late-penalty rate (a year, in percent); without it the legal
    # default (ECB + 10 points) applies. Consumers owe the legal interest rate only.
    penalty_rate_percent: Decimal | None = Field(default=None, gt=0, le=100, decimal_places=2)

    @field_validator("payment_reference")
    @classmethod
    def _valid_rf(cls, value: str | None) -> str | None:
        if value is None:
            return None
        compact = iso11649.compact(value)
        if not iso11649.is_valid(compact):
            raise ValueError(f"{value!r} is not a valid ISO 11649 (RF) creditor reference")
        return str(compact)

    @model_validator(mode="after")
    def _due_after_issue(self) -> InvoiceInput:
        if self.due_on < self.issued_on:
            raise ValueError(f"due_on {self.due_on} is before issued_on {self.issued_on}")
        return self

    @model_validator(mode="after")
    def _rate_for_businesses(self) -> InvoiceInput:
        if self.penalty_rate_percent is not None and self.customer.kind is CustomerKind.CONSUMER:
            raise ValueError("penalty_rate_percent applies to business customers only (consumers owe legal interest)")
        return self

    @property
    def workflow_id(self) -> str:
        return workflow_id_for(self.invoice_id)


def workflow_id_for(invoice_id: str) -> str:
    return f"invoice-{invoice_id}"


# ------------------------------------------------------------------------------------------- signals


class Signal(Model):
    # Billing and bank events carry their own id; a repeated id changes nothing.
    event_id: str | None = Field(default=None, max_length=200)


class PaymentReceived(Signal):
    payment_id: str = Field(min_length=1, max_length=200)
    amount: PositiveAmount
    received_on: date
    reference: str | None = None


class PaymentReversed(Signal):
    payment_id: str = Field(min_length=1, max_length=200)
    reason: str | None = None


class DisputeOpened(Signal):
    reason: str = Field(min_length=1)


class DisputeResolved(Signal):
    outcome: Literal["rejected", "credit_note"]
    credited_amount: PositiveAmount | None = None

    @model_validator(mode="after")
    def _credit_needs_amount(self) -> DisputeResolved:
        if self.outcome == "credit_note" and self.credited_amount is None:
            raise ValueError("credited_amount is required when outcome is 'credit_note'")
        if self.outcome == "rejected" and self.credited_amount is not None:
            raise ValueError("credited_amount must be empty when outcome is 'rejected'")
        return self


class Installment(Model):
    due_on: date
    amount: PositiveAmount


class InstallmentPlanAgreed(Signal):
    installments: list[Installment] = Field(min_length=1, max_length=60)

    @field_validator("installments")
    @classmethod
    def _increasing_dates(cls, value: list[Installment]) -> list[Installment]:
        dates = [i.due_on for i in value]
        if dates != sorted(set(dates)):
            raise ValueError("installments must have distinct due_on dates in increasing order")
        return value


class PromiseToPay(Signal):
    promised_on: date
    amount: PositiveAmount | None = None


class CallOutcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    INVOICE_NOT_RECEIVED = "invoice_not_received"
    PROMISED = "promised"
    DISPUTED = "disputed"


class NonPaymentReason(StrEnum):
    """Why the customer has not paid, as the level calls' script asks it."""

    FUNDS = "funds"
    BANK_DETAILS = "bank_details"
    DIRECT_DEBIT_MANDATE = "direct_debit_mandate"
    EXPIRED_CARD = "expired_card"
    DISPUTE = "dispute"
    OTHER = "other"


class CallLogged(Signal):
    step: str = Field(min_length=1)
    outcome: CallOutcome
    note: str | None = None
    # With `promised`: the date (and amount) the customer committed to, recorded as a promise to pay.
    promised_on: date | None = None
    promised_amount: PositiveAmount | None = None
    reason: NonPaymentReason | None = None
    # The right person to talk to at the customer, when the call found a new one.
    contact: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _promise_needs_promised_outcome(self) -> CallLogged:
        if (self.promised_on or self.promised_amount) and self.outcome is not CallOutcome.PROMISED:
            raise ValueError("promised_on and promised_amount go with outcome 'promised'")
        if self.promised_amount is not None and self.promised_on is None:
            raise ValueError("promised_amount needs promised_on")
        return self


class InvoiceUpdated(Signal):
    amount: PositiveAmount | None = None
    due_on: date | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> InvoiceUpdated:
        if self.amount is None and self.due_on is None:
            raise ValueError("invoice_updated needs amount or due_on")
        return self


class SegmentChanged(Signal):
    """The customer's segment changed (a person, or the ingress's derivation): the case follows the
    ladder of its new segment from where it stands."""

    segment: Segment
    # Why, as the case shows it ("bad_payer: 3 late invoices since 2026-03"); no personal data.
    reason: str = Field(min_length=1, max_length=300)


class EscalationApproved(Signal):
    """A person's go-ahead for a step the policy gates (`approval = true`); given in advance, it
    applies when the step falls due. Without a step: the one the case waits on."""

    step: str | None = Field(default=None, min_length=1, max_length=64)
    by: str = Field(min_length=1, max_length=100, description="who approved: a user id, not a name")


class EscalationHeld(Signal):
    """A person keeps the gated step waiting, and says why."""

    step: str | None = Field(default=None, min_length=1, max_length=64)
    by: str = Field(min_length=1, max_length=100, description="who decided: a user id, not a name")
    reason: str = Field(min_length=1, max_length=300)


class InvoiceCancelled(Signal):
    reason: str = Field(min_length=1)


# ------------------------------------------------------------------------------------ status, result


class Stage(StrEnum):
    SCHEDULED = "scheduled"
    PREVENTIVE = "preventive"
    LEVEL_1 = "level_1"
    LEVEL_2 = "level_2"
    LEVEL_3 = "level_3"
    FORMAL_NOTICE = "formal_notice"
    # A step the policy gates fell due and waits for a person's go-ahead.
    AWAITING_APPROVAL = "awaiting_approval"
    DISPUTED = "disputed"
    PROMISED = "promised"
    INSTALLMENT_PLAN = "installment_plan"
    SETTLED = "settled"
    CANCELLED = "cancelled"
    LITIGATION = "litigation"


class Outcome(StrEnum):
    SETTLED = "settled"
    CANCELLED = "cancelled"
    LITIGATION = "litigation"


class ActionStatus(StrEnum):
    SENT = "sent"
    # The provider may have accepted it but the worker died before recording so: never re-sent,
    # flagged for a person to check against the provider's activity log.
    UNCONFIRMED = "unconfirmed"
    FAILED = "failed"
    SKIPPED = "skipped"
    OPEN = "open"  # a call task waiting for a person
    DONE = "done"
    RECORDED = "recorded"  # an event that changed the case (payment, dispute, ...)


class LetterStatus(StrEnum):
    ACCEPTED = "accepted"  # the provider has the letter
    POSTED = "posted"  # deposited with the postal service (or sent, for an electronic letter): deposit proof
    DELIVERED = "delivered"  # signed for (paper) or accepted by the recipient (electronic)
    REFUSED = "refused"
    UNCLAIMED = "unclaimed"  # "pli avisé et non réclamé", or an electronic letter left unopened 15 days
    UNDELIVERABLE = "undeliverable"  # wrong address ("destinataire inconnu à l'adresse")
    PROOF_AVAILABLE = "proof_available"  # the receipt (or refusal, neglect) proof can be fetched


class ProofKind(StrEnum):
    DEPOSIT = "deposit"  # preuve de dépôt
    RECEIPT = "receipt"  # avis de réception, or proof of refusal / neglect for an electronic letter


class Proof(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ProofKind
    # Where the case file keeps the document (relative to the case-file root), and its SHA-256.
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class SentMessage(Model):
    """One message the case sent, as it can prove it: to whom, by which provider, a hash of exactly
    what was rendered (and, for a letter, the PDF kept in the case file), and what came back."""

    message_id: str
    step: str
    channel: str
    sent_at: datetime
    status: ActionStatus
    provider: str | None = None
    provider_message_id: str | None = None
    recipient: str | None = None
    content_sha256: str | None = None
    document: str | None = None
    # The latest thing the provider reported (a LetterStatus or a MessageEventKind value) and when.
    delivery: str | None = None
    delivery_at: datetime | None = None
    # For a registered letter: its outcome (delivered, refused, unclaimed, undeliverable), the day of
    # it, and the proofs kept in the case file.
    letter_outcome: LetterStatus | None = None
    outcome_at: datetime | None = None
    proofs: list[Proof] = Field(default_factory=list)


class Action(Model):
    step: str
    channel: str
    at: datetime
    status: ActionStatus
    detail: str | None = None


class NextAction(Model):
    step: str
    at: datetime


class PaymentMade(Model):
    received_on: date
    amount: Decimal


class PenaltySegment(Model):
    """One line of a computation: a period at one rate on one principal (split at semesters, payments)."""

    first_day: date
    last_day: date
    days: int
    principal: Decimal
    rate_percent: Decimal
    interest: Decimal  # this line's share, to the cent; the total is rounded once, on the exact sum


class PenaltyStatement(Model):
    """What late payment adds to a debt on `as_of` (fr-late-payment-law.md §1-4), decimal strings in JSON."""

    kind: CustomerKind
    as_of: date
    # The first day interest runs: due date + 1 (business), formal notice + 1 (consumer), None before.
    since: date | None
    rate: Literal["default", "contractual", "legal"]
    imputation: Literal["interest", "principal"]
    interest: Decimal
    # The part of the payments that settled interest (imputation "interest", Code civil 1343-1).
    interest_paid: Decimal
    indemnity: Decimal
    # Interest and indemnity: what late payment adds.
    total: Decimal
    # Principal still due, then the whole debt: principal + interest not yet paid + indemnity.
    principal_due: Decimal
    total_due: Decimal
    segments: list[PenaltySegment]
    sources: list[str]
    warnings: list[str] = Field(default_factory=list)


class CaseStatus(Model):
    invoice_id: str
    customer_id: str
    stage: Stage
    amount: Decimal
    currency: str
    due_on: date
    paid: Decimal
    credited: Decimal
    balance: Decimal
    days_overdue: int
    next_action: NextAction | None
    open_calls: list[str]
    actions: list[Action]
    outcome: Outcome | None = None
    # A query answers as of the case's last workflow task, which for a sleeping case may be weeks ago.
    as_of: datetime | None = None
    # The day days_overdue stopped counting (settled, cancelled or handed over), if it did.
    overdue_until: date | None = None
    messages: list[SentMessage] = Field(default_factory=list)
    # The customer's contact person, as a credit controller last noted it on a call.
    contact: str | None = None
    # Channels a provider reported unusable for this customer (a bounced e-mail, an SMS undelivered).
    unusable_channels: list[str] = Field(default_factory=list)
    # A message the provider is being asked to deliver (retried through an outage), and since when.
    sending: NextAction | None = None
    # The day the claim is time-barred unless interrupted (a court claim, an acknowledgement).
    limitation_on: date | None = None
    # What penalties are computed from: payments with the day they reached us, the customer's kind
    # and contractual rate.
    payments: list[PaymentMade] = Field(default_factory=list)
    customer_kind: CustomerKind | None = None
    penalty_rate_percent: Decimal | None = None
    # Penalties to date, filled by the reader (starter.cases), never by the workflow: rates are the
    # operator's data, read at process start. `penalties_unavailable` says why there are none.
    penalties: PenaltyStatement | None = None
    penalties_unavailable: str | None = None
    # The policy the case follows (its version id), its segment, and a gated step waiting for approval.
    policy_version: str | None = None
    segment: Segment | None = None
    awaiting_approval: str | None = None

    def read_at(self, now: datetime) -> CaseStatus:
        """The figures that depend on time, brought to `now` (what the API and the CLI show)."""
        if self.overdue_until is not None or self.outcome is not None:
            return self.model_copy(update={"as_of": now})
        today = paris_date(now)
        return self.model_copy(update={"as_of": now, "days_overdue": max(0, (today - self.due_on).days)})


class DunningResult(Model):
    outcome: Outcome
    balance: Balance
    closed_on: date
    overpayment: Amount = Decimal("0.00")
