"""Pure domain rules: the French calendar, input validation (penalties: tests/test_penalties.py)."""

from datetime import date

import pytest
from pydantic import ValidationError

from domain.calendar import add_business_days, next_business_day, send_slot
from domain.models import InvoiceInput
from tests.conftest import make_invoice


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
