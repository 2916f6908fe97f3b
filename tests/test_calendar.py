"""The French calendar is computed for any year, and agrees with the `holidays` package where it has data."""

from datetime import date

import holidays
import pytest

from domain.calendar import add_business_days, easter, is_business_day, next_business_day, public_holidays, send_slot


def test_public_holidays_match_the_holidays_package_for_two_centuries() -> None:
    differ = {
        year
        for year in range(1990, 2101)
        if public_holidays(year) != frozenset(holidays.country_holidays("FR", years=year))
    }
    # 2005-2007: the package drops Whit Monday, made the "journée de solidarité" then; it stayed a
    # public holiday in law (L3133-1) and most employers' calendars moved it back in 2008.
    assert differ <= {2005, 2006, 2007}


@pytest.mark.parametrize(
    ("year", "sunday"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),
    ],
)
def test_easter_sunday(year: int, sunday: date) -> None:
    assert easter(year) == sunday


@pytest.mark.parametrize("year", [1900, 2019, 2206, 9998])
def test_any_year_is_placed_on_business_days(year: int) -> None:
    christmas = date(year, 12, 25)
    assert not is_business_day(christmas)
    after = next_business_day(christmas)
    assert after > christmas
    assert is_business_day(after)
    assert add_business_days(christmas, 1) == after
    assert send_slot(christmas).date() == after


def test_the_end_of_the_calendar_is_an_arithmetic_error_that_fails_a_case_at_once() -> None:
    # OverflowError is an ArithmeticError, one of the case errors that fail the run without retrying.
    with pytest.raises(OverflowError):
        add_business_days(date(9999, 12, 31), 1)
