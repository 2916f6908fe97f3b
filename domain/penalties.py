"""Statutory late-payment amounts (shared/reference/fr-late-payment-law.md §1-4).

B2B (Code de commerce L441-10 II, D441-5): penalties at the semester's default rate (ECB MRO + 10
points) from the day after the due date, simple interest on a 365-day year, split at each 1 January,
1 July and payment, rounded half-up once; plus a 40 EUR indemnity per late invoice. Consumers owe
neither. Rates are dated rows in data/fr_rates.csv with their source; a semester with no row raises
`MissingRate` rather than guessing. Payments reduce the principal first (our documented imputation
policy; Code civil 1343-1 would settle interest first, a setting for a later version).
"""

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources

from domain.money import to_cents

RECOVERY_INDEMNITY = Decimal("40.00")
DAYS_PER_YEAR = Decimal(365)


class MissingRate(LookupError):
    """No verified rate for a semester: callers state the legal basis without an amount and alert."""


@dataclass(frozen=True)
class SemesterRates:
    starts_on: date
    ecb_mro: Decimal
    b2b_default: Decimal
    legal_private: Decimal
    legal_other: Decimal
    source: str


def _load() -> tuple[SemesterRates, ...]:
    text = resources.files("domain.data").joinpath("fr_rates.csv").read_text(encoding="utf-8")
    rows = [
        SemesterRates(
            starts_on=date.fromisoformat(r["semester_start"]),
            ecb_mro=Decimal(r["mro_percent"]),
            b2b_default=Decimal(r["b2b_default_percent"]),
            legal_private=Decimal(r["legal_private_percent"]),
            legal_other=Decimal(r["legal_other_percent"]),
            source=r["source"],
        )
        for r in csv.DictReader(text.splitlines())
    ]
    return tuple(sorted(rows, key=lambda r: r.starts_on))


RATES = _load()


def semester_start(day: date) -> date:
    return date(day.year, 1 if day.month < 7 else 7, 1)


def rates_on(day: date) -> SemesterRates:
    start = semester_start(day)
    for row in RATES:
        if row.starts_on == start:
            return row
    half = "S1" if start.month == 1 else "S2"
    raise MissingRate(f"no verified French legal rates for {start.year} {half}: add a row to fr_rates.csv")


@dataclass(frozen=True)
class PenaltySegment:
    first_day: date
    last_day: date
    principal: Decimal
    rate_percent: Decimal

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def interest(self) -> Decimal:
        return self.principal * self.rate_percent / 100 * self.days / DAYS_PER_YEAR


@dataclass(frozen=True)
class LatePenalties:
    segments: tuple[PenaltySegment, ...]
    indemnity: Decimal

    @property
    def interest(self) -> Decimal:
        return to_cents(sum((s.interest for s in self.segments), Decimal(0)))

    @property
    def total(self) -> Decimal:
        return self.interest + self.indemnity


def b2b_late_penalties(
    principal: Decimal, due_on: date, as_of: date, payments: list[tuple[date, Decimal]]
) -> LatePenalties:
    """Penalties owed on `as_of` (inclusive) for an invoice due `due_on`; payments as (date, amount).

    A payment counts with the old principal on its own day (the money reached us that day).
    """
    if as_of <= due_on:
        return LatePenalties(segments=(), indemnity=Decimal("0.00"))
    paid_by_day: dict[date, Decimal] = {}
    for day, amount in payments:
        paid_by_day[day] = paid_by_day.get(day, Decimal(0)) + amount
    # Principal already reduced by payments made on or before the due date.
    remaining = principal - sum((a for d, a in paid_by_day.items() if d <= due_on), Decimal(0))
    segments: list[PenaltySegment] = []
    day = due_on + timedelta(days=1)
    while day <= as_of and remaining > 0:
        end = _segment_end(day, as_of, paid_by_day)
        segments.append(PenaltySegment(day, end, remaining, rates_on(day).b2b_default))
        remaining -= paid_by_day.get(end, Decimal(0))
        day = end + timedelta(days=1)
    return LatePenalties(segments=tuple(segments), indemnity=RECOVERY_INDEMNITY)


def _segment_end(first: date, as_of: date, paid_by_day: dict[date, Decimal]) -> date:
    next_semester = date(first.year, 7, 1) if first.month < 7 else date(first.year + 1, 1, 1)
    candidates = [as_of, next_semester - timedelta(days=1)]
    candidates += [d for d in paid_by_day if first <= d <= as_of]
    return min(candidates)
