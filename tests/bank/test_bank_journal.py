from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from starter.bank import (
    Allocation,
    Journal,
    OpenInvoice,
    ReconciliationPlan,
    Reversal,
    StalePlanError,
    parse_camt,
    reconcile,
)

# The samples shipped with the product (README, "Daily use").
FIXTURES = Path(__file__).resolve().parents[2] / "samples"
ImportFile = Callable[[str, list[OpenInvoice]], tuple[ReconciliationPlan, list[OpenInvoice]]]
ACCOUNT = "FR7630003036200002026123456"
STATEMENT_FINAL = {
    "F-2026-0042": Decimal("0.00"),
    "F-2026-0051": Decimal("-20.00"),  # paid, 20.00 excess
    "F-2026-0060": Decimal("0.00"),
    "F-2026-0061": Decimal("0.00"),
    "F-2026-0077": Decimal("0.00"),
}
ENTRY_5_AMOUNT = Decimal("150.00")


def balances(invoices: list[OpenInvoice]) -> dict[str, Decimal]:
    return {invoice.invoice_id: invoice.balance for invoice in invoices}


def summary(plan: ReconciliationPlan) -> list[tuple[str, str | None, Decimal, str]]:
    rows: list[tuple[str, str | None, Decimal, str]] = []
    for signal in plan.signals:
        if isinstance(signal, Allocation):
            rows.append(
                (signal.payment_id.removeprefix(f"{ACCOUNT}/"), signal.invoice_id, signal.amount, signal.outcome)
            )
        else:
            rows.append((signal.payment_id.removeprefix(f"{ACCOUNT}/"), signal.invoice_id, signal.amount, "reversed"))
    return rows


def test_statement_alone(import_file: ImportFile, invoices: list[OpenInvoice], journal: Journal) -> None:
    plan, after = import_file("camt053-sample.xml", invoices)

    assert summary(plan) == [
        ("260304SG000101", "F-2026-0051", Decimal("200.00"), "partially_paid"),
        ("260304SG000102/260304SG000102-1", "F-2026-0042", Decimal("1200.00"), "paid"),
        ("260304SG000102/260304SG000102-2", "F-2026-0077", Decimal("89.00"), "paid"),
        ("260304SG000101", "F-2026-0051", Decimal("200.00"), "reversed"),
        ("260304SG000106:F-2026-0060", "F-2026-0060", Decimal("2500.00"), "paid"),
        ("260304SG000106:F-2026-0061", "F-2026-0061", Decimal("300.00"), "paid"),
        ("260304SG000107", "F-2026-0051", Decimal("500.00"), "overpaid"),
    ]
    assert [a.rule for a in plan.allocations] == [
        "structured_reference",
        "invoice_number",
        "payer_and_amount",
        "invoice_number",
        "invoice_number",
        "reference_in_text",
    ]
    assert plan.allocations[-1].excess == Decimal("20.00")
    assert balances(after) == STATEMENT_FINAL
    assert [(item.line.source.entry_ref, item.line.amount) for item in plan.unmatched] == [("5", ENTRY_5_AMOUNT)]
    assert [(item.line.source.entry_ref, item.reason) for item in plan.ignored] == [
        ("4", "debit without reversal indicator")
    ]
    assert [item.line.amount for item in journal.unmatched()] == [ENTRY_5_AMOUNT]
    report = plan.report()
    assert (report.paid.count, report.paid.total) == (4, {"EUR": Decimal("4089.00")})
    assert (report.partially_paid.count, report.overpaid.count, report.excess) == (1, 1, {"EUR": Decimal("20.00")})
    assert (report.reversed.count, report.reversed.total) == (1, {"EUR": Decimal("200.00")})
    assert (report.unmatched.count, report.ignored.count, report.duplicates.count) == (1, 1, 0)


def test_notification_alone(import_file: ImportFile, invoices: list[OpenInvoice], journal: Journal) -> None:
    plan, after = import_file("camt054-sample.xml", invoices)

    assert balances(after) == {
        "F-2026-0042": Decimal("0.00"),
        "F-2026-0051": Decimal("480.00"),  # payment then reversal
        "F-2026-0060": Decimal("2500.00"),  # N6 is pending: untouched
        "F-2026-0061": Decimal("300.00"),
        "F-2026-0077": Decimal("0.00"),
    }
    assert [item.line.amount for item in plan.unmatched] == [ENTRY_5_AMOUNT]
    assert [(item.line.source.entry_ref, item.reason) for item in plan.ignored] == [
        ("N4", "debit without reversal indicator"),
        ("N6", "pending: not booked, not a payment yet"),
    ]


