"""Policy `digest = true`: one e-mail per customer listing its invoices at the same step, sent once.

On the time-skipping server with the real worker, activities and fake SendGrid: three invoices of
one customer due the same day reach each e-mail step at the same send slot.
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from activities.ledger import SentLedger
from domain.calendar import send_slot, send_window_closes
from domain.case import CaseState
from domain.digest import DigestEntry, DigestState, digest_workflow_id
from domain.ladder import Channel
from domain.models import ActionStatus, DunningResult, InvoiceCancelled, InvoiceInput, PaymentReceived
from domain.tracking import MessageEvent, MessageEventKind
from dunning.contract import DIGEST_WORKFLOW_TYPE, DigestSignal, SignalName
from tests.conftest import Harness, advance_to, at_step, clear_due_date, make_invoice
from tests.ladders import DEFAULT_POLICY
from workflows.invoice_dunning import InvoiceDunning

DIGEST_POLICY = DEFAULT_POLICY.model_copy(update={"name": "digest", "digest": True})
CUSTOMER = "C-0017"
AMOUNTS = ("1200.00", "340.50", "89.90")


def level1_action(actions: list[Any]) -> Any:
    return next(a for a in actions if a.step == "level1_email")


async def three_cases(harness: Harness, due: date) -> list[tuple[InvoiceInput, WorkflowHandle[Any, DunningResult]]]:
    invoices = [make_invoice(due, amount=amount) for amount in AMOUNTS]
    return [(invoice, await harness.start(invoice, DIGEST_POLICY)) for invoice in invoices]


async def hand_over_again(harness: Harness, invoice: InvoiceInput, workflow_id: str) -> None:
    """What a retried JOIN_DIGEST activity does: the same entry, by its message id, signalled again."""
    now = await harness.now()
    message = CaseState.open(invoice, DIGEST_POLICY).message(now, "level1_email", Channel.EMAIL, workflow_id)
    entry = DigestEntry(message=message, send_by=send_window_closes(now))
    await harness.client.get_workflow_handle(digest_workflow_id(CUSTOMER)).signal(DigestSignal.ENTRY, entry)


async def close_all(harness: Harness, handles: list[WorkflowHandle[Any, DunningResult]]) -> list[dict[str, Any]]:
    """What the provider received so far; then every case cancelled before any result is awaited
    (awaiting one lets the server skip the others' clock to their next step)."""
    sent = list(harness.sendgrid.requests)
    for handle in handles:
        await handle.signal(InvoiceDunning.invoice_cancelled, InvoiceCancelled(reason="test over"))
    for handle in handles:
        await handle.result()
    return sent


def steps(sent: list[dict[str, Any]]) -> list[str]:
    return [r["custom_args"]["step"] for r in sent]


def euros(amount: Decimal) -> str:
    return str(format_currency(amount, "EUR", locale="fr_FR"))


async def test_three_invoices_get_one_email_per_step_listing_them_and_each_trail_records_it(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        cases = await three_cases(harness, due)
        await advance_to(harness, at_step(due, 1))
        statuses = [await handle.query(InvoiceDunning.status) for _, handle in cases]
        sent = await close_all(harness, [h for _, h in cases])

    assert steps(sent) == ["preventive_email", "level1_email"]
    level1 = sent[1]
    assert level1["to"] == "compta@martin.example"
    assert "3 factures : règlement non constaté" in level1["subject"]
    for invoice, _ in cases:
        assert invoice.invoice_id in level1["text"]
        assert euros(invoice.amount) in level1["text"]
    assert f"Total dû : {euros(sum((Decimal(a) for a in AMOUNTS), Decimal(0)))}" in level1["text"]
    digest_id = level1["custom_args"]["message_id"]
    for status in statuses:
        action = level1_action(status.actions)
        assert action.status is ActionStatus.SENT
        assert "in the customer's digest of 3 invoices; sendgrid" in (action.detail or "")
        trail = next(m for m in status.messages if m.step == "level1_email")
        assert trail.message_id == digest_id
        assert trail.provider == "sendgrid"
        assert trail.provider_message_id is not None
        assert trail.recipient == "compta@martin.example"
    # One provider id for the three trails: the same e-mail.
    assert len({next(m for m in s.messages if m.step == "level1_email").provider_message_id for s in statuses}) == 1
    # Two digests, each claimed with the three invoices' own message ids.
    assert SentLedger(harness.settings.ledger_path).count("sent") == 2 * (1 + 3)


async def test_an_invoice_paid_before_the_digest_goes_is_left_out(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        cases = await three_cases(harness, due)
        # The three cases have handed their level 1 e-mail over; the digest waits for its window.
        await advance_to(harness, send_slot(due + timedelta(days=1)) + timedelta(minutes=2))
        paid, handle = cases[1]
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(payment_id="P1", amount=paid.amount, received_on=due + timedelta(days=1)),
        )
        await advance_to(harness, at_step(due, 1))
        statuses = [await h.query(InvoiceDunning.status) for _, h in cases]
        sent = await close_all(harness, [h for _, h in cases])

    assert steps(sent) == ["preventive_email", "level1_email"]
    level1 = sent[1]
    assert "2 factures" in level1["subject"]
    assert paid.invoice_id not in level1["text"]
    assert all(invoice.invoice_id in level1["text"] for invoice, _ in (cases[0], cases[2]))
    assert f"Total dû : {euros(Decimal('1289.90'))}" in level1["text"]
    left_out = level1_action(statuses[1].actions)
    assert left_out.status is ActionStatus.SKIPPED
    assert "left out of the customer's digest" in (left_out.detail or "")
    assert not any(m.step == "level1_email" for m in statuses[1].messages)
    for status in (statuses[0], statuses[2]):
        assert "digest of 2 invoices" in (level1_action(status.actions).detail or "")


async def test_a_retried_send_and_a_repeated_hand_over_send_one_email(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        cases = await three_cases(harness, due)
        await advance_to(harness, send_slot(due + timedelta(days=1)) + timedelta(minutes=2))
        # A hand-over retried after its signal got through delivers each entry a second time; the
        # provider fails the first attempt of the digest, which is retried.
        for invoice, handle in cases:
            await hand_over_again(harness, invoice, handle.id)
        harness.sendgrid.script.append(503)
        await advance_to(harness, at_step(due, 1))
        statuses = [await h.query(InvoiceDunning.status) for _, h in cases]
        # Once answered, an entry handed over again is not sent again either.
        await hand_over_again(harness, cases[0][0], cases[0][1].id)
        await advance_to(harness, at_step(due, 1, after=timedelta(hours=2)))
        sent = await close_all(harness, [h for _, h in cases])
    assert [r["custom_args"]["step"] for r in sent if r["answer"] == 202] == [
        "preventive_email",
        "level1_email",
    ]
    assert [r["answer"] for r in sent if r["custom_args"]["step"] == "level1_email"] == [503, 202]
    assert all(level1_action(s.actions).status is ActionStatus.SENT for s in statuses)


async def test_without_digest_each_invoice_gets_its_own_email(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        invoices = [make_invoice(due, amount=amount) for amount in AMOUNTS]
        handles = [await harness.start(invoice) for invoice in invoices]
        await advance_to(harness, at_step(due, 1))
        sent = await close_all(harness, handles)
    assert sorted(steps(sent)) == ["level1_email"] * 3 + ["preventive_email"] * 3
    assert all("3 factures" not in r["subject"] for r in sent)


async def test_an_invoice_alone_at_its_step_gets_its_own_email(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        invoice = make_invoice(due)
        handle = await harness.start(invoice, DIGEST_POLICY)
        await advance_to(harness, at_step(due, 1))
        status = await handle.query(InvoiceDunning.status)
        sent = await close_all(harness, [handle])
    assert steps(sent) == ["preventive_email", "level1_email"]
    assert sent[1]["subject"] == f"Facture {invoice.invoice_id} : règlement non constaté"
    assert level1_action(status.actions).status is ActionStatus.SENT


async def test_the_digest_continues_as_new_and_passes_a_bounce_on_to_every_case(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    # Started before the cases (their hand-over then signals it) with a history limit it soon passes.
    first_run = await harness.client.start_workflow(
        DIGEST_WORKFLOW_TYPE,
        DigestState(customer_id=CUSTOMER, history_limit=30),
        id=digest_workflow_id(CUSTOMER),
        task_queue=harness.task_queue,
    )
    async with harness.worker():
        cases = await three_cases(harness, due)
        await advance_to(harness, at_step(due, -15))
        preventive = harness.sendgrid.requests[0]["custom_args"]["message_id"]
        run = harness.client.get_workflow_handle(first_run.id, run_id=first_run.result_run_id)
        assert (await run.describe()).status is WorkflowExecutionStatus.CONTINUED_AS_NEW
        # SendGrid reports by the digest's case reference: to the digest's latest run.
        bounce = MessageEvent(
            event_id="sg-1",
            message_id=preventive,
            channel=Channel.EMAIL,
            kind=MessageEventKind.BOUNCED,
            at=await harness.now(),
        )
        await harness.client.get_workflow_handle(first_run.id).signal(SignalName.MESSAGE_EVENT, bounce)
        # Level 1 goes by SMS: the address bounced.
        await advance_to(harness, at_step(due, 1))
        statuses = [await h.query(InvoiceDunning.status) for _, h in cases]
        sent = await close_all(harness, [h for _, h in cases])
    assert steps(sent) == ["preventive_email"]
    for status in statuses:
        assert "email" in status.unusable_channels
        assert next(m for m in status.messages if m.message_id == preventive).delivery == "bounced"
        assert level1_action(status.actions).channel == "sms"
    assert len(harness.outbox("sms")) == 3


async def test_a_digest_stuck_past_the_fallback_never_doubles_a_reminder(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        cases = await three_cases(harness, due)
        await advance_to(harness, at_step(due, -15))
        # SendGrid fails every attempt of the level 1 digest for hours: the cases fall back to their
        # own e-mails while the digest is still retrying; then it answers again.
        harness.sendgrid.script.extend([503] * 12)
        await advance_to(harness, at_step(due, 1, after=timedelta(hours=8)))
        statuses = [await h.query(InvoiceDunning.status) for _, h in cases]
        sent = await close_all(harness, [h for _, h in cases])
    accepted = [r for r in sent if r["answer"] == 202 and r["custom_args"]["step"] == "level1_email"]
    for invoice, _ in cases:
        assert len([r for r in accepted if invoice.invoice_id in r["text"]]) == 1
    assert all(level1_action(s.actions).status is ActionStatus.SENT for s in statuses)
    # Here the cases' own e-mails went first (4 hours); the digest's next attempt found their
    # message ids sent, sent nothing and released its own claim.
    assert sorted(r["subject"] for r in accepted) == sorted(
        f"Facture {i.invoice_id} : règlement non constaté" for i, _ in cases
    )
    ledger = SentLedger(harness.settings.ledger_path)
    assert (ledger.count("sent"), ledger.count("sending"), ledger.count("unconfirmed")) == (4 + 3, 0, 0)
