"""Case statuses built by hand for the aging report's pure tests: only what the report reads."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

from domain.models import Action, ActionStatus, CaseStatus, Outcome, PaymentMade, SentMessage, Stage


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(9), UTC)


def case(
    invoice_id: str,
    *,
    stage: Stage,
    amount: str,
    due_on: str,
    paid: str = "0.00",
    credited: str = "0.00",
    currency: str = "EUR",
    outcome: Outcome | None = None,
    sent: tuple[tuple[str, str], ...] = (),
    payments: tuple[tuple[str, str], ...] = (),
) -> CaseStatus:
    """`sent`: (step, day sent); `payments`: (day received, day the case recorded it)."""
    total, paid_, credited_ = Decimal(amount), Decimal(paid), Decimal(credited)
    return CaseStatus(
        invoice_id=invoice_id,
        customer_id="C-1",
        stage=stage,
        amount=total,
        currency=currency,
        due_on=date.fromisoformat(due_on),
        paid=paid_,
        credited=credited_,
        balance=total - paid_ - credited_,
        days_overdue=0,
        next_action=None,
        open_calls=[],
        outcome=outcome,
        actions=[
            Action(step="payment_received", channel="bank", at=at(recorded), status=ActionStatus.RECORDED)
            for _, recorded in payments
        ],
        messages=[
            SentMessage(message_id=f"{invoice_id}:{step}", step=step, channel="email", sent_at=at(day), status=status)
            for step, day, status in ((s, d, ActionStatus.SENT) for s, d in sent)
        ],
        payments=[PaymentMade(received_on=date.fromisoformat(received), amount=total) for received, _ in payments],
    )
