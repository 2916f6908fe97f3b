"""Closing a call task: `dunning calls log` and `POST /calls/{invoice_id}/{step}`.

A logged call goes the way of every billing event (`call.logged`), so it is de-duplicated on its event
id, kept when the case is not started yet and reported when the case is closed.
"""

import uuid
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from domain.models import CallOutcome, NonPaymentReason
from starter.dispatch import Dispatcher, Handled
from starter.events import EVENT


class CallLog(BaseModel):
    """What the person who called reports (the body of `POST /calls/{invoice_id}/{step}`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: CallOutcome
    note: str | None = None
    promised_on: date | None = None
    promised_amount: Decimal | None = None
    reason: NonPaymentReason | None = None
    contact: str | None = None
    # Sending the same log again with the same id changes nothing; without one, each log counts.
    event_id: str | None = Field(default=None, min_length=1, max_length=200)


async def log_call(dispatcher: Dispatcher, invoice_id: str, step: str, log: CallLog) -> tuple[str, Handled]:
    """The event id the log went under and what became of it. Raises pydantic.ValidationError naming
    the field for a log the case would refuse."""
    data = log.model_dump(exclude={"event_id"}, exclude_none=True, mode="json")
    event_id = log.event_id or f"call-{uuid.uuid4().hex}"
    event = EVENT.validate_python(
        {"event_id": event_id, "type": "call.logged", "data": {"invoice_id": invoice_id, "step": step, **data}}
    )
    return event_id, await dispatcher.apply(event)
