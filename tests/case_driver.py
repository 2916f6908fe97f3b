"""Drive a `CaseState` by hand, as its workflow would, without a server: for table-driven tests."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from domain.case import CaseState, Close, ResendInvoice, RunStep, Wait
from domain.ladder import Channel, current_version
from domain.models import ActionStatus
from domain.rules import FixedRules, Rule
from tests.conftest import make_invoice


@dataclass
class Run:
    case: CaseState
    ran: list[tuple[str, datetime]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def open_case(due: date, rules: frozenset[Rule] = frozenset(Rule), **invoice: Any) -> CaseState:
    return CaseState.open(make_invoice(due, **invoice), current_version(), FixedRules(rules))


def drive(
    case: CaseState,
    start: datetime,
    until: datetime | None = None,
    outcome: dict[str, ActionStatus] | None = None,
    max_turns: int = 200,
) -> Run:
    """Run the case from `start`: wake when it asks, take each step it decides with the status in
    `outcome` (default: sent, a call task open), stop when it closes, blocks, or passes `until`."""
    run, now = Run(case), start
    for _ in range(max_turns):
        case.on_clock(now)
        decision = case.decide(now)
        if isinstance(decision, Close):
            return run
        if isinstance(decision, Wait):
            if decision.until is None or (until is not None and decision.until > until):
                return run
            now = max(now, decision.until)
            continue
        if isinstance(decision, ResendInvoice):
            case.complete_resend(now, ActionStatus.SENT, None)
            continue
        assert isinstance(decision, RunStep)
        case.begin_step(now, decision)
        run.skipped += [case.steps[i].name for i in decision.skipped]
        step = case.steps[decision.index]
        channel, _ = case.route(decision.index)
        status = (outcome or {}).get(step.name)
        if status is None:
            status = ActionStatus.OPEN if step.channel is Channel.CALL else ActionStatus.SENT
        if channel is None:
            status = ActionStatus.SKIPPED
        case.complete_step(now, decision.index, status, None, channel)
        run.ran.append((step.name, now))
    raise AssertionError(f"the case did not settle in {max_turns} turns")


def morning(day: date, hour: int = 5) -> datetime:
    """An instant early on `day` (UTC), before any 09:00 Paris send slot."""
    return datetime.combine(day, time(hour), tzinfo=UTC)


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)
