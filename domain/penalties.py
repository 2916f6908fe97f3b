"""Statutory late-payment amounts (shared/reference/fr-late-payment-law.md §1-4).

Businesses (Code de commerce L441-10 II, D441-5): penalties from the day after the due date at the
contractual rate, or the semester's default rate (ECB MRO + 10 points), plus a 40 EUR indemnity per
late invoice. Consumers (Code civil 1231-6, 1344-1): interest at the legal rate for a professional
creditor ("other cases") from the day after the formal notice, no indemnity, no fees.

Simple interest on a 365-day year, leap years included, split at each 1 January, 1 July and payment,
full precision per segment and rounded half-up once. Rates come from a `RateTable` the caller passes;
a semester without the rate it needs raises `MissingRate` rather than guessing.

Imputation of partial payments is a setting (`Imputation`): by default, as Code civil 1343-1 says, a
payment settles the interest accrued to its day before the principal; `principal` is the other policy.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from domain.calendar import paris_date
from domain.models import (
    ActionStatus,
    CaseStatus,
    CustomerKind,
    PaymentMade,
    PenaltySegment,
    PenaltyStatement,
    Stage,
)
from domain.money import to_cents
from domain.rates import MissingRate, RateTable, next_semester

RECOVERY_INDEMNITY = Decimal("40.00")
DAYS_PER_YEAR = Decimal(365)
ZERO = Decimal("0.00")

B2B_SOURCES: tuple[str, ...] = ("Code de commerce L441-10 II (penalties)", "Code de commerce D441-5 (40 EUR indemnity)")
CONSUMER_SOURCES: tuple[str, ...] = ("Code civil 1231-6 and 1344-1 (legal interest from the formal notice)",)
IMPUTATION_SOURCES = {
    "interest": "Code civil 1343-1 (a partial payment settles interest first)",
    "principal": "payments reduce the principal first (creditor's policy, waiving Code civil 1343-1)",
}


class Imputation(StrEnum):
    INTEREST = "interest"
    PRINCIPAL = "principal"


@dataclass(frozen=True)
class PenaltyPolicy:
    """What a process computes penalties with: the rates it read at start and the imputation setting."""

    rates: RateTable
    imputation: Imputation


@dataclass(frozen=True)
class Claim:
    """One invoice's debt: the principal (amount less credit notes) and what happened to it."""

    kind: CustomerKind
    principal: Decimal
    due_on: date
    as_of: date
    payments: tuple[PaymentMade, ...] = ()
    # Consumers: the day the formal notice was made; interest runs from the day after.
    notice_on: date | None = None
    # Businesses: the contractual rate, in percent a year, instead of the default rate.
    rate_percent: Decimal | None = None


@dataclass(frozen=True)
class Segment:
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
    segments: tuple[Segment, ...]
    indemnity: Decimal
    # Interest the payments settled (imputation "interest"), already rounded to the cent.
    interest_paid: Decimal = ZERO
    principal_due: Decimal = ZERO
    since: date | None = None
    warnings: tuple[str, ...] = ()

    @property
    def interest(self) -> Decimal:
        return to_cents(sum((s.interest for s in self.segments), Decimal(0)))

    @property
    def total(self) -> Decimal:
        return self.interest + self.indemnity

    @property
    def total_due(self) -> Decimal:
        return self.principal_due + self.interest - self.interest_paid + self.indemnity


def late_penalties(claim: Claim, policy: PenaltyPolicy) -> LatePenalties:
    """What late payment adds to `claim` on `claim.as_of` (inclusive). A payment counts with the old
    principal on its own day (the money reached us that day)."""
    if claim.kind is CustomerKind.CONSUMER:
        return _consumer(claim, policy)
    return _business(claim, policy)


def _business(claim: Claim, policy: PenaltyPolicy) -> LatePenalties:
    rates = policy.rates
    contractual = claim.rate_percent

    def rate_on(day: date) -> Decimal:
        return rates.b2b_default(day) if contractual is None else contractual

    accrued = _accrue(claim, claim.due_on, rate_on, policy.imputation)
    warnings = _below_floor(contractual, accrued.segments, rates) if contractual is not None else ()
    # Late at all (something still due after the due date): the indemnity is owed once per invoice.
    late = bool(accrued.segments)
    return LatePenalties(
        segments=accrued.segments,
        indemnity=RECOVERY_INDEMNITY if late else ZERO,
        interest_paid=accrued.interest_paid,
        principal_due=accrued.principal_due,
        since=claim.due_on + timedelta(days=1) if late else None,
        warnings=warnings,
    )


def _consumer(claim: Claim, policy: PenaltyPolicy) -> LatePenalties:
    if claim.rate_percent is not None:
        raise ValueError("a consumer owes the legal interest rate, not a contractual rate")
    if claim.notice_on is None:
        accrued = _accrue(claim, claim.as_of, policy.rates.legal_other, policy.imputation)
        return LatePenalties(
            segments=(),
            indemnity=ZERO,
            principal_due=accrued.principal_due,
            warnings=("no formal notice yet: a consumer owes legal interest only from the day after it",),
        )
    start = max(claim.notice_on, claim.due_on)
    accrued = _accrue(claim, start, policy.rates.legal_other, policy.imputation)
    return LatePenalties(
        segments=accrued.segments,
        indemnity=ZERO,
        interest_paid=accrued.interest_paid,
        principal_due=accrued.principal_due,
        since=start + timedelta(days=1) if claim.as_of > start else None,
    )


