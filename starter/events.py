"""Billing events: what the billing system pushes (`POST /events`, `dunning events import`).

Every event is an envelope, one JSON object (one line in a JSONL file):

    {"event_id": "evt-123", "type": "payment.received", "data": {"invoice_id": "F-2026-0042", ...}}

- `event_id`: unique per business event, chosen by the sender; sending it again changes nothing.
- `type`: one of `EVENT_TYPES` below.
- `data`: for `invoice.created` exactly the workflow input (`domain.models.InvoiceInput`); for every
  other type `invoice_id` plus the fields of the signal it becomes (`event_id` excluded: the envelope's
  is passed on to the workflow, which deduplicates on it).

| type                      | signal                  | data fields besides invoice_id                 |
|---------------------------|-------------------------|------------------------------------------------|
| invoice.created           | (starts the case)       | InvoiceInput                                   |
| invoice.updated           | invoice_updated         | amount?, due_on?                               |
| invoice.cancelled         | invoice_cancelled       | reason                                         |
| payment.received          | payment_received        | payment_id, amount, received_on, reference?    |
| payment.reversed          | payment_reversed        | payment_id, reason?                            |
| dispute.opened            | dispute_opened          | reason                                         |
| dispute.resolved          | dispute_resolved        | outcome, credited_amount?                      |
| installment_plan.agreed   | installment_plan_agreed | installments [{due_on, amount}]                |
| promise_to_pay.recorded   | promise_to_pay          | promised_on, amount?                           |
| call.logged               | call_logged             | step, outcome, note?, promised_on?,            |
|                           |                         | promised_amount?, reason?, contact?            |

Ingress is strict where the workflow contract is lenient: unknown fields are refused (`extra="forbid"`)
so a misspelt optional field (`referense`) is reported with its name instead of being silently dropped.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from domain.calendar import paris_date
from domain.models import (
    CallLogged,
    Customer,
    DisputeOpened,
    DisputeResolved,
    InstallmentPlanAgreed,
    InvoiceCancelled,
    InvoiceInput,
    InvoiceUpdated,
    PaymentReceived,
    PaymentReversed,
    PostalAddress,
    PromiseToPay,
    Signal,
)
from dunning.contract import SignalName

_FORBID = ConfigDict(extra="forbid", frozen=True)
EventId = Annotated[str, Field(min_length=1, max_length=200)]
InvoiceRef = Annotated[str, Field(min_length=1, max_length=64)]


# The contract models ignore unknown fields (rolling deploys); these strict twins refuse them.
class _StrictAddress(PostalAddress):
    model_config = _FORBID


class _StrictCustomer(Customer):
    model_config = _FORBID
    postal_address: _StrictAddress | None = None


class InvoiceCreatedData(InvoiceInput):
    model_config = _FORBID
    customer: _StrictCustomer

    def to_input(self) -> InvoiceInput:
        return InvoiceInput.model_validate(self.model_dump())


class _SignalData(BaseModel):
    """Mixin: the invoice the signal goes to; the signal's own event_id comes from the envelope."""

    invoice_id: InvoiceRef

    @model_validator(mode="before")
    @classmethod
    def _no_event_id(cls, data: object) -> object:
        # Inherited from the signal model, but two ids for one event would be ambiguous.
        if isinstance(data, dict) and "event_id" in data:
            raise ValueError("event_id belongs in the envelope, not in data")
        return data


class InvoiceUpdatedData(_SignalData, InvoiceUpdated):
    model_config = _FORBID


class InvoiceCancelledData(_SignalData, InvoiceCancelled):
    model_config = _FORBID


class PaymentReceivedData(_SignalData, PaymentReceived):
    model_config = _FORBID


class PaymentReversedData(_SignalData, PaymentReversed):
    model_config = _FORBID


class DisputeOpenedData(_SignalData, DisputeOpened):
    model_config = _FORBID


class DisputeResolvedData(_SignalData, DisputeResolved):
    model_config = _FORBID


class InstallmentPlanAgreedData(_SignalData, InstallmentPlanAgreed):
    model_config = _FORBID


# A promise further ahead than this is a typing error (2062 for 2026), not a promise: refused here,
# where the sender hears of it, rather than pausing a case for decades.
PROMISE_HORIZON = timedelta(days=366)


def _promise_within_horizon(promised_on: date | None) -> date | None:
    if promised_on is not None and promised_on > paris_date(datetime.now(UTC)) + PROMISE_HORIZON:
        raise ValueError(f"{promised_on} is more than {PROMISE_HORIZON.days} days ahead: check the date")
    return promised_on