def test_notification_then_statement(import_file: ImportFile, invoices: list[OpenInvoice], journal: Journal) -> None:
    _, after_notification = import_file("camt054-sample.xml", invoices)
    plan, after = import_file("camt053-sample.xml", after_notification)

    assert balances(after) == STATEMENT_FINAL
    assert [item.line.source.entry_ref for item in plan.duplicates] == ["1", "2", "2", "3", "4", "5"]
    assert {item.reason for item in plan.duplicates} == {"already imported from camt054-sample.xml"}
    assert summary(plan) == [
        ("260304SG000106:F-2026-0060", "F-2026-0060", Decimal("2500.00"), "paid"),
        ("260304SG000106:F-2026-0061", "F-2026-0061", Decimal("300.00"), "paid"),
        ("260304SG000107", "F-2026-0051", Decimal("500.00"), "overpaid"),
    ]
    assert [item.line.amount for item in journal.unmatched()] == [ENTRY_5_AMOUNT]


def test_statement_then_notification_adds_nothing(
    import_file: ImportFile, invoices: list[OpenInvoice], journal: Journal
) -> None:
    _, after_statement = import_file("camt053-sample.xml", invoices)
    plan, after = import_file("camt054-sample.xml", after_statement)

    assert plan.signals == []
    assert plan.unmatched == []
    assert balances(after) == STATEMENT_FINAL
    assert [item.line.source.entry_ref for item in plan.duplicates] == ["N1", "N2", "N2", "N3", "N4", "N5"]
    assert [item.line.source.entry_ref for item in plan.ignored] == ["N6"]
    assert len(journal.unmatched()) == 1


def test_statement_twice_changes_nothing(
    import_file: ImportFile, invoices: list[OpenInvoice], journal: Journal
) -> None:
    _, after_first = import_file("camt053-sample.xml", invoices)
    plan, after = import_file("camt053-sample.xml", after_first)

    assert plan.signals == []
    assert len(plan.duplicates) == 8
    assert balances(after) == STATEMENT_FINAL
    assert journal.pending_signals() == []
    assert len(journal.unmatched()) == 1


def test_bank_reference_repeated_in_one_file(journal: Journal, invoices: list[OpenInvoice]) -> None:
    lines = parse_camt((FIXTURES / "camt053-sample.xml").read_bytes(), source="camt053-sample.xml").lines

    plan = reconcile([lines[0], lines[0]], invoices, journal)

    assert len(plan.allocations) == 1
    assert [item.reason for item in plan.duplicates] == [
        "already imported from camt053-sample.xml, earlier in this import"
    ]


def test_crash_after_commit_resends_the_same_signals(tmp_path: Path, invoices: list[OpenInvoice]) -> None:
    path = tmp_path / "journal.sqlite3"
    parsed = parse_camt((FIXTURES / "camt053-sample.xml").read_bytes(), source="camt053-sample.xml")
    with Journal(path) as journal:
        plan = reconcile(parsed.lines, invoices, journal)
        journal.commit(plan)
        first = journal.pending_signals()[0]
        journal.mark_signalled([first.seq])
    # ...crash while signalling; the next run re-imports the file and drains the outbox.
    with Journal(path) as journal:
        again = reconcile(parsed.lines, invoices, journal)
        journal.commit(again)
        pending = [item.signal for item in journal.pending_signals()]

    assert again.signals == []
    assert pending == plan.signals[1:]


def test_a_plan_committed_twice_is_stale(journal: Journal, invoices: list[OpenInvoice]) -> None:
    parsed = parse_camt((FIXTURES / "camt053-sample.xml").read_bytes(), source="camt053-sample.xml")
    plan = reconcile(parsed.lines, invoices, journal)
    concurrent = reconcile(parsed.lines, invoices, journal)
    journal.commit(plan)

    with pytest.raises(StalePlanError):
        journal.commit(concurrent)
    assert len(journal.pending_signals()) == len(plan.signals)


def test_manual_assignment_from_the_queue(
    import_file: ImportFile, invoices: list[OpenInvoice], journal: Journal
) -> None:
    import_file("camt053-sample.xml", invoices)
    (queued,) = journal.unmatched()
    line_id = queued.line.payment_id
    assert journal.get_unmatched(line_id) == queued
    rent = OpenInvoice(
        invoice_id="F-2026-0090",
        customer_id="C-0099",
        customer_name="SCI Les Tilleuls",
        payment_reference=None,
        balance=Decimal("150.00"),
        currency="EUR",
        due_on=queued.line.booked_on,
    )

    allocation = journal.assign(line_id, rent)

    assert (allocation.payment_id, allocation.invoice_id, allocation.amount, allocation.rule, allocation.outcome) == (
        line_id,
        "F-2026-0090",
        Decimal("150.00"),
        "manual",
        "paid",
    )
    assert journal.unmatched() == []
    assert [item.signal for item in journal.pending_signals()] == [allocation]
    with pytest.raises(KeyError):
        journal.get_unmatched(line_id)
    # The payer's IBAN is now known for that customer: next month's rent matches by itself.
    next_month = queued.line.model_copy(
        update={"payment_id": f"{ACCOUNT}/NEXT", "id_kind": "bank_reference", "remittance_text": "LOYER AVRIL"}
    )
    plan = reconcile([next_month], [rent], journal)
    assert [(a.invoice_id, a.rule) for a in plan.allocations] == [("F-2026-0090", "payer_and_amount")]