@dataclass(frozen=True)
class _Accrued:
    segments: tuple[Segment, ...]
    interest_paid: Decimal
    principal_due: Decimal


def _accrue(claim: Claim, start: date, rate_on: Callable[[date], Decimal], imputation: Imputation) -> _Accrued:
    """Segments from the day after `start` to `as_of`. Payments up to `start` reduce the principal
    before any interest runs; later ones settle interest first or principal first, per `imputation`."""
    paid_by_day: dict[date, Decimal] = {}
    for payment in claim.payments:
        if payment.received_on <= claim.as_of:
            paid_by_day[payment.received_on] = paid_by_day.get(payment.received_on, ZERO) + payment.amount
    remaining = claim.principal - sum((a for d, a in paid_by_day.items() if d <= start), ZERO)
    segments: list[Segment] = []
    accrued = Decimal(0)
    interest_paid = ZERO
    day = start + timedelta(days=1)
    while day <= claim.as_of and remaining > 0:
        end = min([claim.as_of, next_semester(day) - timedelta(days=1), *(d for d in paid_by_day if day <= d)])
        segment = Segment(day, end, remaining, rate_on(day))
        segments.append(segment)
        accrued += segment.interest
        paid = paid_by_day.get(end, ZERO)
        to_interest = ZERO
        if imputation is Imputation.INTEREST:
            # Money is paid in cents: what a payment settles is the accrued interest to the cent.
            to_interest = min(paid, max(to_cents(accrued) - interest_paid, ZERO))
        interest_paid += to_interest
        remaining -= paid - to_interest
        day = end + timedelta(days=1)
    return _Accrued(tuple(segments), interest_paid, max(remaining, ZERO))


def _below_floor(rate: Decimal, segments: Iterable[Segment], rates: RateTable) -> tuple[str, ...]:
    """A contractual rate below 3 x the legal rate ("other cases") of a semester it is applied in
    (L441-10 II). A semester whose legal rate is not known gets a warning that the floor was not
    checked, never a guessed floor."""
    warnings: list[str] = []
    for semester in sorted({rates.on(s.first_day).starts_on for s in segments}):
        row = rates.on(semester)
        try:
            floor = rates.floor(semester)
        except MissingRate as missing:
            # The contract, not the legal rate, sets the amount: it stands; the check waits for the rate.
            warnings.append(f"contractual rate {rate} % not checked against the legal floor: {missing}")
            continue
        if rate < floor:
            warnings.append(
                f"contractual rate {rate} % is below the legal floor of {row.label}, 3 x {row.legal_other} %"
                f" = {floor} % (Code de commerce L441-10 II)"
            )
    return tuple(warnings)


def statement(claim: Claim, policy: PenaltyPolicy) -> PenaltyStatement:
    """`late_penalties` as the contract shape the CLI and the API show, rounded to the cent."""
    computed = late_penalties(claim, policy)
    rate: Literal["default", "contractual", "legal"]
    if claim.kind is CustomerKind.CONSUMER:
        rate = "legal"
        law = CONSUMER_SOURCES
    else:
        rate = "default" if claim.rate_percent is None else "contractual"
        law = B2B_SOURCES
    rows = sorted({policy.rates.on(s.first_day) for s in computed.segments}, key=lambda r: r.starts_on)
    sources = [*law, IMPUTATION_SOURCES[policy.imputation.value], *(f"{r.label}: {r.source}" for r in rows)]
    return PenaltyStatement(
        kind=claim.kind,
        as_of=claim.as_of,
        since=computed.since,
        rate=rate,
        imputation=policy.imputation.value,
        interest=computed.interest,
        interest_paid=computed.interest_paid,
        indemnity=computed.indemnity,
        total=computed.total,
        principal_due=to_cents(computed.principal_due),
        total_due=to_cents(computed.total_due),
        segments=[
            PenaltySegment(
                first_day=s.first_day,
                last_day=s.last_day,
                days=s.days,
                principal=to_cents(s.principal),
                rate_percent=s.rate_percent,
                interest=to_cents(s.interest),
            )
            for s in computed.segments
        ],
        sources=sources,
        warnings=list(computed.warnings),
    )


def claim_of(status: CaseStatus, as_of: date) -> Claim:
    """A case's claim: its payments, credit notes, and the day its formal notice was sent. A case that
    stopped counting (settled, handed over) is counted to that day, as its `days_overdue` is."""
    if status.overdue_until is not None:
        as_of = min(as_of, status.overdue_until)
    notices = [paris_date(a.at) for a in status.actions if a.step == "formal_notice" and a.status is ActionStatus.SENT]
    return Claim(
        kind=status.customer_kind or CustomerKind.BUSINESS,
        principal=status.amount - status.credited,
        due_on=status.due_on,
        as_of=as_of,
        payments=tuple(status.payments),
        notice_on=min(notices, default=None),
        rate_percent=status.penalty_rate_percent,
    )


def with_penalties(status: CaseStatus, policy: PenaltyPolicy, now: datetime) -> CaseStatus:
    """`status` with its penalties to `now` (Paris day), or the reason they cannot be computed."""
    if status.stage is Stage.CANCELLED:
        return status.model_copy(update={"penalties": None, "penalties_unavailable": "the invoice was cancelled"})
    try:
        computed = statement(claim_of(status, paris_date(now)), policy)
    except MissingRate as error:
        return status.model_copy(update={"penalties": None, "penalties_unavailable": str(error)})
    return status.model_copy(update={"penalties": computed, "penalties_unavailable": None})
