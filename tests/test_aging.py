"""The aging report on a known book, figures worked out by hand (starter/aging.py gives the definitions)."""

from datetime import date
from decimal import Decimal

import pytest

from domain.models import Stage
from starter.aging import NO_REMINDER, StepRecovery, age_bucket, aging_report, paid_after
from tests.aging_helpers import AS_OF, BOOK, case

WATCHING = case(
    "M",
    stage=Stage.SETTLED,
    amount="100.00",
    paid="100.00",
    due_on="2026-11-20",
    sent=(("level1_email", "2026-11-21"),),
    payments=(("2026-11-25", "2026-11-25"),),
)


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-5, "not_due"),
        (0, "not_due"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
        (400, "90+"),
    ],
)
def test_age_buckets_bounds(days: int, bucket: str) -> None:
    assert age_bucket(days) == bucket


@pytest.mark.parametrize(
    ("invoice_id", "expected"),
    [
        ("E", ("level2_email", date(2026, 10, 19))),
        ("F", ("level1_email", date(2026, 11, 14))),
        ("G", (NO_REMINDER, date(2026, 11, 18))),
        ("J", None),  # credit note
        ("A", None),  # still open
        ("M", ("level1_email", date(2026, 11, 25))),  # settled, still watching for a reversal
    ],
)
def test_the_reminder_that_got_paid(invoice_id: str, expected: tuple[str, date] | None) -> None:
    assert paid_after(next(c for c in [*BOOK, WATCHING] if c.invoice_id == invoice_id)) == expected


def test_book_figures_per_currency() -> None:
    report = aging_report(BOOK, AS_OF)
    assert [b.currency for b in report.books] == ["EUR", "GBP"]
    eur, gbp = report.books
    assert (eur.cases, eur.outstanding_cases, eur.outstanding) == (9, 4, Decimal("6100.00"))
    assert eur.by_stage == {
        "level_1": Decimal("1000.00"),
        "level_3": Decimal("1500.00"),
        "litigation": Decimal("3000.00"),
        "scheduled": Decimal("600.00"),
    }
    assert eur.by_age == {
        "not_due": Decimal("600.00"),
        "1-30": Decimal("1000.00"),
        "31-60": Decimal("1500.00"),
        "61-90": Decimal("0.00"),
        "90+": Decimal("3000.00"),
    }
    # Due in (2026-09-02, 2026-12-01]: A, B, E, F, G, H, J = 6600; 6100 / 6600 x 90 = 83.18...
    assert eur.dso_days == Decimal("83.2")
    assert (eur.in_litigation, eur.litigation_cases) == (Decimal("3000.00"), 1)
    assert (gbp.outstanding, gbp.by_age["1-30"], gbp.dso_days) == (
        Decimal("300.00"),
        Decimal("300.00"),
        Decimal("90.0"),
    )


def test_recovery_and_days_to_pay_by_step() -> None:
    steps = {s.step: s for s in aging_report(BOOK, AS_OF).books[0].steps}
    assert steps == {
        "formal_notice": StepRecovery(
            step="formal_notice",
            sent=1,
            recovered=0,
            recovered_amount=Decimal("0.00"),
            recovery_rate=Decimal("0"),
            average_days_to_pay=None,
        ),
        # A, B, E, F and J were sent it; only F was paid after it, 4 days past due.
        "level1_email": StepRecovery(
            step="level1_email",
            sent=5,
            recovered=1,
            recovered_amount=Decimal("800.00"),
            recovery_rate=Decimal("0.2"),
            average_days_to_pay=Decimal("4"),
        ),
        "level2_email": StepRecovery(
            step="level2_email",
            sent=2,
            recovered=1,
            recovered_amount=Decimal("1200.00"),
            recovery_rate=Decimal("0.5"),
            average_days_to_pay=Decimal("18"),
        ),
        "level3_email": StepRecovery(
            step="level3_email",
            sent=1,
            recovered=0,
            recovered_amount=Decimal("0.00"),
            recovery_rate=Decimal("0"),
            average_days_to_pay=None,
        ),
        NO_REMINDER: StepRecovery(
            step=NO_REMINDER,
            sent=0,
            recovered=1,
            recovered_amount=Decimal("400.00"),
            recovery_rate=None,
            average_days_to_pay=Decimal("-2"),
        ),
    }


def test_an_empty_book() -> None:
    assert aging_report([], AS_OF).books == []


def test_nothing_due_in_the_window_leaves_dso_unknown() -> None:
    only = case("L", stage=Stage.SCHEDULED, amount="100.00", due_on="2027-01-15")
    book = aging_report([only], AS_OF).books[0]
    assert (book.dso_days, book.by_age["not_due"]) == (None, Decimal("100.00"))
