"""Drive a `CaseState` by hand, as its workflow would, without a server: for table-driven tests."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from domain.case import CaseState, Close, ResendInvoice, RunStep, TrackLetter, Wait
from domain.delivery import Delivery, DeliveryStatus
from domain.ladder import Channel
from domain.models import ActionStatus, EscalationApproved, SentMessage
from domain.policy import Policy
from domain.rules import FixedRules, Rule
from domain.tracking import LetterStatusReported, LetterTracking
from tests.conftest import make_invoice
from tests.ladders import DEFAULT_POLICY

WORKFLOW_ID = "invoice-X"
# What a letter's provider answers when polled: the reports it has for this letter by `now`.
Tracker = Callable[[SentMessage, datetime], list[LetterStatusReported]]


@dataclass
class Run:
    case: CaseState
    ran: list[tuple[str, datetime]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    polls: list[tuple[str, datetime]] = field(default_factory=list)
    approved: list[tuple[str, datetime]] = field(default_factory=list)


def open_case(
    due: date, rules: frozenset[Rule] = frozenset(Rule), policy: Policy = DEFAULT_POLICY, **invoice: Any
) -> CaseState:
    return CaseState.open(make_invoice(due, **invoice), policy, FixedRules(rules))


def drive(
    case: CaseState,
    start: datetime,
    until: datetime | None = None,
    outcome: dict[str, ActionStatus] | None = None,
    max_turns: int = 200,
    tracker: Tracker | None = None,
    approve: bool = True,
    stop_after: str | None = None,
) -> Run:
    """Run the case from `start`: wake when it asks, take each step it decides with the status in
    `outcome` (default: sent, a call task open), stop when it closes, blocks, or passes `until`.
    Letters are posted by a provider that `tracker` answers for (default: it reports nothing). With
    `approve`, a person approves a gated step the moment it waits; `stop_after` stops once that step ran."""
    run, now = Run(case), start
    for _ in range(max_turns):
        case.on_clock(now)
        waiting = case.awaiting_approval
        if approve and waiting is not None:
            case.approve(now, EscalationApproved(by="controller-1"))
            run.approved.append((waiting, now))
        decision = case.decide(now)
        if isinstance(decision, Close):
            return run
        if isinstance(decision, Wait):
            if decision.until is None or (until is not None and decision.until > until):
                return run
            now = max(now, decision.until)
            continue
        if isinstance(decision, TrackLetter):
            sent = case.messages[decision.message_id]
            reports = tracker(sent, now) if tracker else []
            case.tracked(
                now, sent.message_id, LetterTracking(message_id=sent.message_id, reports=reports, checked_at=now)
            )
            run.polls.append((sent.step, now))
            continue
        if isinstance(decision, ResendInvoice):
            case.complete_resend(now, [(c, ActionStatus.SENT, None) for c in case.resend_channels()])
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
        elif channel is not Channel.CALL:
            message = case.message(now, step.name, channel, WORKFLOW_ID)
            case.record_sent(
                now, message, channel, status, posted(message.message_id) if status is ActionStatus.SENT else None
            )
        case.complete_step(now, decision.index, status, None, channel)
        run.ran.append((step.name, now))
        if step.name == stop_after:
            return run
    raise AssertionError(f"the case did not settle in {max_turns} turns")


def morning(day: date, hour: int = 5) -> datetime:
    """An instant early on `day` (UTC), before any 09:00 Paris send slot."""
    return datetime.combine(day, time(hour), tzinfo=UTC)


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)


def posted(message_id: str) -> Delivery:
    return Delivery(
        message_id=message_id,
        status=DeliveryStatus.SENT,
        provider="outbox",
        provider_message_id=f"p-{message_id}",
        accepted_at=None,
        recipient="Boulangerie Martin SARL",
        content_sha256="0" * 64,
    )
