"""A registered letter's fate reaches its case on the time-skipping server: polled from the provider
(here the outbox, playing a provider's statuses) or signalled as `letter_status`."""

import json
from datetime import datetime, time, timedelta

from activities.outbox import Outbox
from domain.calendar import PARIS, add_business_days, paris_date, send_slot
from domain.models import LetterStatus
from domain.tracking import LetterStatusReported
from tests.conftest import Harness, advance_to, at_step, clear_due_date, close_case, make_invoice
from workflows.invoice_dunning import InvoiceDunning


async def test_a_notice_left_unclaimed_moves_the_hand_over_to_its_deadline_from_presentation(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, 35))
        status = await handle.query(InvoiceDunning.status)
        [notice] = [m for m in status.messages if m.step == "formal_notice"]
        sent_on = paris_date(notice.sent_at)
        presented = datetime.combine(sent_on + timedelta(days=18), time(10), tzinfo=PARIS)
        # As a provider would tell it: presented, not collected within the 15 days, returned.
        folder = Outbox(harness.settings.outbox_dir, "letters").directory / notice.message_id
        (folder / "statuses.json").write_text(json.dumps([{"status": "unclaimed", "at": presented.isoformat()}]))
        result = await handle.result()
        final = await handle.query(InvoiceDunning.status)
    assert result.outcome == "litigation"
    [kept] = [m for m in final.messages if m.step == "formal_notice"]
    assert kept.letter_outcome is LetterStatus.UNCLAIMED
    handover = next(a for a in final.actions if a.step == "litigation_handover")
    planned = send_slot(due + timedelta(days=60))
    deadline = send_slot(add_business_days(presented.date() + timedelta(days=8), 1))
    assert deadline > planned
    assert deadline <= handover.at < deadline + timedelta(minutes=1)


async def test_a_notice_reported_undeliverable_holds_the_hand_over_for_a_person(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, 35))
        [notice] = [m for m in (await handle.query(InvoiceDunning.status)).messages if m.step == "formal_notice"]
        report = LetterStatusReported(
            event_id="mf-123/undeliverable",
            message_id=notice.message_id,
            status=LetterStatus.UNDELIVERABLE,
            at=await harness.now(),
            detail="destinataire inconnu à l'adresse",
        )
        await handle.signal(InvoiceDunning.letter_status, report)
        await handle.signal(InvoiceDunning.letter_status, report)
        await advance_to(harness, at_step(due, 70))
        held = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert not any(a.step == "litigation_handover" for a in held.actions)
    assert {"formal_notice", "postal_address"} <= set(held.open_calls)
    assert held.unusable_channels == ["registered_letter"]
    reported = [a for a in held.actions if a.detail and "letter undeliverable" in a.detail]
    assert len(reported) == 1
