"""Running an invoice of the past on a clock that starts today: a shift of whole years to a same calendar.

The time-skipping test server's clock starts at the real now and only moves forward: its binary takes
a port and `--enable-time-skipping`, nothing sets its start, and the SDK's `start_time_skipping` has
no such option either. An invoice whose first step is already past therefore runs N years later, N
the smallest for which every day of the simulated window falls on the same weekday and is a French
public holiday (Easter's included) exactly when its real day is. Slots, business-day counts and
penalty day counts are then those of the real dates; semesters map to semesters, so the rates of the
real ones are lent to the shifted ones, and dates are shown back in the invoice's own years.
An invoice still ahead runs on its own dates: `Shift(0)`.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from domain.calendar import PARIS, paris_date, public_holidays
from domain.models import InvoiceInput
from domain.policy import Policy
from domain.rates import RateTable

_M = TypeVar("_M", bound=BaseModel)
# After the last step: the notice's deadline from its presentation, letter tracking (30 days), a
# settled case's reversal watch, a promise or plan given late: all on the same calendar.
TAIL = timedelta(days=183)
# Far enough to find a calendar matching a window of a few years, short of the end of `date`.
MAX_YEARS = 1000
# A four-digit number standing alone: a year in a formatted date, not part of an amount or an id.
# Years before it are taken for something else than a shifted date (a quantity, a code).
EARLIEST_YEAR = 1900
_YEAR = re.compile(r"(?<![\d.,\-/])(\d{4})(?![\d]|[.,]\d)")


class ShiftError(ValueError):
    """No year ahead has the calendar of the window to simulate."""


@dataclass(frozen=True)
class Shift:
    years: int = 0

    def forward(self, day: date) -> date:
        return day.replace(year=day.year + self.years) if self.years else day

    def back(self, day: date) -> date:
        return day.replace(year=day.year - self.years) if self.years else day

    def forward_instant(self, at: datetime) -> datetime:
        """The same Paris wall-clock time in the shifted year (same DST dates: same calendar)."""
        local = at.astimezone(PARIS)
        return local.replace(year=local.year + self.years) if self.years else local

    def back_instant(self, at: datetime) -> datetime:
        local = at.astimezone(PARIS)
        return local.replace(year=local.year - self.years) if self.years else local

    def rates(self, table: RateTable) -> RateTable:
        """The real semesters' rates, lent to the shifted semesters (1 January and 1 July map to themselves)."""
        if not self.years:
            return table
        return RateTable(tuple(replace(row, starts_on=self.forward(row.starts_on)) for row in table.rows))

    def model_forward(self, model: _M) -> _M:
        """A signal with every date and time in it shifted (a payment's `received_on`, a plan's dates)."""
        if not self.years:
            return model
        return type(model).model_validate(self._map(model.model_dump()))

    def _map(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return self.forward_instant(value)
        if isinstance(value, date):
            return self.forward(value)
        if isinstance(value, dict):
            return {key: self._map(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._map(item) for item in value]
        return value

    def text_back(self, text: str) -> str:
        """A subject or first line with its shifted years (in formatted dates) put back."""
        if not self.years:
            return text

        def year_back(match: re.Match[str]) -> str:
            year = int(match.group(1))
            return str(year - self.years) if year - self.years >= EARLIEST_YEAR else match.group(1)

        return _YEAR.sub(year_back, text)


@dataclass(frozen=True)
class Clock:
    shift: Shift
    # Where the server's clock starts (Paris, on the shifted calendar): before the first step.
    begin: datetime


def plan_clock(
    invoices: Iterable[InvoiceInput], policies: Sequence[Policy], until: Iterable[date], now: datetime
) -> Clock:
    """The shift for these invoices (none while every first step is ahead) and the clock's start.

    A case runs from its invoice's issue day when that is ahead (or shifted ahead), from now when it
    is past but the steps are not: it is imported today, as billing would send it."""
    invoices = list(invoices)
    today = paris_date(now)
    first_step = min(i.due_on + timedelta(days=_first_offset(i, policies)) for i in invoices)
    start = min([first_step, *(i.issued_on for i in invoices)])
    last = max([*(i.due_on + timedelta(days=_last_offset(i, policies)) for i in invoices), *until]) + TAIL
    shift = Shift(0) if first_step > today else find_shift(start, last, today)
    begin = datetime.combine(shift.forward(start), time(0), tzinfo=PARIS)
    return Clock(shift, max(begin, now.astimezone(PARIS)))


def _first_offset(invoice: InvoiceInput, policies: Sequence[Policy]) -> int:
    return min(s.offset_days for p in policies for s in p.ladder_for(invoice.customer.segment, invoice.amount))


def _last_offset(invoice: InvoiceInput, policies: Sequence[Policy]) -> int:
    return max(s.offset_days for p in policies for s in p.ladder_for(invoice.customer.segment, invoice.amount))


def find_shift(first: date, last: date, today: date) -> Shift:
    """The least number of years that brings `first` past `today` with the calendar of `first`-`last`."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    for years in range(max(today.year - first.year, 1), MAX_YEARS):
        if all(_same_day(day, years) for day in days) and first.replace(year=first.year + years) > today:
            return Shift(years)
    raise ShiftError(f"no year within {MAX_YEARS} has the calendar of {first} to {last}: simulate a shorter window")


def _same_day(day: date, years: int) -> bool:
    try:
        other = day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year without one
        return False
    return other.weekday() == day.weekday() and (day in public_holidays(day.year)) == (
        other in public_holidays(other.year)
    )
