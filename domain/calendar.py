"""French business days and the Europe/Paris sending clock.

Imported passed-through by the workflow sandbox: the sandbox wraps ZoneInfo and `holidays` loads its
country modules lazily with time and gettext calls the sandbox refuses, so both are resolved here, at
import time, outside any workflow (see shared/reference/temporal-python.md §2-3).
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

PARIS = ZoneInfo("Europe/Paris")
SEND_HOUR = time(9, 0)
# Sending stops at the end of the working day: a case that wakes up later (late start, worker back
# after an outage) waits for the next morning rather than e-mailing at midnight.
SEND_WINDOW_END = time(18, 0)

# Metropolitan public holidays; Alsace-Moselle's two extra days are not national and are ignored.
_YEARS = range(2020, 2101)
FR_HOLIDAYS: frozenset[date] = frozenset(holidays.country_holidays("FR", years=_YEARS))


def is_business_day(day: date) -> bool:
    if not _YEARS.start <= day.year < _YEARS.stop:
        raise ValueError(f"no French holiday data for {day.year}; extend domain.calendar._YEARS")
    return day.weekday() < 5 and day not in FR_HOLIDAYS


def next_business_day(day: date) -> date:
    """`day` itself when it is a business day, else the first one after it."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def add_business_days(day: date, count: int) -> date:
    for _ in range(count):
        day = next_business_day(day + timedelta(days=1))
    return day


def paris_date(instant: datetime) -> date:
    return instant.astimezone(PARIS).date()


def send_slot(day: date) -> datetime:
    """09:00 Paris on the first business day on or after `day`, as an aware UTC instant."""
    local = datetime.combine(next_business_day(day), SEND_HOUR, tzinfo=PARIS)
    return local.astimezone(UTC)


def in_send_window(instant: datetime) -> bool:
    local = instant.astimezone(PARIS)
    return is_business_day(local.date()) and SEND_HOUR <= local.time() < SEND_WINDOW_END


def next_send_opportunity(instant: datetime) -> datetime:
    """`instant` itself inside the sending window, else the next 09:00 on a business day."""
    if in_send_window(instant):
        return instant
    local = instant.astimezone(PARIS)
    day = local.date() if local.time() < SEND_HOUR else local.date() + timedelta(days=1)
    return send_slot(day)


def start_of_day_utc(day: date) -> datetime:
    """Midnight UTC of a date, the form the DueDate search attribute uses in list filters."""
    return datetime.combine(day, time(0), tzinfo=UTC)
