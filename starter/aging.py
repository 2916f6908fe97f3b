"""The book's aging report, computed from the cases' own statuses (no I/O here: starter/reports.py reads them).

Definitions, so that the figures can be checked by hand:
- outstanding: a case not settled nor cancelled with a balance above zero (cases handed over to
  litigation included: the debt is still on the books);
- age: days past the due date on the report's day; 0 or less is "not due";
- DSO (days sales outstanding, the count-back-free ratio): outstanding / invoiced over the last
  `DSO_WINDOW_DAYS` days x `DSO_WINDOW_DAYS`. The statuses carry no issue date, so an invoice counts in
  the window by its due date. None when nothing fell due in the window;
- settling payment: the last payment the case recorded before it settled; the reminder that got paid is
  the last message sent before that payment was recorded ("none" when it was paid before any reminder);
- recovery rate of a step: cases paid after that step as their last reminder / cases that were sent it;
- days to pay: from the due date to the settling payment's day (the latest `received_on`).

Figures are per currency: a book in euros and one in pounds do not add up.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel

from domain.calendar import paris_date
from domain.models import ActionStatus, CaseStatus, Outcome, Stage

DSO_WINDOW_DAYS = 90
NOT_DUE = "not_due"
# Upper bounds in days overdue (inclusive); the last bucket has none.
BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("1-30", 30),
    ("31-60", 60),
    ("61-90", 90),
    ("90+", None),
)
NO_REMINDER = "none"
_SENT = (ActionStatus.SENT, ActionStatus.UNCONFIRMED)
_CENT = Decimal("0.01")


class StepRecovery(BaseModel):
    step: str
    sent: int  # cases that were sent this step
    recovered: int  # settled cases whose last reminder before the settling payment was this step
    recovered_amount: Decimal
    recovery_rate: Decimal | None  # recovered / sent, to 4 places; None for NO_REMINDER
    average_days_to_pay: Decimal | None  # due date to settling payment, to 0.1 day


class BookReport(BaseModel):
    currency: str
    cases: int
    outstanding_cases: int
    outstanding: Decimal
    by_stage: dict[str, Decimal]
    by_age: dict[str, Decimal]
    dso_days: Decimal | None
    in_litigation: Decimal
    litigation_cases: int
    steps: list[StepRecovery]


class AgingReport(BaseModel):
    as_of: date
    dso_window_days: int = DSO_WINDOW_DAYS
    books: list[BookReport]


def age_bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return NOT_DUE
    for name, upper in BUCKETS:
        if upper is None or days_overdue <= upper:
            return name
    raise AssertionError("the last bucket has no bound")


def is_outstanding(case: CaseStatus) -> bool:
    return case.outcome not in (Outcome.SETTLED, Outcome.CANCELLED) and case.balance > 0


def paid_after(case: CaseStatus) -> tuple[str, date] | None:
    """The reminder step that got a settled case paid (NO_REMINDER if none preceded the payment) and the
    day of the settling payment; None for a case not settled by a payment (open, or a credit note)."""
    # Settled before closed: a case watches for a reversal a while with its outcome not yet set.
    if case.stage is not Stage.SETTLED and case.outcome is not Outcome.SETTLED:
        return None
    payments = [a for a in case.actions if a.step == "payment_received" and a.status is ActionStatus.RECORDED]
    if not payments:
        return None
    settling = max(payments, key=lambda a: a.at)
    before = [m for m in case.messages if m.status in _SENT and m.sent_at <= settling.at]
    step = max(before, key=lambda m: m.sent_at).step if before else NO_REMINDER
    paid_on = max((p.received_on for p in case.payments), default=paris_date(settling.at))
    return step, paid_on


def aging_report(statuses: Iterable[CaseStatus], as_of: date) -> AgingReport:
    by_currency: dict[str, list[CaseStatus]] = defaultdict(list)
    for case in statuses:
        by_currency[case.currency].append(case)
    return AgingReport(as_of=as_of, books=[_book(c, cases, as_of) for c, cases in sorted(by_currency.items())])


def _book(currency: str, cases: list[CaseStatus], as_of: date) -> BookReport:
    outstanding = [c for c in cases if is_outstanding(c)]
    total = sum((c.balance for c in outstanding), Decimal("0.00"))
    by_stage: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    by_age = {name: Decimal("0.00") for name in (NOT_DUE, *(n for n, _ in BUCKETS))}
    for case in outstanding:
        by_stage[case.stage.value] += case.balance
        by_age[age_bucket((as_of - case.due_on).days)] += case.balance
    window_start = as_of - timedelta(days=DSO_WINDOW_DAYS)
    invoiced = sum((c.amount for c in cases if window_start < c.due_on <= as_of), Decimal("0.00"))
    dso = (total / invoiced * DSO_WINDOW_DAYS).quantize(Decimal("0.1")) if invoiced else None
    litigation = [c for c in outstanding if c.stage is Stage.LITIGATION]
    return BookReport(
        currency=currency,
        cases=len(cases),
        outstanding_cases=len(outstanding),
        outstanding=total,
        by_stage=dict(sorted(by_stage.items())),
        by_age=by_age,
        dso_days=dso,
        in_litigation=sum((c.balance for c in litigation), Decimal("0.00")),
        litigation_cases=len(litigation),
        steps=_steps(cases),
    )


def _steps(cases: list[CaseStatus]) -> list[StepRecovery]:
    sent: dict[str, int] = defaultdict(int)
    recovered: dict[str, list[tuple[Decimal, int]]] = defaultdict(list)
    for case in cases:
        for step in {m.step for m in case.messages if m.status in _SENT}:
            sent[step] += 1
        paid = paid_after(case)
        if paid is not None:
            step, paid_on = paid
            recovered[step].append((case.amount - case.credited, (paid_on - case.due_on).days))
    rows = []
    for step in sorted(sent.keys() | recovered.keys()):
        paid_cases = recovered.get(step, [])
        days = [d for _, d in paid_cases]
        rows.append(
            StepRecovery(
                step=step,
                sent=sent.get(step, 0),
                recovered=len(paid_cases),
                recovered_amount=sum((amount for amount, _ in paid_cases), Decimal("0.00")).quantize(_CENT),
                recovery_rate=(Decimal(len(paid_cases)) / sent[step]).quantize(Decimal("0.0001"))
                if sent.get(step)
                else None,
                average_days_to_pay=(Decimal(sum(days)) / len(days)).quantize(Decimal("0.1")) if days else None,
            )
        )
    return rows
