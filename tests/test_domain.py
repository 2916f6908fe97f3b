"""Pure domain rules: the law's worked examples, the French calendar, input validation."""

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.calendar import add_business_days, next_business_day, send_slot
from domain.models import InvoiceInput
from domain.penalties import MissingRate, b2b_late_penalties
from tests.conftest import make_invoice


def test_penalties_match_the_worked_example_of_the_law_reference() -> None:
    # fr-late-payment-law.md §3: 10,000 EUR due 2025-06-20, paid 2025-08-10 -> 172.51 + 40.00.
    paid = [(date(2025, 8, 10), Decimal("10000"))]
    penalties = b2b_late_penalties(Decimal("10000"), date(2025, 6, 20), date(2025, 8, 10), paid)
    assert [s.days for s in penalties.segments] == [10, 41]
    assert penalties.interest == Decimal("172.51")
    assert penalties.total == Decimal("212.51")


def test_partial_payment_reduces_the_principal_from_the_next_day() -> None:
    paid = [(date(2025, 7, 15), Decimal("4000")), (date(2025, 8, 10), Decimal("6000"))]
    penalties = b2b_late_penalties(Decimal("10000"), date(2025, 6, 20), date(2025, 8, 10), paid)
    assert penalties.interest == Decimal("137.89")


def test_a_semester_without_a_verified_rate_is_never_guessed() -> None:
    with pytest.raises(MissingRate, match="2026 S2"):
        b2b_late_penalties(Decimal("100"), date(2026, 6, 20), date(2026, 7, 10), [])


def test_sends_move_to_the_next_business_day_at_9_paris() -> None:
    assert next_business_day(date(2026, 12, 25)) == date(2026, 12, 28)  # Christmas Friday -> Monday
    assert add_business_days(date(2026, 4, 30), 2) == date(2026, 5, 5)  # 1 May holiday, weekend
    assert send_slot(date(2026, 1, 15)).hour == 8  # 09:00 CET
    assert send_slot(date(2026, 3, 30)).hour == 7  # 09:00 CEST


def test_invalid_input_names_the_field() -> None:
    good = make_invoice(date(2026, 3, 1)).model_dump(mode="json")
    with pytest.raises(ValidationError, match=r"customer\.email"):
        InvoiceInput.model_validate({**good, "customer": {**good["customer"], "email": "not-an-email"}})
    with pytest.raises(ValidationError, match="amount"):
        InvoiceInput.model_validate({**good, "amount": "-5"})
    with pytest.raises(ValidationError, match="payment_reference"):
        InvoiceInput.model_validate({**good, "payment_reference": "RF00BAD"})
    with pytest.raises(ValidationError, match=r"due_on .* is before issued_on"):
        InvoiceInput.model_validate({**good, "due_on": "2020-01-01"})
