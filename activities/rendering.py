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
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from stdnum import iso11649

from domain.delivery import MessageRequest
from domain.ladder import Channel, level_of
from domain.models import CustomerKind
from domain.penalties import MissingRate, b2b_late_penalties, rates_on
from dunning.settings import Creditor

LOCALES = {"fr": "fr_FR", "en": "en_GB"}
# From level 2 on, business debtors are told what the law adds to the debt (L441-10 II, D441-5).
PENALTY_LEVEL = 2


def template_environment(directory: Path) -> Environment:
    # StrictUndefined: a missing variable fails the render (and the activity) instead of sending a
    # reminder with a hole in it. HTML templates are escaped: customer-supplied names end up in them.
    return Environment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class Penalties:
    rate_percent: str | None  # None when the semester's rate is not in the data yet
    interest: str | None
    indemnity: str
    since: str
    total_claimed: str | None


@dataclass(frozen=True)
class Context:
    """The variables templates see (as `m`) and the notes the case should carry about this render."""

    values: dict[str, Any]
    notes: tuple[str, ...]


REACHED_ORDER = (Channel.EMAIL, Channel.SMS, Channel.CALL, Channel.REGISTERED_LETTER)


def build_context(request: MessageRequest, creditor: Creditor) -> Context:
    language = request.customer.language
    locale = LOCALES[language]

    def money(value: Decimal) -> str:
        return str(format_currency(value, request.currency, locale=locale))

    def day(value: date) -> str:
        return str(format_date(value, "long", locale=locale))

    notes: list[str] = []
    penalties = None
    is_business = request.customer.kind is CustomerKind.BUSINESS
    if is_business and level_of(request.step) >= PENALTY_LEVEL and request.days_overdue > 0:
        penalties, note = _penalties(request, money, day, locale)
        if note:
            notes.append(note)
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
        "is_business": is_business,
        "payment_reference": iso11649.format(reference) if reference else request.invoice_id,
        "creditor": creditor,
        "penalties": penalties,
        # In the ladder's order of escalation, so that messages list them as a person would.
        "reached_by": [c.value for c in REACHED_ORDER if c in request.reached_by],
    }
    return Context(values=values, notes=tuple(notes))


def _penalties(
    request: MessageRequest, money: Callable[[Decimal], str], day: Callable[[date], str], locale: str
) -> tuple[Penalties, str | None]:
    principal = request.amount - request.credited
    payments = [(p.received_on, p.amount) for p in request.payments]
    since = day(request.due_on + timedelta(days=1))
    indemnity = money(Decimal("40.00"))
    try:
        computed = b2b_late_penalties(principal, request.due_on, request.as_of, payments)
        rate = rates_on(request.as_of).b2b_default
    except MissingRate as err:
        # Never guess a legal rate: state the legal basis without an amount and tell a person.
        return Penalties(None, None, indemnity, since, None), f"penalties not quantified: {err}"
    rate_text = str(format_decimal(rate, "#,##0.00", locale=locale)) + " %"
    total = request.balance + computed.total
    return Penalties(rate_text, money(computed.interest), indemnity, since, money(total)), None
