"""Builders for penalty tests: claims from short literals, policies on the packaged rates."""

from datetime import date
from decimal import Decimal

from domain.models import CustomerKind, PaymentMade
from domain.penalties import Claim, Imputation, PenaltyPolicy
from domain.rates import PACKAGED, RateTable

INTEREST_FIRST = PenaltyPolicy(PACKAGED, Imputation.INTEREST)
PRINCIPAL_FIRST = PenaltyPolicy(PACKAGED, Imputation.PRINCIPAL)


def day(text: str) -> date:
    return date.fromisoformat(text)


def paid(*entries: tuple[str, str]) -> tuple[PaymentMade, ...]:
    return tuple(PaymentMade(received_on=day(d), amount=Decimal(a)) for d, a in entries)


def business(amount: str, due_on: str, as_of: str, *payments: tuple[str, str], rate: str | None = None) -> Claim:
    return Claim(
        kind=CustomerKind.BUSINESS,
        principal=Decimal(amount),
        due_on=day(due_on),
        as_of=day(as_of),
        payments=paid(*payments),
        rate_percent=Decimal(rate) if rate is not None else None,
    )


def consumer(amount: str, due_on: str, as_of: str, *payments: tuple[str, str], notice_on: str | None) -> Claim:
    return Claim(
        kind=CustomerKind.CONSUMER,
        principal=Decimal(amount),
        due_on=day(due_on),
        as_of=day(as_of),
        payments=paid(*payments),
        notice_on=day(notice_on) if notice_on else None,
    )


def policy_with(rates: RateTable, imputation: Imputation = Imputation.INTEREST) -> PenaltyPolicy:
    return PenaltyPolicy(rates, imputation)


HEADER = "semester_start,mro_percent,b2b_default_percent,legal_private_percent,legal_other_percent,source"
