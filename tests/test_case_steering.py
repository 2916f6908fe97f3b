"""Pure, table-driven tests of what people steer on a case: approval gates, segment and policy changes."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.calendar import add_business_days, next_send_opportunity, paris_date, send_slot
from domain.case import CaseState, Wait
from domain.case_core import approval_task
from domain.case_records import LIMITATION_WARNING
from domain.models import (
    ActionStatus,
    EscalationApproved,
    EscalationHeld,
    InvoiceUpdated,
    PaymentReceived,
    Segment,
    SegmentChanged,
    Stage,
)
from domain.policy import PolicyChanged
from domain.policy_file import load_policy
from domain.rules import Rule
from tests.case_driver import drive, morning, open_case
from tests.ladders import BAD_PAYER, DEFAULT_POLICY, LEGACY_POLICY, STANDARD, STRATEGIC

DUES = [date(2027, 1, 4) + timedelta(days=n) for n in range(0, 364, 9)]
BY_AMOUNT = load_policy(Path(__file__).parent.parent / "samples" / "policies" / "by-amount.toml")
STRATEGIC_CUSTOMER = {"segment": "strategic"}


def only_the_limitation_watch(case: CaseState) -> Wait:
    """What a case waiting for a person wakes for: nothing but the warning before its claim lapses."""
    return Wait(send_slot(case.limitation_on - LIMITATION_WARNING), "limitation_warning")


def to_the_gate(due: date) -> tuple[CaseState, datetime]:
    """A strategic case run until its formal notice waits for approval, and when it began to wait."""
    case = open_case(due, customer=STRATEGIC_CUSTOMER)
    run = drive(case, morning(due - timedelta(days=20)), until=morning(due + timedelta(days=120)), approve=False)
    assert [name for name, _ in run.ran] == [s.name for s in STRATEGIC[:-2]]
    asked = next(a for a in case.actions if a.step == "formal_notice" and a.status is ActionStatus.OPEN)
    return case, asked.at


# ------------------------------------------------------------------------------------ approval


@pytest.mark.parametrize("due", DUES)
def test_a_gated_formal_notice_waits_for_a_person_then_runs_once(due: date) -> None:
    # Stopped waiting (no timer) right before the notice: every earlier step taken, none after.
    case, asked_at = to_the_gate(due)
    assert case.stage is Stage.AWAITING_APPROVAL
    assert case.awaiting_approval == "formal_notice"
    assert approval_task("formal_notice") in case.open_calls
    assert case.decide(next_send_opportunity(asked_at + timedelta(days=7))) == only_the_limitation_watch(case)

    later = asked_at + timedelta(days=3)
    assert case.approve(later, EscalationApproved(by="controller-7"))
    assert case.status(later).stage is Stage.LEVEL_3
    assert not case.open_calls.get(approval_task("formal_notice"))
    rest = drive(case, later, approve=False)
    assert [name for name, _ in rest.ran] == ["formal_notice", "litigation_handover"]
    # The deadline the notice gives counts from its own day, not from the ladder's.
    assert paris_date(rest.ran[0][1]) >= paris_date(later)


def test_an_approval_given_in_advance_lets_the_step_run_on_its_day() -> None:
    due = date(2027, 3, 1)
    case = open_case(due, customer=STRATEGIC_CUSTOMER)
    assert case.approve(morning(due), EscalationApproved(step="formal_notice", by="controller-7"))
    assert not case.approve(morning(due), EscalationApproved(step="formal_notice", by="controller-7"))
    run = drive(case, morning(due - timedelta(days=20)), approve=False)
    assert [name for name, _ in run.ran] == [s.name for s in STRATEGIC]
    assert case.awaiting_approval is None


def test_only_gated_steps_can_be_approved_or_held() -> None:
    case = open_case(date(2027, 3, 1), customer=STRATEGIC_CUSTOMER)
    now = morning(date(2027, 3, 1))
    assert not case.approve(now, EscalationApproved(step="level1_email", by="c"))
    assert not case.approve(now, EscalationApproved(by="c"))  # nothing waits yet
    assert not case.hold_escalation(now, EscalationHeld(by="c", reason="customer called"))
    standard = open_case(date(2027, 3, 1))
    assert not standard.approve(now, EscalationApproved(step="formal_notice", by="c"))


def test_a_held_step_keeps_waiting_and_says_why() -> None:
    due = date(2027, 3, 1)
    case, asked_at = to_the_gate(due)
    at = asked_at + timedelta(hours=2)
    assert case.hold_escalation(at, EscalationHeld(by="controller-7", reason="account manager visiting"))
    assert case.stage is Stage.AWAITING_APPROVAL
    assert case.actions[-1].detail == "formal_notice held by controller-7: account manager visiting"
    assert case.decide(next_send_opportunity(asked_at + timedelta(days=7))) == only_the_limitation_watch(case)


def test_a_payment_while_waiting_for_approval_settles_the_case() -> None:
    due = date(2027, 3, 1)
    case, asked_at = to_the_gate(due)
    at = asked_at + timedelta(days=1)
    case.receive_payment(at, PaymentReceived(payment_id="P1", amount=case.amount, received_on=paris_date(at)))
    run = drive(case, at, approve=False)
    assert run.ran == []
    assert case.stage is Stage.SETTLED
    assert case.open_calls == {}


# ------------------------------------------------------------------------------------ segments


@pytest.mark.parametrize("due", DUES)
@pytest.mark.parametrize("after", ["level1_call", "level2_email", "level2_registered_letter", "level3_call"])
def test_a_new_segment_takes_no_step_twice_and_none_below_where_the_case_stands(due: date, after: str) -> None:
    case = open_case(due)
    first = drive(case, morning(due - timedelta(days=20)), until=None, approve=False, stop_after=after)
    taken = [name for name, _ in first.ran]
    assert taken[-1] == after
    at = first.ran[-1][1] + timedelta(hours=1)
    assert case.change_segment(at, SegmentChanged(segment=Segment.BAD_PAYER, reason="bad_payer: 3 late invoices"))
    assert not case.change_segment(at, SegmentChanged(segment=Segment.BAD_PAYER, reason="again"))
    rest = drive(case, at, approve=False)
    later = [name for name, _ in rest.ran] + rest.skipped
    assert not set(later) & set(taken), (taken, later)
    reached = next(s.level for s in STANDARD if s.name == after)
    assert all(s.level >= reached for s in BAD_PAYER if s.name in later)
    assert rest.ran[-1][0] == "litigation_handover"
    assert case.segment is Segment.BAD_PAYER


def test_a_segment_change_is_on_the_trail_with_its_reason() -> None:
    case = open_case(date(2027, 3, 1))
    now = morning(date(2027, 3, 2))
    case.change_segment(now, SegmentChanged(segment=Segment.NEW, reason="new: first invoice 2027-02"))
    details = [(a.step, a.detail) for a in case.actions]
    assert ("segment_changed", "standard -> new: new: first invoice 2027-02") in details
    assert case.status(now).segment is Segment.NEW


# ------------------------------------------------------------------------------------ policies


def test_a_policy_change_moves_the_case_from_where_it_stands() -> None:
    due = date(2027, 3, 1)
    case = open_case(due, policy=LEGACY_POLICY, amount="300.00")
    first = drive(case, morning(due - timedelta(days=20)), approve=False, stop_after="level2_sms")
    at = first.ran[-1][1] + timedelta(hours=1)
    assert case.change_policy(at, PolicyChanged(policy=BY_AMOUNT))
    assert not case.change_policy(at, PolicyChanged(policy=BY_AMOUNT))
    assert case.status(at).policy_version == BY_AMOUNT.version
    rest = drive(case, at, approve=False)
    # Under 500 EUR the new policy calls instead of the registered reminder; nothing sent again.
    assert [name for name, _ in rest.ran][:2] == ["level2_call", "level3_email"]
    assert not {name for name, _ in first.ran} & {name for name, _ in rest.ran}


def test_an_amount_crossing_a_band_changes_the_steps_ahead() -> None:
    due = date(2027, 3, 1)
    case = open_case(due, policy=BY_AMOUNT, amount="300.00")
    first = drive(case, morning(due - timedelta(days=20)), approve=False, stop_after="level2_sms")
    at = first.ran[-1][1] + timedelta(hours=1)
    case.update_invoice(at, InvoiceUpdated(amount=Decimal("6000.00")))
    rest = drive(case, at, approve=False)
    assert [name for name, _ in rest.ran][:2] == ["level2_letter_call", "level2_registered_letter"]


def test_a_held_formal_notice_stays_held_on_the_new_ladder() -> None:
    due = date(2027, 3, 1)
    case = open_case(due, policy=LEGACY_POLICY)
    drive(
        case,
        morning(due - timedelta(days=20)),
        outcome={"formal_notice": ActionStatus.FAILED},
        stop_after="formal_notice",
    )
    assert case.hold is not None
    at = send_slot(due + timedelta(days=36))
    case.change_segment(at, SegmentChanged(segment=Segment.STRATEGIC, reason="key account"))
    assert case.hold is not None
    assert case.steps[case.hold.index].name == "formal_notice"
    rest = drive(case, at, approve=False)
    assert [name for name, _ in rest.ran] == ["formal_notice", "litigation_handover"]


def test_the_default_and_legacy_policies_run_the_same_days_for_a_standard_case() -> None:
    for due in DUES:
        legacy = drive(open_case(due, policy=LEGACY_POLICY), morning(due - timedelta(days=20)))
        default = drive(open_case(due, policy=DEFAULT_POLICY), morning(due - timedelta(days=20)))
        assert legacy.ran == default.ran, due


# ------------------------------------------------------------------------------ notice deadline


@pytest.mark.parametrize("late", [36, 45, 52, 59])
def test_a_late_case_hands_over_only_after_the_notice_deadline_even_unreported(late: int) -> None:
    # Started late (an import, an outage): the notice goes at once; its provider never reports it
    # presented, and the hand-over still waits out the deadline from its earliest presentation.
    start = morning(date(2027, 6, 1))
    case = open_case(paris_date(start) - timedelta(days=late), policy=LEGACY_POLICY)
    run = drive(case, start, approve=False)
    names = [name for name, _ in run.ran]
    assert names[-2:] == ["formal_notice", "litigation_handover"]
    notice_day, handover_at = paris_date(run.ran[-2][1]), run.ran[-1][1]
    earliest = send_slot(add_business_days(add_business_days(notice_day, 1) + timedelta(days=8), 1))
    assert handover_at >= earliest


def test_before_the_rule_an_unreported_notice_did_not_hold_the_hand_over() -> None:
    start = morning(date(2027, 6, 1))
    old = open_case(
        paris_date(start) - timedelta(days=59), rules=frozenset(Rule) - {Rule.NOTICE_DEADLINE_WITHOUT_PRESENTATION}
    )
    run = drive(old, start, approve=False)
    notice_day, handover_day = paris_date(run.ran[-2][1]), paris_date(run.ran[-1][1])
    assert (handover_day - notice_day).days < 8
