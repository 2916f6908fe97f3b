"""The French calendar is computed for any year, and agrees with the `holidays` package where it has data."""

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest
from dateutil.easter import easter as dateutil_easter  # type: ignore[import-untyped]

from domain.calendar import (
    OFFICE_HOURS,
    PARIS,
    add_business_days,
    easter,
    in_send_window,
    is_business_day,
    next_business_day,
    next_send_opportunity,
    paris_date,
    public_holidays,
    send_slot,
)


def test_public_holidays_match_the_holidays_package_wherever_it_has_todays_list() -> None:
    # From 1982 (8 May back) to the package's last year for France; before 1982 the package follows
    # the older laws, which the service deliberately does not.
    years = range(1982, holidays.country_holidays("FR").end_year + 1)
    differ = {year: public_holidays(year) ^ frozenset(holidays.country_holidays("FR", years=year)) for year in years}
    # 2005-2007: the package drops Whit Monday, made the "journée de solidarité" then; it stayed a
    # public holiday in law (L3133-1) and most employers' calendars moved it back in 2008.
    whit_mondays = {year: {easter(year) + timedelta(days=50)} for year in (2005, 2006, 2007)}
    assert {year: days for year, days in differ.items() if days} == whit_mondays


@pytest.mark.parametrize(
    ("year", "sunday"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2038, date(2038, 4, 25)),  # latest possible
        (2285, date(2285, 3, 22)),  # earliest possible
    ],
)
def test_easter_sunday(year: int, sunday: date) -> None:
    assert easter(year) == sunday


def test_easter_agrees_with_an_other_computus_over_its_whole_range() -> None:
    # dateutil (a dependency of holidays) uses a different algorithm, valid for 1583-4099.
    assert [year for year in range(1583, 4100) if easter(year) != dateutil_easter(year)] == []


def test_every_year_of_datetime_has_its_holidays_on_sundays_and_in_the_year() -> None:
    for year in range(date.min.year, date.max.year + 1):
        sunday = easter(year)
        assert sunday.weekday() == 6
        assert date(year, 3, 22) <= sunday <= date(year, 4, 25)
        assert {day.year for day in public_holidays(year)} == {year}


@pytest.mark.parametrize("year", [1900, 2019, 2206, 9998])
def test_any_year_is_placed_on_business_days(year: int) -> None:
    christmas = date(year, 12, 25)
    assert not is_business_day(christmas)
    after = next_business_day(christmas)
    assert after > christmas
    assert is_business_day(after)
    assert add_business_days(christmas, 1) == after
    assert send_slot(christmas).astimezone(PARIS) == datetime.combine(after, OFFICE_HOURS.start, tzinfo=PARIS)
    assert not is_business_day(easter(year) + timedelta(days=1))


@pytest.mark.parametrize(
    ("day", "utc"),
    [
        (date(2026, 1, 15), datetime(2026, 1, 15, 8, 0, tzinfo=UTC)),  # CET
        (date(2026, 7, 15), datetime(2026, 7, 15, 7, 0, tzinfo=UTC)),  # CEST
        (date(2026, 3, 30), datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),  # the Monday after the change to CEST
        (date(2026, 10, 26), datetime(2026, 10, 26, 8, 0, tzinfo=UTC)),  # the Monday after the change back
        (date(9998, 1, 15), datetime(9998, 1, 15, 8, 0, tzinfo=UTC)),  # tzdata's rule holds to the end
        (date(9998, 7, 15), datetime(9998, 7, 15, 7, 0, tzinfo=UTC)),
    ],
)
def test_the_send_slot_is_nine_in_paris_in_winter_and_summer_time(day: date, utc: datetime) -> None:
    assert is_business_day(day)
    assert send_slot(day) == utc
    assert send_slot(day).astimezone(PARIS).time() == OFFICE_HOURS.start


def test_the_start_of_the_calendar_is_placed() -> None:
    # 0001-01-01 is a Monday and New Year's Day; Paris then keeps its local mean time (UTC+00:09:21).
    assert send_slot(date.min).astimezone(PARIS) == datetime(1, 1, 2, 9, 0, tzinfo=PARIS)
    assert paris_date(datetime.min.replace(tzinfo=UTC)) == date.min


def test_the_last_day_of_the_calendar_is_still_placed() -> None:
    last = date.max  # a Friday, no holiday
    assert next_business_day(last) == last
    assert send_slot(last) == datetime(9999, 12, 31, 8, 0, tzinfo=UTC)
    assert in_send_window(datetime(9999, 12, 31, 9, 0, tzinfo=UTC))
    assert paris_date(datetime(9999, 12, 31, 22, 59, tzinfo=UTC)) == last


def test_past_the_end_of_the_calendar_is_a_value_error_that_fails_a_case_at_once() -> None:
    # ValueError is one of the case errors that fail the run without retrying; the message keeps
    # Python's own "date value out of range" that the end-to-end test looks for.
    with pytest.raises(ValueError, match="date value out of range: no day after 9999-12-31"):
        add_business_days(date.max, 1)
    with pytest.raises(ValueError, match="no day after 9999-12-31"):
        next_send_opportunity(datetime(9999, 12, 31, 17, 0, tzinfo=UTC))  # 18:00 in Paris, the window closed
    with pytest.raises(ValueError, match="past the end of the calendar in Paris"):
        paris_date(datetime(9999, 12, 31, 23, 30, tzinfo=UTC))
