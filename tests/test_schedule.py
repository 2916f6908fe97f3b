"""When steps run: late starts, business days, rescheduling, and what each customer is told."""

from datetime import date, timedelta

from domain.calendar import is_business_day, next_business_day, paris_date, send_slot
from domain.models import InvoiceUpdated, Stage
from tests.conftest import (
    Harness,
    advance_to,
    at_step,
    clear_due_date,
    close_case,
    colliding_due_date,
    make_invoice,
    near,
)
from tests.ladders import BAD_PAYER, STANDARD
from workflows.invoice_dunning import InvoiceDunning


async def test_late_start_runs_only_the_latest_due_step(harness: Harness) -> None:
    today = await harness.today()
    due = today - timedelta(days=20)
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, send_slot(today + timedelta(days=1)) + timedelta(hours=1))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    done = [a for a in status.actions if a.channel != "billing"]
    skipped = [a.step for a in done if a.status == "skipped"]
    ran = [a.step for a in done if a.status not in ("skipped", "recorded")]
    assert skipped == [
        "preventive_email",
        "preventive_call",
        "level1_email",
        "level1_call",
        "level1_followup_email",
        "level2_email",
        "level2_sms",
    ]
    assert ran == ["level2_registered_letter"]
    # No burst: nothing reached the e-mail provider, one letter went out, in the sending window.
    assert harness.sendgrid.requests == []
    assert len(harness.outbox("letters")) == 1
    assert status.stage is Stage.LEVEL_2
    assert status.days_overdue >= 20


async def test_steps_move_off_weekends_and_holidays(harness: Harness) -> None:
    # A due date whose J+1 is Christmas Day: level1_email must wait for the next business day.
    year = (await harness.today()).year + 1
    due = date(year, 12, 24)
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, send_slot(date(year + 1, 1, 10)))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    level1 = next(a for a in status.actions if a.step == "level1_email")
    assert near(level1.at, send_slot(next_business_day(date(year, 12, 26))))
    for action in status.actions:
        if action.channel in ("email", "call", "sms", "registered_letter") and action.status != "skipped":
            assert is_business_day(action.at.date())


async def test_two_steps_pushed_onto_one_morning_both_run_on_successive_business_days(harness: Harness) -> None:
    due = colliding_due_date(await harness.today() + timedelta(days=30))
    # The ladder as planned from the due date alone, before collisions are spread.
    raw = {s.name: send_slot(due + timedelta(days=s.offset_days)) for s in STANDARD}
    collided = {name for name, at in raw.items() if list(raw.values()).count(at) > 1}
    assert collided
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, send_slot(due + timedelta(days=33)))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    ran = {a.step: a.at for a in status.actions if a.step in raw}
    assert not [a for a in status.actions if a.status == "skipped"]
    assert collided <= set(ran)
    days = [paris_date(at) for at in ran.values()]
    assert days == sorted(set(days))
    for name in collided:
        assert is_business_day(paris_date(ran[name]))
        assert raw[name] <= ran[name] <= raw[name] + timedelta(days=4)


async def test_new_due_date_reschedules_the_remaining_steps(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    new_due = clear_due_date(due + timedelta(days=30))
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, -15))
        await handle.signal(InvoiceDunning.invoice_updated, InvoiceUpdated(due_on=new_due, amount="1500.00"))
        status = await handle.query(InvoiceDunning.status)
        await advance_to(harness, at_step(new_due, 1))
        later = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert status.due_on == new_due
    assert status.balance == 1500
    assert status.next_action is not None
    assert status.next_action.step == "preventive_call"
    assert near(status.next_action.at, send_slot(new_due - timedelta(days=7)))
    level1 = next(a for a in later.actions if a.step == "level1_email")
    assert near(level1.at, send_slot(new_due + timedelta(days=1)))
    assert [a.step for a in later.actions].count("preventive_email") == 1


async def test_business_customers_are_told_penalties_and_indemnity_consumers_are_not(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    business = make_invoice(due)
    consumer = make_invoice(
        due,
        customer={
            "customer_id": "P-0102",
            "name": "Claire Durand",
            "kind": "consumer",
            "email": "claire@mail.example",
            "language": "en",
        },
    )
    async with harness.worker():
        handles = [await harness.start(business), await harness.start(consumer)]
        await advance_to(harness, at_step(due, 35))
        for handle in handles:
            await close_case(handle)
    by_recipient: dict[str, dict[str, str]] = {}
    for request in harness.sendgrid.requests:
        by_recipient.setdefault(request["to"], {})[request["custom_args"]["step"]] = request["text"]
    pro, private = by_recipient["compta@martin.example"], by_recipient["claire@mail.example"]
    assert "L441-10" not in pro["level1_email"]
    for step in ("level2_email", "level3_email"):
        assert "L441-10" in pro[step]
        assert "40,00\xa0€" in pro[step]
        assert "L441-10" not in private[step]
        assert "indemnity" not in private[step]
    assert private["level1_email"].startswith("Hello,")
    assert "Second reminder" in next(
        r["subject"]
        for r in harness.sendgrid.requests
        if r["to"] == "claire@mail.example" and r["custom_args"]["step"] == "level2_email"
    )
    letters = {e["recipient"]: e for e in harness.outbox("letters")}
    assert set(letters) == {"Boulangerie Martin SARL", "Claire Durand"}


async def test_bad_payer_segment_follows_its_compressed_ladder(harness: Harness) -> None:
    due = await harness.today() + timedelta(days=30)
    invoice = make_invoice(due, customer={"segment": "bad_payer"})
    async with harness.worker():
        handle = await harness.start(invoice)
        result = await handle.result()
        status = await handle.query(InvoiceDunning.status)
    assert result.outcome == "litigation"
    ran = [a.step for a in status.actions if a.status not in ("skipped", "recorded")]
    assert [s.name for s in BAD_PAYER if s.name in ran] == ran
    handover = next(a for a in status.actions if a.step == "litigation_handover")
    assert handover.at < send_slot(due + timedelta(days=40))


async def test_case_started_after_j60_gets_a_formal_notice_before_litigation(harness: Harness) -> None:
    today = await harness.today()
    due = today - timedelta(days=90)
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        result = await handle.result()
        status = await handle.query(InvoiceDunning.status)
    ran = [a for a in status.actions if a.status not in ("skipped", "recorded")]
    assert [a.step for a in ran] == ["formal_notice", "litigation_handover"]
    assert [a.step for a in status.actions if a.status == "skipped"][-1] == "level3_call"
    notice, handover = ran
    # The 8-day deadline of the notice and the ladder's 25 days between the two are respected.
    assert paris_date(handover.at) - paris_date(notice.at) >= timedelta(days=25)
    assert result.outcome == "litigation"
    assert len(harness.outbox("letters")) == 1
