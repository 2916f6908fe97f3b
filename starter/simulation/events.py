"""`--event DATE[THH:MM]:TYPE[:JSON]`: what happens to a simulated case, as the signal it would get.

The JSON gives fields of the signal's model (domain/models.py); the rest get defaults that make a
plausible event: a payment pays the balance of that day, a call is logged on the case's open call,
a promise is for a week later, a plan splits the balance in three monthly installments. An event
without a time happens at 09:30 Paris, after that morning's step (steps go at the start of sending,
09:00 by default).
"""

import json
import re
from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from domain.calendar import PARIS
from domain.models import (
    CallLogged,
    CaseStatus,
    DisputeOpened,
    DisputeResolved,
    EscalationApproved,
    InstallmentPlanAgreed,
    InvoiceCancelled,
    PaymentReceived,
    PromiseToPay,
    SegmentChanged,
    Signal,
)
from domain.tracking import LetterStatusReported
from starter.events import describe_errors
from workflows.invoice_dunning import InvoiceDunning

DEFAULT_TIME = time(9, 30)
WHO = "simulation"
NOTICE_STEP = "formal_notice"
_SPEC = re.compile(r"^(?P<day>\d{4}-\d{2}-\d{2})(?:T(?P<time>\d{2}:\d{2}))?:(?P<kind>[a-z_]+)(?::(?P<json>.*))?$", re.S)


class EventError(ValueError):
    """An --event that cannot be applied, named by its position and field."""


@dataclass(frozen=True)
class Context:
    """What the defaults of an event depend on: the case as it stands when the event happens."""

    balance: Decimal
    open_call: str | None
    notice_message_id: str | None

    @classmethod
    def of(cls, status: CaseStatus) -> "Context":
        calls = [a.step for a in status.actions if a.channel == "call" and a.step in status.open_calls]
        notices = [m.message_id for m in status.messages if m.step == NOTICE_STEP]
        return cls(status.balance, calls[-1] if calls else None, notices[-1] if notices else None)


# Checks an event's own fields before anything runs, whatever the case will look like then.
_ANY_CASE = Context(Decimal("1.00"), "level1_call", "notice")


def _payment(n: int, day: date, at: datetime, c: Context) -> dict[str, Any]:
    return {"payment_id": f"sim-payment-{n}", "amount": str(c.balance), "received_on": day.isoformat()}


def _plan(n: int, day: date, at: datetime, c: Context) -> dict[str, Any]:
    third = (c.balance / 3).quantize(Decimal("0.01"))
    amounts = [third, third, c.balance - 2 * third]
    firsts = [_months_later(day, k) for k in (1, 2, 3)]
    return {"installments": [{"due_on": d.isoformat(), "amount": str(a)} for d, a in zip(firsts, amounts, strict=True)]}


def _call(n: int, day: date, at: datetime, c: Context) -> dict[str, Any]:
    return {"step": c.open_call, "outcome": "reached"} if c.open_call else {"outcome": "reached"}


def _notice(n: int, day: date, at: datetime, c: Context) -> dict[str, Any]:
    return {"message_id": c.notice_message_id, "status": "delivered", "at": at.isoformat()}


Defaults = Callable[[int, date, datetime, Context], dict[str, Any]]
SignalMethod = Callable[[InvoiceDunning, Any], None]
# type -> (the signal on InvoiceDunning, its model, defaults); the signal's own name is accepted too.
KINDS: dict[str, tuple[SignalMethod, type[Signal], Defaults]] = {
    "payment": (InvoiceDunning.payment_received, PaymentReceived, _payment),
    "dispute": (InvoiceDunning.dispute_opened, DisputeOpened, lambda n, d, a, c: {"reason": "simulated dispute"}),
    "resolved": (InvoiceDunning.dispute_resolved, DisputeResolved, lambda n, d, a, c: {"outcome": "rejected"}),
    "promise": (
        InvoiceDunning.promise_to_pay,
        PromiseToPay,
        lambda n, d, a, c: {"promised_on": (d + timedelta(days=7)).isoformat()},
    ),
    "plan": (InvoiceDunning.installment_plan_agreed, InstallmentPlanAgreed, _plan),
    "call": (InvoiceDunning.call_logged, CallLogged, _call),
    "approval": (InvoiceDunning.escalation_approved, EscalationApproved, lambda n, d, a, c: {"by": WHO}),
    "segment": (
        InvoiceDunning.segment_changed,
        SegmentChanged,
        lambda n, d, a, c: {"reason": "simulated segment change"},
    ),
    "cancel": (
        InvoiceDunning.invoice_cancelled,
        InvoiceCancelled,
        lambda n, d, a, c: {"reason": "simulated cancellation"},
    ),
    # What a postal tracker reports of the formal notice: presented (delivered, refused, unclaimed).
    "notice": (InvoiceDunning.letter_status, LetterStatusReported, _notice),
}
_ALIASES = {method.__name__: kind for kind, (method, _, _) in KINDS.items()}


@dataclass(frozen=True)
class PlannedEvent:
    position: int
    at: datetime  # Paris, on the invoice's own calendar
    kind: str
    fields: dict[str, Any]

    @property
    def method(self) -> SignalMethod:
        return KINDS[self.kind][0]

    def signal(self, context: Context) -> Signal:
        """The signal, defaults filled from the case as it stands; EventError naming the field."""
        _, model, defaults = KINDS[self.kind]
        data = defaults(self.position, self.at.date(), self.at, context) | self.fields
        data["event_id"] = f"sim-{self.position}"
        if self.kind == "notice" and data.get("message_id") is None:
            raise EventError(f"--event {self.position} ({self.at:%Y-%m-%d}): no formal notice was sent by then")
        if self.kind == "call" and data.get("step") is None:
            raise EventError(f"--event {self.position} ({self.at:%Y-%m-%d}): no call is open then; give its step")
        try:
            return model.model_validate(data)
        except ValidationError as error:
            raise EventError(f"--event {self.position} ({self.kind}): " + "; ".join(describe_errors(error))) from None


def parse_event(position: int, spec: str) -> PlannedEvent:
    found = _SPEC.match(spec.strip())
    if found is None:
        raise EventError(f"--event {position}: {spec!r} is not DATE[THH:MM]:TYPE[:JSON] (e.g. 2027-03-20:payment)")
    kind = _ALIASES.get(found["kind"], found["kind"])
    if kind not in KINDS:
        raise EventError(f"--event {position}: unknown type {found['kind']!r} (one of {', '.join(KINDS)})")
    try:
        day = date.fromisoformat(found["day"])
        hour = time.fromisoformat(found["time"]) if found["time"] else DEFAULT_TIME
    except ValueError as error:
        raise EventError(f"--event {position}: {error}") from None
    fields: Any = {}
    if found["json"]:
        try:
            fields = json.loads(found["json"])
        except json.JSONDecodeError as error:
            raise EventError(f"--event {position}: invalid JSON: {error.msg} at column {error.colno}") from None
        if not isinstance(fields, dict):
            raise EventError(f"--event {position}: the JSON must be an object of {KINDS[kind][1].__name__} fields")
    event = PlannedEvent(position, datetime.combine(day, hour, tzinfo=PARIS), kind, fields)
    event.signal(_ANY_CASE)
    return event


def _months_later(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))