class PromiseToPayData(_SignalData, PromiseToPay):
    model_config = _FORBID

    _horizon = field_validator("promised_on")(_promise_within_horizon)


class CallLoggedData(_SignalData, CallLogged):
    model_config = _FORBID

    _horizon = field_validator("promised_on")(_promise_within_horizon)


class _Event(BaseModel):
    model_config = _FORBID
    event_id: EventId


class InvoiceCreated(_Event):
    type: Literal["invoice.created"]
    data: InvoiceCreatedData

    @property
    def invoice_id(self) -> str:
        return self.data.invoice_id


class SignalEvent(_Event):
    """An event that becomes one signal to the invoice's workflow."""

    signal_name: ClassVar[str]
    signal_model: ClassVar[type[Signal]]
    data: _SignalData

    @property
    def invoice_id(self) -> str:
        return self.data.invoice_id

    def signal(self) -> Signal:
        """The signal model the workflow takes, carrying the envelope's event_id."""
        fields = self.data.model_dump(exclude={"invoice_id", "event_id"})
        return self.signal_model.model_validate({**fields, "event_id": self.event_id})


class InvoiceUpdatedEvent(SignalEvent):
    signal_name = SignalName.INVOICE_UPDATED
    signal_model = InvoiceUpdated
    type: Literal["invoice.updated"]
    data: InvoiceUpdatedData


class InvoiceCancelledEvent(SignalEvent):
    signal_name = SignalName.INVOICE_CANCELLED
    signal_model = InvoiceCancelled
    type: Literal["invoice.cancelled"]
    data: InvoiceCancelledData


class PaymentReceivedEvent(SignalEvent):
    signal_name = SignalName.PAYMENT_RECEIVED
    signal_model = PaymentReceived
    type: Literal["payment.received"]
    data: PaymentReceivedData


class PaymentReversedEvent(SignalEvent):
    signal_name = SignalName.PAYMENT_REVERSED
    signal_model = PaymentReversed
    type: Literal["payment.reversed"]
    data: PaymentReversedData


class DisputeOpenedEvent(SignalEvent):
    signal_name = SignalName.DISPUTE_OPENED
    signal_model = DisputeOpened
    type: Literal["dispute.opened"]
    data: DisputeOpenedData


class DisputeResolvedEvent(SignalEvent):
    signal_name = SignalName.DISPUTE_RESOLVED
    signal_model = DisputeResolved
    type: Literal["dispute.resolved"]
    data: DisputeResolvedData


class InstallmentPlanAgreedEvent(SignalEvent):
    signal_name = SignalName.INSTALLMENT_PLAN_AGREED
    signal_model = InstallmentPlanAgreed
    type: Literal["installment_plan.agreed"]
    data: InstallmentPlanAgreedData


class PromiseToPayEvent(SignalEvent):
    signal_name = SignalName.PROMISE_TO_PAY
    signal_model = PromiseToPay
    type: Literal["promise_to_pay.recorded"]
    data: PromiseToPayData


class CallLoggedEvent(SignalEvent):
    signal_name = SignalName.CALL_LOGGED
    signal_model = CallLogged
    type: Literal["call.logged"]
    data: CallLoggedData


Event = Annotated[
    InvoiceCreated
    | InvoiceUpdatedEvent
    | InvoiceCancelledEvent
    | PaymentReceivedEvent
    | PaymentReversedEvent
    | DisputeOpenedEvent
    | DisputeResolvedEvent
    | InstallmentPlanAgreedEvent
    | PromiseToPayEvent
    | CallLoggedEvent,
    Field(discriminator="type"),
]
EVENT: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_BATCH: TypeAdapter[Event | list[Event]] = TypeAdapter(Event | list[Event])
EVENT_TYPES = (
    "invoice.created",
    "invoice.updated",
    "invoice.cancelled",
    "payment.received",
    "payment.reversed",
    "dispute.opened",
    "dispute.resolved",
    "installment_plan.agreed",
    "promise_to_pay.recorded",
    "call.logged",
)


def parse_event(text: str | bytes) -> Event:
    """One event from JSON text; raises ValidationError (use `describe_errors`)."""
    return EVENT.validate_json(text)


def describe_errors(error: ValidationError) -> list[str]:
    """`data.amount: Input should be greater than 0`: the field path as the sender wrote it.

    Pydantic puts the discriminator value ("payment.received") in the path of a tagged union; it is
    dropped since the sender did not write it as a key.
    """
    messages = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"] if part not in EVENT_TYPES]
        where = ".".join(loc) or ("type" if item["type"].startswith("union_tag") else "(event)")
        messages.append(f"{where}: {item['msg']}")
    return messages
