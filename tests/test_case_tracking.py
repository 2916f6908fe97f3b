"""Pure tests of what comes back after a message left: letter statuses and proofs, bounced addresses,
calls that bring a promise or a contact, the invoice copy by post. No server: `CaseState` only."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial

import pytest

from domain.calendar import PARIS, add_business_days, paris_date, send_slot
from domain.case import CaseState, TrackLetter, Wait
from domain.ladder import Channel
from domain.models import (
    ActionStatus,
    CallLogged,
    DisputeOpened,
    LetterStatus,
    PaymentReceived,
    PromiseToPay,
    SentMessage,
)
from domain.rules import Rule
from domain.tracking import (
    TRACK_AFTER_DAYS,
    LetterStatusReported,
    MessageEvent,
    MessageEventKind,
    Proof,
    ProofKind,
)
from tests.case_driver import Tracker, drive, morning, open_case, posted
from tests.conftest import make_invoice
from tests.ladders import DEFAULT_POLICY

DUE = date(2027, 3, 10)
START = morning(DUE - timedelta(days=30))


def step_day(case: CaseState, step: str) -> date:
    return paris_date(next(a.at for a in case.actions if a.step == step and a.status is not ActionStatus.RECORDED))


def report(sent: SentMessage, status: LetterStatus, on: date, proof: ProofKind | None = None) -> LetterStatusReported:
    proofs = [Proof(kind=proof, path=f"{sent.message_id}/{proof.value}.pdf", sha256="a" * 64)] if proof else []
    return LetterStatusReported(
        event_id=f"{sent.message_id}/{status.value}",
        message_id=sent.message_id,
        status=status,
        at=datetime.combine(on, time(11), tzinfo=PARIS),
        proofs=proofs,
    )


def provider(
    outcome: LetterStatus, after_days: int, receipt_after_days: int | None = None, step: str | None = None
) -> Tracker:
    """A provider that has the letter posted the day it was sent, its outcome `after_days` later and,
    optionally, the receipt proof some days after that; for the letter of `step` only, if given
    (the others are delivered the next day)."""

    def answer(sent: SentMessage, now: datetime) -> list[LetterStatusReported]:
        if step is not None and sent.step != step:
            return provider(LetterStatus.DELIVERED, 1)(sent, now)
        sent_on = paris_date(sent.sent_at)
        reports = [report(sent, LetterStatus.POSTED, sent_on, ProofKind.DEPOSIT)]
        if paris_date(now) >= sent_on + timedelta(days=after_days):
            reports.append(report(sent, outcome, sent_on + timedelta(days=after_days)))
        if receipt_after_days is not None and paris_date(now) >= sent_on + timedelta(days=receipt_after_days):
            reports.append(report(sent, LetterStatus.PROOF_AVAILABLE, paris_date(now), ProofKind.RECEIPT))
        return reports

    return answer


# ---------------------------------------------------------------------------- formal notice deadline


@pytest.mark.parametrize("outcome", [LetterStatus.DELIVERED, LetterStatus.REFUSED, LetterStatus.UNCLAIMED])
def test_a_notice_presented_late_moves_the_hand_over_to_its_deadline_from_presentation(outcome: LetterStatus) -> None:
    case = open_case(DUE)
    drive(case, START, tracker=provider(outcome, after_days=20))
    notice_on, handover_on = step_day(case, "formal_notice"), step_day(case, "litigation_handover")
    presented = notice_on + timedelta(days=20)
    assert handover_on == paris_date(send_slot(add_business_days(presented + timedelta(days=8), 1)))
    notice = next(m for m in case.messages.values() if m.step == "formal_notice")
    assert notice.letter_outcome is outcome


def test_a_notice_presented_on_time_leaves_the_hand_over_where_the_ladder_puts_it() -> None:
    tracked, untracked = open_case(DUE), open_case(DUE)
    drive(tracked, START, tracker=provider(LetterStatus.DELIVERED, after_days=2, receipt_after_days=4))
    drive(untracked, START, tracker=lambda sent, now: [])
    assert step_day(tracked, "litigation_handover") == step_day(untracked, "litigation_handover")


def test_an_undeliverable_notice_holds_the_hand_over_until_a_person_confirms_it() -> None:
    case = open_case(DUE)
    run = drive(case, START, tracker=provider(LetterStatus.UNDELIVERABLE, after_days=3, step="formal_notice"))
    assert case.happened("formal_notice")
    assert not case.happened("litigation_handover")
    assert {"formal_notice", "postal_address"} <= set(case.open_calls)
    now = run.ran[-1][1] + timedelta(days=60)
    case.on_clock(now)
    assert case.decide(now) == Wait(None, None)
    case.log_call(now, CallLogged(step="formal_notice", outcome="reached", note="handed over in person"))
    drive(case, now)
    assert paris_date(next(a.at for a in case.actions if a.step == "litigation_handover")) > paris_date(now)


def test_an_undeliverable_reminder_letter_sends_the_notice_by_email() -> None:
    case = open_case(DUE)
    undeliverable = provider(LetterStatus.UNDELIVERABLE, after_days=1)
    drive(case, START, until=send_slot(DUE + timedelta(days=30)), tracker=undeliverable)
    assert "postal_address" in case.open_calls
    drive(case, send_slot(DUE + timedelta(days=30)), tracker=undeliverable)
    notice = [a for a in case.actions if a.step == "formal_notice" and a.status is ActionStatus.SENT]
    assert [a.channel for a in notice] == ["email"]
    assert case.happened("litigation_handover")


# ------------------------------------------------------------------------------------ letter status


def sent_letter() -> tuple[CaseState, SentMessage]:
    case = open_case(DUE)
    drive(case, START, until=send_slot(DUE + timedelta(days=16)))
    letter = next(m for m in case.messages.values() if m.channel == "registered_letter")
    return case, letter


def test_a_letter_status_only_moves_forward_and_the_first_outcome_stays() -> None:
    case, letter = sent_letter()
    sent_on = paris_date(letter.sent_at)
    later = datetime.combine(sent_on + timedelta(days=5), time(12), tzinfo=UTC)
    reports = [
        report(letter, LetterStatus.POSTED, sent_on),
        report(letter, LetterStatus.DELIVERED, sent_on + timedelta(days=2)),
        report(letter, LetterStatus.POSTED, sent_on + timedelta(days=3)),
        report(letter, LetterStatus.REFUSED, sent_on + timedelta(days=4)),
    ]
    applied = [case.apply_event(r.event_id, partial(case.letter_status, later, r)) for r in reports]
    again = case.apply_event(reports[1].event_id, lambda: case.letter_status(later, reports[1]))
    kept = case.messages[letter.message_id]
    assert applied == [True, True, False, False]
    assert again is False
    assert kept.delivery == "delivered"
    assert kept.letter_outcome is LetterStatus.DELIVERED


def test_a_letter_is_polled_on_its_cadence_and_no_more_once_its_receipt_is_kept() -> None:
    untracked, receipted = open_case(DUE), open_case(DUE)
    silent = drive(untracked, START, tracker=lambda sent, now: [])
    answered = drive(receipted, START, tracker=provider(LetterStatus.DELIVERED, after_days=1, receipt_after_days=2))
    level2 = [paris_date(at) for step, at in silent.polls if step == "level2_registered_letter"]
    sent_on = step_day(untracked, "level2_registered_letter")
    # On the cadence's days, one poll a morning (two days that fall on one weekend make one Monday poll).
    assert level2 == sorted({paris_date(send_slot(sent_on + timedelta(days=d))) for d in TRACK_AFTER_DAYS})
    assert [step for step, _ in answered.polls].count("level2_registered_letter") == 2
    letter = next(m for m in receipted.messages.values() if m.step == "level2_registered_letter")
    assert [p.kind for p in letter.proofs] == [ProofKind.DEPOSIT, ProofKind.RECEIPT]
    assert any(a.detail == "tracking stopped at no status" for a in untracked.actions)


def test_letters_of_cases_before_the_rule_are_not_polled() -> None:
    case = open_case(DUE, rules=frozenset(Rule) - {Rule.LETTERS_TRACKED})
    run = drive(case, START)
    assert run.polls == []
    assert case.messages  # the trail is kept all the same


def test_a_poll_that_fails_waits_for_the_next_one() -> None:
    case, letter = sent_letter()
    now = case.watches[letter.message_id].next_at()
    assert now is not None
    case.on_clock(now)
    assert case.decide(now) == TrackLetter(letter.message_id)
    case.tracked(now, letter.message_id, None, "provider unavailable")
    assert case.decide(now) != TrackLetter(letter.message_id)
    assert case.actions[-1].detail == "letter status not known: provider unavailable"


# ------------------------------------------------------------------------------ e-mail and SMS events


def bounce(case: CaseState, channel: Channel, now: datetime) -> bool:
    sent = next(m for m in case.messages.values() if m.channel == channel.value)
    event = MessageEvent(
        event_id=f"ev-{sent.message_id}", message_id=sent.message_id, channel=channel, kind="bounced", at=now
    )
    return case.apply_event(event.event_id, lambda: case.message_event(now, event))


def test_a_bounced_email_sends_later_email_steps_by_sms_and_opens_a_task() -> None:
    case = open_case(DUE)
    now = send_slot(DUE - timedelta(days=14))
    drive(case, START, until=now)
    assert bounce(case, Channel.EMAIL, now)
    assert not bounce(case, Channel.EMAIL, now)
    assert "email_bounced" in case.open_calls
    drive(case, now)
    after = [a for a in case.actions if a.at > now and a.step.endswith("_email") and a.status is ActionStatus.SENT]
    assert after
    assert {a.channel for a in after} == {"sms"}
    assert case.status(now).unusable_channels == ["email"]


def test_a_bounced_email_without_a_phone_skips_email_steps_and_still_gives_notice_by_post() -> None:
    case = open_case(DUE, customer={"phone": None})
    now = send_slot(DUE - timedelta(days=14))
    drive(case, START, until=now)
    bounce(case, Channel.EMAIL, now)
    drive(case, now)
    skipped = {a.step for a in case.actions if a.status is ActionStatus.SKIPPED}
    assert {"level1_email", "level3_email"} <= skipped
    assert case.happened("formal_notice")
    assert case.happened("litigation_handover")


def test_a_delivered_event_is_kept_on_the_message() -> None:
    case = open_case(DUE)
    now = send_slot(DUE - timedelta(days=14))
    drive(case, START, until=now)
    sent = next(iter(case.messages.values()))
    event = MessageEvent(message_id=sent.message_id, channel=Channel.EMAIL, kind=MessageEventKind.DELIVERED, at=now)
    assert case.message_event(now, event)
    assert case.messages[sent.message_id].delivery == "delivered"
    assert not case.unusable


# ----------------------------------------------------------------------------------------- calls


def test_a_call_with_a_promised_date_records_a_promise_and_keeps_the_new_contact() -> None:
    case = open_case(DUE)
    now = send_slot(DUE + timedelta(days=4)) + timedelta(hours=2)
    drive(case, START, until=now)
    call = CallLogged(
        step="level1_call",
        outcome="promised",
        promised_on=DUE + timedelta(days=12),
        promised_amount=Decimal("600.00"),
        reason="funds",
        contact="Mme Durand, comptable",
    )
    case.log_call(now, call)
    status = case.status(now)
    assert status.stage == "promised"
    assert status.contact == "Mme Durand, comptable"
    assert any(a.step == "promise_to_pay" and "600.00 EUR promised" in (a.detail or "") for a in status.actions)


def test_a_promised_date_without_the_promised_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="promised_on and promised_amount go with outcome 'promised'"):
        CallLogged(step="level1_call", outcome="reached", promised_on=DUE)


# ---------------------------------------------------------------------------------- invoice copy


@pytest.mark.parametrize(
    ("customer", "rules", "channels"),
    [
        ({}, frozenset(Rule), [Channel.EMAIL, Channel.LETTER]),
        ({"postal_address": None}, frozenset(Rule), [Channel.EMAIL]),
        ({}, frozenset(Rule) - {Rule.INVOICE_COPY_BY_POST}, [Channel.EMAIL]),
    ],
)
def test_an_invoice_copy_goes_by_email_and_by_post_when_there_is_an_address(
    customer: dict[str, object], rules: frozenset[Rule], channels: list[Channel]
) -> None:
    case = open_case(DUE, rules=rules, customer=customer)
    assert case.resend_channels() == channels


def test_the_posted_copy_is_a_message_of_its_own() -> None:
    case = open_case(DUE)
    now = send_slot(DUE)
    by_email = case.message(now, "invoice_resend", Channel.EMAIL, "invoice-X")
    by_post = case.message(now, "invoice_resend", Channel.LETTER, "invoice-X")
    assert by_email.message_id != by_post.message_id


# ------------------------------------------------------------------------------------- limitation


@pytest.mark.parametrize(("kind", "years"), [("business", 5), ("consumer", 2)])
def test_a_case_waiting_on_a_dispute_warns_of_limitation_in_time(kind: str, years: int) -> None:
    case = open_case(DUE, customer={"kind": kind})
    now = send_slot(DUE + timedelta(days=2))
    drive(case, START, until=now)
    case.open_dispute(now, DisputeOpened(reason="price"))
    assert case.limitation_on == DUE.replace(year=DUE.year + years)
    decision = case.decide(now)
    warn_at = send_slot(case.limitation_on - timedelta(days=90))
    assert decision == Wait(warn_at, "limitation_warning")
    case.on_clock(warn_at)
    assert "limitation" in case.open_calls
    assert case.decide(warn_at) == Wait(None, None)
    assert case.status(warn_at).limitation_on == case.limitation_on


def test_an_acknowledgement_of_the_debt_restarts_limitation() -> None:
    case = open_case(date(2028, 2, 29), customer={"kind": "consumer"})
    paid_on = date(2028, 2, 29)
    case.receive_payment(
        send_slot(paid_on), PaymentReceived(payment_id="P1", amount=Decimal("10.00"), received_on=paid_on)
    )
    assert case.limitation_on == date(2030, 2, 28)
    promised_at = send_slot(date(2029, 6, 1))
    case.promise_payment(promised_at, PromiseToPay(promised_on=date(2029, 7, 1)))
    assert case.limitation_on == date(2031, 6, 1)


def test_cases_before_the_rule_do_not_wake_for_limitation() -> None:
    case = open_case(DUE, rules=frozenset(Rule) - {Rule.LIMITATION_WATCHED})
    now = send_slot(DUE + timedelta(days=2))
    drive(case, START, until=now)
    case.open_dispute(now, DisputeOpened(reason="price"))
    assert case.decide(now) == Wait(None, None)


# ------------------------------------------------------------------------------ reports out of turn


def test_a_bounce_reported_before_the_send_is_recorded_still_counts() -> None:
    case = open_case(DUE)
    now = send_slot(DUE - timedelta(days=15))
    case.on_clock(now)
    message = case.message(now, "preventive_email", Channel.EMAIL, "invoice-X")
    bounce = MessageEvent(event_id="ev-1", message_id=message.message_id, channel=Channel.EMAIL, kind="bounced", at=now)
    assert case.apply_event(bounce.event_id, lambda: case.message_event(now, bounce))
    case.record_sent(now, message, Channel.EMAIL, ActionStatus.SENT, posted(message.message_id))
    assert case.unusable == [Channel.EMAIL]
    assert case.messages[message.message_id].delivery == "bounced"
    assert case.early_events == {}


def test_a_delivered_report_after_a_bounce_does_not_hide_it() -> None:
    case = open_case(DUE)
    now = send_slot(DUE - timedelta(days=14))
    drive(case, START, until=now)
    sent = next(iter(case.messages.values()))
    for kind in ("bounced", "delivered"):
        event = MessageEvent(message_id=sent.message_id, channel=Channel.EMAIL, kind=kind, at=now)
        case.message_event(now, event)
    assert case.messages[sent.message_id].delivery == "bounced"


def test_a_notice_returned_after_a_failed_hand_over_holds_the_retry() -> None:
    case = open_case(DUE)
    until = send_slot(DUE + timedelta(days=63))
    run = drive(case, START, until=until, outcome={"litigation_handover": ActionStatus.FAILED})
    assert case.hold is not None
    assert case.steps[case.hold.index].name == "litigation_handover"
    now = run.ran[-1][1] + timedelta(hours=2)
    notice = next(m for m in case.messages.values() if m.step == "formal_notice")
    returned = report(notice, LetterStatus.UNDELIVERABLE, paris_date(now))
    case.letter_status(now, returned)
    assert case.steps[case.hold.index].name == "formal_notice"
    retried = drive(case, now, until=now + timedelta(days=30))
    assert "litigation_handover" not in [step for step, _ in retried.ran]
    assert "formal_notice" in case.open_calls


def test_a_bounced_notice_sent_by_email_holds_the_hand_over() -> None:
    case = open_case(DUE, customer={"postal_address": None})
    drive(case, START, until=send_slot(DUE + timedelta(days=40)))
    notice = next(m for m in case.messages.values() if m.step == "formal_notice")
    assert notice.channel == "email"
    now = send_slot(DUE + timedelta(days=40))
    bounce = MessageEvent(message_id=notice.message_id, channel=Channel.EMAIL, kind="bounced", at=now)
    case.message_event(now, bounce)
    drive(case, now)
    assert not case.happened("litigation_handover")
    assert {"formal_notice", "email_bounced"} <= set(case.open_calls)


class BeforeLetterTracking:
    """A case that sent its level 2 letter before letters were tracked: that occurrence keeps the old
    rule, every later one takes the new."""

    def on(self, rule: Rule, occurrence: str | None = None) -> bool:
        return (rule, occurrence) != (Rule.LETTERS_TRACKED, "level2_registered_letter")


def test_the_notice_of_a_case_whose_first_letter_predates_tracking_is_tracked() -> None:
    case = CaseState.open(make_invoice(DUE), DEFAULT_POLICY, BeforeLetterTracking())
    run = drive(case, START)
    assert {step for step, _ in run.polls} == {"formal_notice"}


def test_polls_missed_during_an_outage_are_not_made_up_one_after_the_other() -> None:
    case, letter = sent_letter()
    watch = case.watches[letter.message_id]
    late = send_slot(paris_date(letter.sent_at) + timedelta(days=9))
    case.tracked(late, letter.message_id, None, "provider was down")
    next_at = watch.next_at()
    assert next_at is not None
    assert next_at > late
    assert watch.polls == 5  # the 1, 2, 3, 5 and 8-day polls are all behind it
