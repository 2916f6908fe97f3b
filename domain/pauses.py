"""The three pauses of a case: an open dispute, a promise to pay, an installment plan."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from domain.calendar import send_slot
from domain.models import Installment

ZERO = Decimal("0.00")


class DisputeState(BaseModel):
    reason: str
    opened_on: date


class PromiseState(BaseModel):
    promised_on: date
    amount: Decimal | None
    paid_at_promise: Decimal
    resume_at: datetime


class PlanState(BaseModel):
    installments: list[Installment]
    paid_at_agreement: Decimal
    checked: int = 0
    # Days after an installment's due date before it is checked (the policy's installment grace).
    grace_days: int = 3
    # A dispute resolved after an installment fell due gives the customer until then to catch up.
    not_before: datetime | None = None

    def check_at(self, index: int) -> datetime:
        at = send_slot(self.installments[index].due_on + timedelta(days=self.grace_days))
        return max(at, self.not_before) if self.not_before is not None else at

    def due_by(self, index: int) -> Decimal:
        return sum((i.amount for i in self.installments[: index + 1]), ZERO)