def test_reversal_days_later_and_unknown_reversal_queued(
    import_file: ImportFile, invoices: list[OpenInvoice], journal: Journal
) -> None:
    _, after = import_file("camt053-sample.xml", invoices)
    statement = parse_camt((FIXTURES / "camt053-sample.xml").read_bytes(), source="camt053-sample.xml").lines
    batch_a = statement[1]
    returned = batch_a.model_copy(
        update={"payment_id": f"{ACCOUNT}/260306SG000201", "direction": "debit", "reversal": True}
    )
    stranger = returned.model_copy(update={"payment_id": f"{ACCOUNT}/260306SG000202", "tx_id": "TX-UNKNOWN"})

    plan = reconcile([returned, stranger], after, journal)
    journal.commit(plan)

    assert plan.reversals == [
        Reversal(
            payment_id=batch_a.payment_id,
            line_id=batch_a.payment_id,
            invoice_id="F-2026-0042",
            amount=Decimal("1200.00"),
            currency="EUR",
            reversed_on=batch_a.booked_on,
            reversal_line_id=returned.payment_id,
            reason=f"reversed by {returned.payment_id}",
        )
    ]
    assert [item.line.payment_id for item in journal.unmatched()] == [statement[5].payment_id, stranger.payment_id]
    with pytest.raises(ValueError, match="not an incoming payment"):
        journal.assign(stranger.payment_id, invoices[0])
    # Already reversed: a second copy of the reversal finds nothing left to cancel.
    copy = returned.model_copy(update={"payment_id": f"{ACCOUNT}/260306SG000203"})
    assert reconcile([copy], after, journal).reversals == []


def test_reversal_of_a_queued_payment_closes_the_queue_item(journal: Journal, invoices: list[OpenInvoice]) -> None:
    statement = parse_camt((FIXTURES / "camt053-sample.xml").read_bytes(), source="camt053-sample.xml").lines
    anonymous = statement[5].model_copy(update={"tx_id": "TX-5"})  # a TxId the return can quote
    journal.commit(reconcile([anonymous], invoices, journal))
    returned = anonymous.model_copy(
        update={
            "payment_id": f"{ACCOUNT}/260306SG000300",
            "id_kind": "bank_reference",
            "direction": "debit",
            "reversal": True,
        }
    )

    plan = reconcile([returned], invoices, journal)
    journal.commit(plan)

    assert [(r.payment_id, r.invoice_id, r.amount) for r in plan.reversals] == [
        (anonymous.payment_id, None, ENTRY_5_AMOUNT)
    ]
    assert journal.unmatched() == []


def test_bank_reference_reused_for_another_movement_is_set_aside(
    import_file: ImportFile, invoices: list[OpenInvoice], journal: Journal
) -> None:
    _, after = import_file("camt053-sample.xml", invoices)
    first = parse_camt((FIXTURES / "camt053-sample.xml").read_bytes(), source="camt053-sample.xml").lines[0]
    other = first.model_copy(update={"amount": Decimal("480.00")})

    plan = reconcile([other], after, journal)
    journal.commit(plan)

    assert plan.signals == []
    assert [item.line.payment_id for item in plan.unmatched] == [f"{first.payment_id}~credit:480:EUR"]
    assert plan.unmatched[0].reason == (
        f"bank reference {first.payment_id} already used in camt053-sample.xml for a different movement "
        "(credit:200:EUR); set aside under a derived id"
    )
    assert reconcile([other], after, journal).duplicates[0].line.payment_id == f"{first.payment_id}~credit:480:EUR"
    pending = other.model_copy(update={"status": "pending", "booking_date": None})
    assert [item.reason for item in reconcile([pending], after, journal).ignored] == [
        "pending: not booked, not a payment yet"
    ]


def test_partial_import_keeps_valid_entries_only(journal: Journal, invoices: list[OpenInvoice]) -> None:
    text = (FIXTURES / "camt053-sample.xml").read_text()
    data = text.replace(
        '<Amt Ccy="EUR">2800.00</Amt>\n        <CdtDbtInd>', '<Amt Ccy="EUR">28OO.00</Amt>\n        <CdtDbtInd>'
    )
    parsed = parse_camt(data.encode(), source="bad.xml")
    assert [str(error) for error in parsed.errors] == [
        "bad.xml line 238, entry 6 (NtryRef 6), Ntry/Amt: '28OO.00' is not a decimal amount"
    ]

    plan = reconcile(parsed.lines, invoices, journal)  # what --partial does
    journal.commit(plan)

    assert "F-2026-0060" not in {a.invoice_id for a in plan.allocations}
    assert {a.invoice_id for a in plan.allocations} == {"F-2026-0042", "F-2026-0051", "F-2026-0077"}
    # Once the bank sends a corrected file, only the missing entry is new.
    fixed = parse_camt((FIXTURES / "camt053-sample.xml").read_bytes(), source="fixed.xml")
    again = reconcile(fixed.lines, invoices, journal)
    assert [line.source.entry_ref for line in again.lines] == ["6"]
