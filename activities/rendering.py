"""Turning a MessageRequest into words: locale formatting, legal mentions, Jinja environments.

Every channel renders from the same context so an e-mail, an SMS and a letter for one step say the
same amounts. Templates live next to the channel that renders them, one per step and language.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from stdnum import iso11649
from stdnum.fr import siren

from domain.delivery import MessageRequest
from domain.ladder import Channel
from domain.models import CustomerKind, PaymentMade
from domain.money import to_cents
from domain.penalties import Claim, Imputation, PenaltyPolicy, late_penalties
from domain.policy_file import legacy
from domain.rates import PACKAGED, MissingRate
from dunning.settings import Creditor

LOCALES = {"fr": "fr_FR", "en": "en_GB"}


@dataclass
class _Penalties:
    policy: PenaltyPolicy


# Set once by the worker at start (worker.main: the operator's rates file and DUNNING_IMPUTATION) rather
# than passed through every channel's activities: those are built by code other changes touch, and the
# policy is process-wide anyway. Until then, the packaged rates and the legal imputation (Code civil 1343-1).
_PENALTIES = _Penalties(PenaltyPolicy(PACKAGED, Imputation.INTEREST))


def use_penalty_policy(policy: PenaltyPolicy) -> None:
    _PENALTIES.policy = policy


def business_claim(request: MessageRequest) -> Claim:
    """What a business debtor owes under L441-10, as the request states it on its day."""
    return Claim(
        kind=CustomerKind.BUSINESS,
        principal=request.amount - request.credited,
        due_on=request.due_on,
        as_of=request.as_of,
        payments=tuple(PaymentMade(received_on=p.received_on, amount=p.amount) for p in request.payments),
        rate_percent=request.penalty_rate_percent,
    )


def penalty_policy() -> PenaltyPolicy:
    """The policy every message and dossier of this process computes penalties with."""
    return _PENALTIES.policy


# From level 2 on, business debtors are told what the law adds to the debt (L441-10 II, D441-5).
PENALTY_LEVEL = 2


def template_environment(directory: Path, overrides: Path | None = None) -> Environment:
    """Templates from `directory`, except those the operator's `overrides` folder also holds (same
    relative path: `fr/formal_notice.html`), which win."""
    loaders: list[BaseLoader] = [FileSystemLoader(overrides)] if overrides else []
    # StrictUndefined: a missing variable fails the render (and the activity) instead of sending a
    # reminder with a hole in it. HTML templates are escaped: customer-supplied names end up in them.
    return Environment(
        loader=ChoiceLoader([*loaders, FileSystemLoader(directory)]),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def channel_overrides(template_dir: Path | None, channel_package: Path) -> Path | None:
    """The operator's folder for one channel: `<template_dir>/<email|sms|letters>`, named like the
    package whose `templates` folder it overrides."""
    return template_dir / channel_package.name if template_dir else None


@dataclass(frozen=True)
class PenaltySegment:
    """One line of the computation: a period at one rate on one principal (semester or payment split)."""

    first_day: str
    last_day: str
    days: int
    principal: str
    rate_percent: str
    interest: str


@dataclass(frozen=True)
class Penalties:
    rate_percent: str | None  # None when the semester's rate is not in the data yet
    interest: str | None
    indemnity: str
    since: str
    total_claimed: str | None
    segments: tuple[PenaltySegment, ...] = ()
    # The customer's own rate rather than the legal default (ECB + 10 points): messages say which.
    contractual: bool = False


@dataclass(frozen=True)
class Context:
    """The variables templates see (as `m`) and the notes the case should carry about this render."""

    values: dict[str, Any]
    notes: tuple[str, ...]


REACHED_ORDER = (Channel.EMAIL, Channel.SMS, Channel.CALL, Channel.REGISTERED_LETTER)


def step_level(request: MessageRequest) -> int:
    if request.level is not None:
        return request.level
    return next((s.level for s in legacy().ladders["standard"] if s.name == request.step), 0)


def build_context(request: MessageRequest, creditor: Creditor) -> Context:
    language = request.customer.language
    locale = LOCALES[language]

    def money(value: Decimal) -> str:
        return str(format_currency(value, request.currency, locale=locale))

    def day(value: date) -> str:
        return str(format_date(value, "long", locale=locale))

    def place_and_date(value: date) -> str:
        return f"{creditor.city}, le {day(value)}" if language == "fr" else f"{creditor.city}, {day(value)}"

    notes: list[str] = []
    penalties = None
    is_business = request.customer.kind is CustomerKind.BUSINESS
    if is_business and step_level(request) >= PENALTY_LEVEL and request.days_overdue > 0:
        penalties, penalty_notes = _penalties(request, money, day, locale)
        notes += penalty_notes
    reference = request.payment_reference
    values = {
        "step": request.step,
        "language": language,
        "invoice_id": request.invoice_id,
        "issued_on": day(request.issued_on),
        "due_on": day(request.due_on),
        "as_of": day(request.as_of),
        "deadline": day(request.deadline) if request.deadline else None,
        "amount": money(request.amount),
        "paid": money(request.paid) if request.paid else None,
        "credited": money(request.credited) if request.credited else None,
        "balance": money(request.balance),
        "partially_paid": request.paid + request.credited > 0,
        "days_overdue": request.days_overdue,
        "customer": request.customer,
        "customer_siren": siren.format(request.customer.siren) if request.customer.siren else None,
        "order_reference": request.order_reference,
        "is_business": is_business,
        "payment_reference": iso11649.format(reference) if reference else request.invoice_id,
        "creditor": creditor,
        "creditor_siren": siren.format(creditor.siren),
        "place_and_date": place_and_date(request.as_of),
        # The PDF's creation date: the letter's own date, so that a retried render gives the same bytes.
        "document_date": request.as_of.isoformat(),
        "penalties": penalties,
        # In the ladder's order of escalation, so that messages list them as a person would.
        "reached_by": [c.value for c in REACHED_ORDER if c in request.reached_by],
    }
    return Context(values=values, notes=tuple(notes))


def _penalties(
    request: MessageRequest, money: Callable[[Decimal], str], day: Callable[[date], str], locale: str
) -> tuple[Penalties, list[str]]:
    policy = _PENALTIES.policy
    claim = business_claim(request)
    since = day(request.due_on + timedelta(days=1))
    indemnity = money(Decimal("40.00"))
    contractual = request.penalty_rate_percent is not None
    try:
        computed = late_penalties(claim, policy)
        rate = request.penalty_rate_percent or policy.rates.b2b_default(request.as_of)
    except MissingRate as err:
        # Never guess a legal rate: state the legal basis without an amount and tell a person.
        return Penalties(None, None, indemnity, since, None, contractual=contractual), [
            f"penalties not quantified: {err}"
        ]

    def percent(value: Decimal) -> str:
        return str(format_decimal(value, "#,##0.00", locale=locale)) + " %"

    segments = tuple(
        PenaltySegment(
            first_day=day(s.first_day),
            last_day=day(s.last_day),
            days=s.days,
            principal=money(s.principal),
            rate_percent=percent(s.rate_percent),
            interest=money(to_cents(s.interest)),
        )
        for s in computed.segments
    )
    # The same whichever imputation: payments settle interest or principal, the debt is their sum.
    total = request.balance + computed.total
    penalties = Penalties(
        percent(rate), money(computed.interest), indemnity, since, money(total), segments, contractual
    )
    return penalties, list(computed.warnings)
