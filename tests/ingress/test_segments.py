"""The segment the ingress derives for an invoice.created that names none, from what its real SQLite
store has seen of the customer, on the time-skipping server."""

import uuid
from datetime import date, timedelta
from typing import Any

from domain.models import InvoiceInput, Segment
from starter.dispatch import Applied, Dispatcher
from starter.events import EVENT, Event
from starter.importer import parse_invoice_csv
from starter.steering import change_segment
from tests.conftest import Harness, close_case, make_invoice
from tests.ingress.conftest import created, event, status_of


def unsegmented(invoice: InvoiceInput) -> Event:
    """invoice.created as billing sends it when it knows no segment: no `segment` key at all."""
    envelope: dict[str, Any] = created(invoice)
    del envelope["data"]["customer"]["segment"]
    return EVENT.validate_python(envelope)


def explicit(invoice: InvoiceInput) -> Event:
    return EVENT.validate_python(created(invoice))


def paid(invoice: InvoiceInput, on: date) -> Event:
    data = {"payment_id": f"P-{invoice.invoice_id}", "amount": str(invoice.amount), "received_on": on.isoformat()}
    return EVENT.validate_python(event(f"pay-{invoice.invoice_id}", "payment.received", invoice.invoice_id, **data))


def segment_trail(actions: list[Any]) -> list[str]:
    return [a.detail for a in actions if a.step == "segment_changed"]


async def test_a_customer_with_three_late_invoices_starts_as_a_bad_payer(
    harness: Harness, dispatcher: Dispatcher
) -> None:
    today = await harness.today()
    customer = {"customer_id": f"C-{uuid.uuid4().hex[:8]}"}
    # Two paid after their due date, one still unpaid past it; one paid on time does not count.
    late = [make_invoice(today - timedelta(days=days), customer=customer) for days in (100, 70, 40)]
    on_time = make_invoice(today - timedelta(days=130), customer=customer)
    for past in (*late, on_time):
        assert (await dispatcher.apply(explicit(past))).applied is Applied.STARTED
    for past in late[:2]:
        assert (await dispatcher.apply(paid(past, past.due_on + timedelta(days=12)))).applied is Applied.SIGNALLED
    assert (await dispatcher.apply(paid(on_time, on_time.due_on))).applied is Applied.SIGNALLED

    invoice = make_invoice(today + timedelta(days=30), customer=customer)
    assert (await dispatcher.apply(unsegmented(invoice))).applied is Applied.STARTED
    # The same invoice.created again, after a person chose another segment: nothing derived twice.
    same_again = explicit(invoice).model_copy(update={"event_id": "created-again"})
    given = make_invoice(today + timedelta(days=30), customer={**customer, "segment": "standard"})
    assert (await dispatcher.apply(explicit(given))).applied is Applied.STARTED
    async with harness.worker():
        status = await status_of(harness, invoice.invoice_id)
        assert status.segment is Segment.BAD_PAYER
        first_late = min(p.due_on for p in late)
        assert segment_trail(status.actions) == [
            f"standard -> bad_payer: derived: 3 late invoices since {first_late:%Y-%m}"
        ]
        # Its ladder is the bad payer's, from the start: 10 steps, no preventive call.
        assert [a.detail for a in status.actions if a.step == "ladder_changed"] == ["10 steps; next: preventive_email"]

        await change_segment(harness.client, invoice.invoice_id, Segment.STRATEGIC, "key account")
        redo = unsegmented(invoice).model_copy(update={"event_id": "created-redo"})
        assert (await dispatcher.apply(redo)).applied is Applied.STARTED
        assert (await dispatcher.apply(same_again)).applied is Applied.STARTED
        assert (await status_of(harness, invoice.invoice_id)).segment is Segment.STRATEGIC

        # An explicit segment wins over the record, `standard` included.
        explicit_status = await status_of(harness, given.invoice_id)
        assert explicit_status.segment is Segment.STANDARD
        assert segment_trail(explicit_status.actions) == []
        for case in (*late, on_time, invoice, given):
            handle = harness.client.get_workflow_handle(case.workflow_id)
            if (await status_of(harness, case.invoice_id)).outcome is None:
                await close_case(handle)


async def test_a_first_invoice_starts_as_new_and_a_known_customer_as_standard(
    harness: Harness, dispatcher: Dispatcher
) -> None:
    today = await harness.today()
    newcomer = make_invoice(today + timedelta(days=20), customer={"customer_id": f"C-{uuid.uuid4().hex[:8]}"})
    assert (await dispatcher.apply(unsegmented(newcomer))).applied is Applied.STARTED

    known = {"customer_id": f"C-{uuid.uuid4().hex[:8]}"}
    first = make_invoice(today - timedelta(days=400), customer=known)
    assert (await dispatcher.apply(explicit(first))).applied is Applied.STARTED
    assert (await dispatcher.apply(paid(first, first.due_on))).applied is Applied.SIGNALLED
    second = make_invoice(today + timedelta(days=20), customer=known)
    assert (await dispatcher.apply(unsegmented(second))).applied is Applied.STARTED
    async with harness.worker():
        status = await status_of(harness, newcomer.invoice_id)
        assert status.segment is Segment.NEW
        assert segment_trail(status.actions) == [f"standard -> new: derived: first invoice {newcomer.issued_on:%Y-%m}"]
        known_status = await status_of(harness, second.invoice_id)
        assert known_status.segment is Segment.STANDARD
        assert segment_trail(known_status.actions) == []

        # A closed case is not restarted by a start that carries a derived segment either.
        await close_case(harness.client.get_workflow_handle(newcomer.workflow_id))
        again = unsegmented(newcomer).model_copy(update={"event_id": "created-after-close"})
        assert (await dispatcher.apply(again)).applied is Applied.CLOSED
        await close_case(harness.client.get_workflow_handle(second.workflow_id))


async def test_a_csv_row_with_no_segment_is_derived_one_with_a_segment_is_kept(
    harness: Harness, dispatcher: Dispatcher
) -> None:
    today = await harness.today()
    header = "invoice_id,amount,issued_on,due_on,customer_id,customer_name,kind,email,segment\n"
    ids = [f"F-CSV-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    rows = [
        f"{invoice_id},100.00,{today},{today + timedelta(days=30)},C-{invoice_id},X,business,a@b.example,{segment}\n"
        for invoice_id, segment in zip(ids, ("", "standard"), strict=True)
    ]
    events = [parsed for _, parsed, _ in parse_invoice_csv([header, *rows]) if parsed is not None]
    assert len(events) == 2
    for parsed in events:
        assert (await dispatcher.apply(parsed)).applied is Applied.STARTED
    async with harness.worker():
        segments = [(await status_of(harness, invoice_id)).segment for invoice_id in ids]
        for invoice_id in ids:
            await close_case(harness.client.get_workflow_handle(f"invoice-{invoice_id}"))
    assert segments == [Segment.NEW, Segment.STANDARD]
