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


# A book of every kind of case, on the report's day; its figures are worked out in test_aging.py.
AS_OF = date(2026, 12, 1)
BOOK = [
    case("A", stage=Stage.LEVEL_1, amount="1000.00", due_on="2026-11-26", sent=(("level1_email", "2026-11-27"),)),
    case(
        "B",
        stage=Stage.LEVEL_3,
        amount="2000.00",
        paid="500.00",
        due_on="2026-10-15",
        sent=(("level1_email", "2026-10-16"), ("level2_email", "2026-10-23")),
    ),
    case("C", stage=Stage.SCHEDULED, amount="600.00", due_on="2026-12-20"),
    case(
        "D",
        stage=Stage.LITIGATION,
        outcome=Outcome.LITIGATION,
        amount="3000.00",
        due_on="2026-07-01",
        sent=(("formal_notice", "2026-08-05"),),
    ),
    # Paid after level2_email; the level3_email went out the day after the payment was recorded.
    case(
        "E",
        stage=Stage.SETTLED,
        outcome=Outcome.SETTLED,
        amount="1200.00",
        paid="1200.00",
        due_on="2026-10-01",
        sent=(("level1_email", "2026-10-02"), ("level2_email", "2026-10-09"), ("level3_email", "2026-10-21")),
        payments=(("2026-10-19", "2026-10-20"),),
    ),
    case(
        "F",
        stage=Stage.SETTLED,
        outcome=Outcome.SETTLED,
        amount="800.00",
        paid="800.00",
        due_on="2026-11-10",
        sent=(("level1_email", "2026-11-11"),),
        payments=(("2026-11-14", "2026-11-15"),),
    ),
    # Paid two days early, before any reminder.
    case(
        "G",
        stage=Stage.SETTLED,
        outcome=Outcome.SETTLED,
        amount="400.00",
        paid="400.00",
        due_on="2026-11-20",
        payments=(("2026-11-18", "2026-11-18"),),
    ),
    case("H", stage=Stage.CANCELLED, outcome=Outcome.CANCELLED, amount="500.00", due_on="2026-11-05"),
    # Settled by a credit note: no payment, so no reminder "got paid".
    case(
        "J",
        stage=Stage.SETTLED,
        outcome=Outcome.SETTLED,
        amount="700.00",
        credited="700.00",
        due_on="2026-11-01",
        sent=(("level1_email", "2026-11-02"),),
    ),
    case("K", stage=Stage.LEVEL_1, amount="300.00", currency="GBP", due_on="2026-11-01"),
]
