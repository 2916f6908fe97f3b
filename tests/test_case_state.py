"""Pure, table-driven tests of `CaseState`: the rules of a case over many dates, without a server."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.calendar import is_business_day, paris_date, send_slot
from domain.case import CaseState, RunStep, Wait
from domain.ladder import Channel, Step
from domain.models import (
    ActionStatus,
    CallLogged,
    DisputeOpened,
    DisputeResolved,
    Installment,
    InstallmentPlanAgreed,
    InvoiceUpdated,
    PaymentReceived,
    PromiseToPay,
    Segment,
    Stage,
)
from domain.rules import Rule
from domain.schedule import planned_day
from tests.case_driver import drive, morning, open_case
from tests.ladders import DEFAULT_POLICY, LEGACY_POLICY

YEAR_2027 = [date(2027, 1, 1) + timedelta(days=n) for n in range(365)]
BEFORE_EVERY_STEP = frozenset(Rule) - {Rule.EVERY_STEP_ON_TIME}


def on_time(due: date, segment: Segment = Segment.STANDARD) -> tuple[CaseState, list[tuple[str, date]]]:
    case = open_case(due, customer={"segment": segment.value})
    run = drive(case, morning(due - timedelta(days=30)))
    return case, [(name, paris_date(at)) for name, at in run.ran]


# ------------------------------------------------------------------------------- every step, on time


@pytest.mark.parametrize("segment", list(Segment))
def test_a_case_on_time_takes_every_step_of_its_ladder_on_every_due_date_of_a_year(segment: Segment) -> None:
    steps = DEFAULT_POLICY.ladder_for(segment, Decimal("1200.00"))
    for due in YEAR_2027:
        case, ran = on_time(due, segment)
        assert [name for name, _ in ran] == [s.name for s in steps], f"due {due}"
        assert not any(a.status is ActionStatus.SKIPPED for a in case.actions), f"due {due}"
        days = [day for _, day in ran]
        # One step a business day: the customer never gets two messages the same morning.
        assert days == sorted(set(days)), f"due {due}: {ran}"
        assert all(is_business_day(day) for day in days), f"due {due}"
        for step, day in zip(steps, days, strict=True):
            planned = planned_day(due, step, 0)
            # Never early; late only by the weekend, the holiday or the step pushed before it.
            assert planned <= day <= planned + timedelta(days=6), f"due {due}: {step.name} on {day}"


def test_a_collision_moves_the_later_step_to_the_next_business_day() -> None:
    # Friday 2027-01-15: J+7 is Friday 22; J+8 (Saturday 23) and J+10 (Monday 25) both land on Monday.
    _, ran = on_time(date(2027, 1, 15))
    days = dict(ran)
    assert days["level1_followup_email"] == date(2027, 1, 22)
    assert days["level2_email"] == date(2027, 1, 25)
    assert days["level2_sms"] == date(2027, 1, 26)
    assert days["level2_registered_letter"] == date(2027, 2, 1)  # J+15 Saturday 30 -> Monday 1 Feb


def test_before_the_rule_a_collision_ran_only_the_later_step_on_most_due_dates() -> None:
    # The defect the rule fixes, kept for the cases that recorded it: 219 of the 365 due dates of 2027.
    dropped = 0
    for due in YEAR_2027:
        run = drive(open_case(due, BEFORE_EVERY_STEP), morning(due - timedelta(days=30)))
        dropped += bool(run.skipped)
    assert dropped == 219


def test_a_late_start_still_runs_only_the_latest_due_step() -> None:
    due = date(2027, 3, 1)
    case = open_case(due)
    decision = case.decide(send_slot(due + timedelta(days=20)))
    assert isinstance(decision, RunStep)
    assert case.steps[decision.index].name == "level2_registered_letter"
    assert [case.steps[i].name for i in decision.skipped] == [s.name for s in case.steps[:7]]


# ----------------------------------------------------------------------- legal steps really happen


def test_no_postal_address_sends_the_formal_notice_by_email_and_hands_over_after_it() -> None:
    case = open_case(date(2027, 3, 1), customer={"postal_address": None})
    notice = next(i for i, s in enumerate(case.steps) if s.stage is Stage.FORMAL_NOTICE)
    assert case.route(notice) == (Channel.EMAIL, "by e-mail: no postal address")
    run = drive(case, morning(date(2027, 1, 1)))
    assert [name for name, _ in run.ran][-2:] == ["formal_notice", "litigation_handover"]
    assert case.outcome == "litigation"


def test_before_the_rule_no_postal_address_skipped_the_notice() -> None:
    case = open_case(
        date(2027, 3, 1), frozenset(Rule) - {Rule.LEGAL_STEPS_MUST_HAPPEN}, customer={"postal_address": None}
    )
    notice = next(i for i, s in enumerate(case.steps) if s.stage is Stage.FORMAL_NOTICE)
    assert case.route(notice) == (None, "no postal address")


@pytest.mark.parametrize("step", ["formal_notice", "litigation_handover"])
def test_a_failed_legal_step_holds_the_case_with_a_task_and_is_retried_next_business_day(step: str) -> None:
    due = date(2027, 3, 1)
    case = open_case(due)
    run = drive(case, morning(date(2027, 1, 1)), outcome={step: ActionStatus.FAILED}, until=morning(date(2027, 6, 1)))
    assert case.outcome is None
    assert step in case.open_calls
    # Retried every business day; never went past the held step.
    attempts = [at for name, at in run.ran if name == step]
    assert len(attempts) > 5
    assert all(paris_date(b) > paris_date(a) for a, b in itertools.pairwise(attempts))
    if step == "formal_notice":
        assert "litigation_handover" not in [name for name, _ in run.ran]
    else:
        assert case.stage is Stage.FORMAL_NOTICE


def test_a_retried_notice_keeps_its_distance_to_the_hand_over() -> None:
    due = date(2027, 3, 1)
    case = open_case(due)
    drive(
        case,
        morning(date(2027, 1, 1)),
        outcome={"formal_notice": ActionStatus.FAILED},
        until=morning(date(2027, 4, 20)),
    )
    drive(case, morning(date(2027, 4, 20)))
    sent = next(a.at for a in case.actions if a.step == "formal_notice" and a.status is ActionStatus.SENT)
    handed = next(a.at for a in case.actions if a.step == "litigation_handover")
    assert (paris_date(handed) - paris_date(sent)).days >= 25


def test_an_unconfirmed_hand_over_waits_for_a_person_who_confirms_it() -> None:
    due = date(2027, 3, 1)
    case = open_case(due)
    drive(case, morning(date(2027, 1, 1)), outcome={"litigation_handover": ActionStatus.UNCONFIRMED})
    assert case.outcome is None
    assert case.decide(morning(date(2027, 9, 1))) == Wait(None, None)
    assert "litigation_handover" in case.open_calls
    case.log_call(morning(date(2027, 9, 1)), CallLogged(step="litigation_handover", outcome="reached"))
    assert case.outcome == "litigation"


def test_before_the_rule_a_failed_hand_over_closed_the_case_as_litigation() -> None:
    case = open_case(date(2027, 3, 1), frozenset(Rule) - {Rule.LEGAL_STEPS_MUST_HAPPEN})
    drive(case, morning(date(2027, 1, 1)), outcome={"litigation_handover": ActionStatus.FAILED})
    assert case.outcome == "litigation"


def test_a_notice_skipped_before_the_rule_is_sent_before_any_hand_over() -> None:
    # A case that took its notice step as `skipped` (no address) under the old rule, then meets the new.
    due = date(2027, 3, 1)
    case = open_case(due, customer={"postal_address": None})
    notice = next(i for i, s in enumerate(case.steps) if s.stage is Stage.FORMAL_NOTICE)
    case.record(send_slot(due + timedelta(days=35)), "formal_notice", "registered_letter", ActionStatus.SKIPPED, None)
    case.next_index = notice + 1
    decision = case.decide(send_slot(due + timedelta(days=60)) + timedelta(hours=1))
    assert isinstance(decision, RunStep)
    assert case.steps[decision.index].name == "formal_notice"


# -------------------------------------------------------------------------------- events and pauses


def test_an_event_that_did_not_apply_yet_is_applied_when_sent_again() -> None:
    case = open_case(date(2027, 3, 1))
    now = send_slot(date(2027, 3, 5))
    resolve = DisputeResolved(event_id="evt-9", outcome="rejected")
    assert not case.apply_event("evt-9", lambda: case.resolve_dispute(now, resolve))
    assert case.apply_event("evt-8", lambda: case.open_dispute(now, DisputeOpened(reason="missing items")))
    assert case.apply_event("evt-9", lambda: case.resolve_dispute(now, resolve))
    assert case.dispute is None
    # Consumed now: a third copy changes nothing.
    case.open_dispute(now, DisputeOpened(reason="again"))
    assert not case.apply_event("evt-9", lambda: case.resolve_dispute(now, resolve))
    assert case.dispute is not None


def test_before_the_rule_an_event_that_did_not_apply_consumed_its_id() -> None:
    case = open_case(date(2027, 3, 1), frozenset(Rule) - {Rule.EVENT_ID_CONSUMED_WHEN_APPLIED})
    now = send_slot(date(2027, 3, 5))
    resolve = DisputeResolved(event_id="evt-9", outcome="rejected")
    case.apply_event("evt-9", lambda: case.resolve_dispute(now, resolve))
    case.open_dispute(now, DisputeOpened(reason="missing items"))
    assert not case.apply_event("evt-9", lambda: case.resolve_dispute(now, resolve))


def plan_case(rules: frozenset[Rule] = frozenset(Rule)) -> CaseState:
    case = open_case(date(2027, 3, 1), rules)
    installments = [
        Installment(due_on=date(2027, 4, 1), amount=Decimal("600")),
        Installment(due_on=date(2027, 5, 3), amount=Decimal("600")),
    ]
    case.agree_plan(send_slot(date(2027, 3, 10)), InstallmentPlanAgreed(installments=installments))
    case.open_dispute(send_slot(date(2027, 3, 20)), DisputeOpened(reason="damaged goods"))
    return case


def test_installment_checks_wait_while_a_dispute_is_open() -> None:
    case = plan_case()
    case.on_clock(send_slot(date(2027, 4, 15)))
    assert case.plan is not None
    resolved = send_slot(date(2027, 4, 20))
    case.resolve_dispute(resolved, DisputeResolved(outcome="rejected"))
    # The missed check waits until the dispute has been over as long as the ladder waits.
    assert case.plan.check_at(0) == send_slot(paris_date(resolved) + timedelta(days=3))
    case.receive_payment(
        send_slot(date(2027, 4, 22)),
        PaymentReceived(payment_id="P1", amount=Decimal("600"), received_on=date(2027, 4, 22)),
    )
    case.on_clock(send_slot(date(2027, 4, 23)) + timedelta(hours=1))
    assert case.plan is not None
    assert case.plan.checked == 1


def test_before_the_rule_a_dispute_did_not_stop_installment_checks() -> None:
    case = plan_case(frozenset(Rule) - {Rule.PAUSES_WAIT_OUT_DISPUTES})
    case.on_clock(send_slot(date(2027, 4, 15)))
    assert case.plan is None


def test_a_promise_lapsing_during_a_dispute_waits_for_its_end() -> None:
    case = open_case(date(2027, 3, 1))
    case.promise_payment(send_slot(date(2027, 3, 8)), PromiseToPay(promised_on=date(2027, 3, 12)))
    case.open_dispute(send_slot(date(2027, 3, 10)), DisputeOpened(reason="wrong price"))
    case.on_clock(send_slot(date(2027, 3, 30)))
    assert case.promise is not None


def test_a_new_due_date_never_plans_the_remaining_steps_in_the_past() -> None:
    due = date(2027, 3, 1)
    case = open_case(due)
    drive(case, morning(date(2027, 1, 1)), until=send_slot(due + timedelta(days=2)))
    case.open_dispute(send_slot(date(2027, 3, 3)), DisputeOpened(reason="missing delivery note"))
    case.resolve_dispute(send_slot(date(2027, 4, 20)), DisputeResolved(outcome="rejected"))
    assert case.shift_days > 0
    # Moved one day later, after the pause: nothing may now be due at once.
    case.update_invoice(send_slot(date(2027, 4, 21)), InvoiceUpdated(due_on=due + timedelta(days=1)))
    run = drive(case, send_slot(date(2027, 4, 21)))
    assert run.skipped == []


def test_before_the_rule_a_new_due_date_after_a_pause_skipped_steps() -> None:
    due = date(2027, 3, 1)
    case = open_case(due, frozenset(Rule) - {Rule.NEW_DUE_DATE_NEVER_BURSTS})
    drive(case, morning(date(2027, 1, 1)), until=send_slot(due + timedelta(days=2)))
    case.open_dispute(send_slot(date(2027, 3, 3)), DisputeOpened(reason="missing delivery note"))
    case.resolve_dispute(send_slot(date(2027, 4, 20)), DisputeResolved(outcome="rejected"))
    case.update_invoice(send_slot(date(2027, 4, 21)), InvoiceUpdated(due_on=due + timedelta(days=1)))
    assert drive(case, send_slot(date(2027, 4, 21))).skipped != []


# ----------------------------------------------------------------------------------- what it says


def test_days_overdue_stop_on_the_day_of_the_payment() -> None:
    due = date(2026, 2, 1)
    case = open_case(due)
    late = send_slot(date(2026, 12, 2))
    case.receive_payment(
        late, PaymentReceived(payment_id="P1", amount=Decimal("1200.00"), received_on=date(2026, 3, 4))
    )
    assert case.days_overdue(late) == 31
    assert case.status(late).read_at(late + timedelta(days=40)).days_overdue == 31


def test_a_status_read_later_counts_days_overdue_to_the_reading() -> None:
    due = date(2027, 3, 1)
    case = open_case(due)
    status = case.status(send_slot(date(2027, 3, 2)))
    assert status.days_overdue == 1
    later = status.read_at(send_slot(date(2027, 3, 26)))
    assert later.days_overdue == 25
    assert later.as_of == send_slot(date(2027, 3, 26))


def test_a_late_start_past_j60_shows_the_formal_notice_as_next_action() -> None:
    due = date(2026, 2, 5)
    case = open_case(due)
    status = case.status(send_slot(date(2026, 12, 2)) + timedelta(hours=1))
    assert status.next_action is not None
    assert status.next_action.step == "formal_notice"


def test_messages_name_only_the_channels_that_reached_the_customer() -> None:
    due = date(2027, 3, 1)
    case = open_case(due)
    drive(
        case,
        morning(date(2027, 1, 1)),
        outcome={"level2_registered_letter": ActionStatus.FAILED, "level2_sms": ActionStatus.SKIPPED},
        until=send_slot(due + timedelta(days=29)),
    )
    assert case.channels_used() == [Channel.EMAIL]
    case.log_call(send_slot(due + timedelta(days=29)), CallLogged(step="level1_call", outcome="reached"))
    assert case.message(send_slot(due + timedelta(days=30)), "level3_email", Channel.EMAIL, "invoice-X").reached_by == [
        Channel.CALL,
        Channel.EMAIL,
    ]


def test_every_ladder_ends_with_a_formal_notice_then_the_hand_over() -> None:
    for policy in (LEGACY_POLICY, DEFAULT_POLICY):
        for segment in Segment:
            steps: tuple[Step, ...] = policy.ladder_for(segment, Decimal("1200.00"))
            assert [s.stage for s in steps[-2:]] == [Stage.FORMAL_NOTICE, Stage.LITIGATION]
            assert [s.offset_days for s in steps] == sorted({s.offset_days for s in steps})
