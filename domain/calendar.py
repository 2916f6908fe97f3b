"""French business days and the Europe/Paris sending clock, for any year.

Imported passed-through by the workflow sandbox, which wraps ZoneInfo and in which `holidays` cannot
load its country modules (shared/reference/temporal-python.md §2-3): the public holidays are computed
here, from the calendar alone, so that a date of any year (an invoice from 2019, a typo like 2206)
is placed like any other instead of failing the case's workflow task. Only the end of datetime's range
(9999-12-31) is a ValueError, which fails the case at once with its message.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class SendHours:
    """When messages go out on a business day, Paris time; a policy may set its own."""

    start: time = time(9, 0)
    # Sending stops at the end of the working day: a case that wakes up later (late start, worker back
    # after an outage) waits for the next morning rather than e-mailing at midnight.
    end: time = time(18, 0)
    # False: every day of the week is a sending day (a test policy on the real clock, a B2C service).
    business_days_only: bool = True

    def sending_day(self, day: date) -> date:
        return next_business_day(day) if self.business_days_only else day

    def is_sending_day(self, day: date) -> bool:
        return is_business_day(day) or not self.business_days_only


OFFICE_HOURS = SendHours()

# Metropolitan public holidays (Code du travail L3133-1), today's list applied to every year: the
# service plans future sends, a past date only matters for a catch-up. Alsace-Moselle's two extra
# days are not national and are ignored.
_FIXED = ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))
# Easter Monday, Ascension Thursday, Whit Monday.
_FROM_EASTER = (1, 39, 50)


def easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian computus, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=256)
def public_holidays(year: int) -> frozenset[date]:
    sunday = easter(year)
    return frozenset(
        [date(year, month, day) for month, day in _FIXED] + [sunday + timedelta(days=n) for n in _FROM_EASTER]
    )


def _day_after(day: date) -> date:
    # `day + 1` past date.max is a bare OverflowError naming no date; say which one and why.
    if day == date.max:
        raise ValueError(f"date value out of range: no day after {day}, the end of the calendar")
    return day + timedelta(days=1)


def _in_paris(instant: datetime) -> datetime:
    # The last hour or two of 9999-12-31 UTC are already year 10000 in Paris.
    try:
        return instant.astimezone(PARIS)
    except OverflowError:
        raise ValueError(f"date value out of range: {instant} is past the end of the calendar in Paris") from None


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year)


def next_business_day(day: date) -> date:
    """`day` itself when it is a business day, else the first one after it."""
    while not is_business_day(day):
        day = _day_after(day)
    return day


def add_business_days(day: date, count: int) -> date:
    for _ in range(count):
        day = next_business_day(_day_after(day))
    return day


def paris_date(instant: datetime) -> date:
    return _in_paris(instant).date()


def send_slot(day: date, hours: SendHours = OFFICE_HOURS) -> datetime:
    """The start of sending (09:00 Paris) on the first business day on or after `day`, in UTC."""
    local = datetime.combine(hours.sending_day(day), hours.start, tzinfo=PARIS)
    return local.astimezone(UTC)


def in_send_window(instant: datetime, hours: SendHours = OFFICE_HOURS) -> bool:
    local = _in_paris(instant)
    return hours.is_sending_day(local.date()) and hours.start <= local.time() < hours.end


def send_window_closes(instant: datetime, hours: SendHours = OFFICE_HOURS) -> datetime:
    """When the sending window that `instant` falls in closes (18:00 Paris that day)."""
    local = datetime.combine(_in_paris(instant).date(), hours.end, tzinfo=PARIS)
    return local.astimezone(UTC)


def next_send_opportunity(instant: datetime, hours: SendHours = OFFICE_HOURS) -> datetime:
    """`instant` itself inside the sending window, else the next start of sending on a business day."""
    if in_send_window(instant, hours):
        return instant
    local = _in_paris(instant)
    day = local.date() if local.time() < hours.start else _day_after(local.date())
    return send_slot(day, hours)


def start_of_day_utc(day: date) -> datetime:
    """Midnight UTC of a date, the form the DueDate search attribute uses in list filters."""
    return datetime.combine(day, time(0), tzinfo=UTC)
