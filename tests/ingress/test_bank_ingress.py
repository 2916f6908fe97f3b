"""Bank reconciliation end to end on the time-skipping server: the shared samples, each matching rule,
partial and over-payments, a reversal, double imports, malformed files, manual assignment."""

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from domain.models import Stage
from starter.bank import BankFileRejected, Journal
from starter.dispatch import Dispatcher
from starter.importer import import_items, parse_invoice_jsonl
from starter.reconcile import import_bank_file
from tests.conftest import Harness, make_invoice
from tests.ingress.conftest import FIXTURES, created, status_of

ZERO = Decimal("0.00")


async def _load_samples(dispatcher: Dispatcher) -> None:
    # The samples are due in early 2026; moved a year on, the cases wait quietly during the test.
    lines = [
        line.replace('"due_on": "2026-', '"due_on": "2027-').replace('"issued_on": "2026-', '"issued_on": "2027-')
        for line in (FIXTURES / "invoices-sample.jsonl").read_text().splitlines()
    ]
    summary = await import_items(lambda: parse_invoice_jsonl(lines), dispatcher, concurrency=4)
    assert (summary.started, summary.rejected, summary.failed) == (5, 0, 0), summary.errors


async def _balances(harness: Harness) -> dict[str, Decimal]:
    ids = ("F-2026-0042", "F-2026-0051", "F-2026-0060", "F-2026-0061", "F-2026-0077")
    return {iid: (await status_of(harness, iid)).balance for iid in ids}


async def test_camt053_sample_then_again(
    sample_harness: Harness, sample_dispatcher: Dispatcher, journal: Journal
) -> None:
    harness, dispatcher = sample_harness, sample_dispatcher
    data = (FIXTURES / "camt053-sample.xml").read_bytes()
    async with harness.worker():
        await _load_samples(dispatcher)
        result = await import_bank_file(data, "camt053-sample.xml", dispatcher=dispatcher, journal=journal)
        report = result.report
        assert report.paid.count == 4  # 0042 (invoice number), 0077 (payer + amount), 0060 + 0061 (split)
        assert report.partially_paid.count == 1  # entry 1, structured reference
        assert report.overpaid.count == 1  # entry 7, RF typed in the text
        assert report.excess == {"EUR": Decimal("20.00")}
        assert report.reversed.count == 1
        assert (report.unmatched.count, report.unmatched.total) == (1, {"EUR": Decimal("150.00")})
        assert report.ignored.count == 1  # bank fees
        rules = {a.invoice_id: a.rule for a in result.plan.allocations}
        assert rules["F-2026-0042"] == "invoice_number"
        assert rules["F-2026-0077"] == "payer_and_amount"
        assert rules["F-2026-0051"] == "reference_in_text"  # the last one on it (entry 7)
        assert next(a.rule for a in result.plan.allocations) == "structured_reference"
        assert await _balances(harness) == {
            "F-2026-0042": ZERO,
            "F-2026-0051": Decimal("-20.00"),
            "F-2026-0060": ZERO,
            "F-2026-0061": ZERO,
            "F-2026-0077": ZERO,
        }
        status = await status_of(harness, "F-2026-0051")
        assert status.paid == Decimal("500.00")
        assert status.stage is Stage.SETTLED

        again = await import_bank_file(data, "camt053-sample.xml", dispatcher=dispatcher, journal=journal)
        assert again.plan.signals == []
        assert again.report.duplicates.count == 8  # every booked line, a batch counted per transaction
        assert (await status_of(harness, "F-2026-0051")).paid == Decimal("500.00")


async def test_camt054_then_camt053_counts_nothing_twice(
    sample_harness: Harness, sample_dispatcher: Dispatcher, journal: Journal
) -> None:
    harness, dispatcher = sample_harness, sample_dispatcher
    async with harness.worker():
        await _load_samples(dispatcher)
        first = await import_bank_file(
            (FIXTURES / "camt054-sample.xml").read_bytes(), "camt054", dispatcher=dispatcher, journal=journal
        )
        assert first.report.ignored.count == 2  # fees and the pending line
        balances = await _balances(harness)
        assert balances == {
            "F-2026-0042": ZERO,
            "F-2026-0051": Decimal("480.00"),
            "F-2026-0060": Decimal("2500.00"),
            "F-2026-0061": Decimal("300.00"),
            "F-2026-0077": ZERO,
        }
        second = await import_bank_file(
            (FIXTURES / "camt053-sample.xml").read_bytes(), "camt053", dispatcher=dispatcher, journal=journal
        )
        assert second.report.duplicates.count == 6  # entries 1 to 5, entry 2 being two transactions
        assert await _balances(harness) == {
            "F-2026-0042": ZERO,
            "F-2026-0051": Decimal("-20.00"),
            "F-2026-0060": ZERO,
            "F-2026-0061": ZERO,
            "F-2026-0077": ZERO,
        }
        assert len(journal.unmatched()) == 1


async def test_csv_statement_rules_and_manual_assignment(harness: Harness, api: httpx.AsyncClient) -> None:
    today = await harness.today()
    due = today + timedelta(days=60)
    a = make_invoice(due, invoice_id="F-2026-1001", payment_reference="RF75F20261001", amount="300.00")
    b = make_invoice(due, invoice_id="F-2026-1002", payment_reference=None, amount="250.00")
    c = make_invoice(
        due,
        invoice_id="F-2026-1003",
        payment_reference=None,
        amount="99.90",
        customer={"customer_id": "C-0900", "name": "Claire Fontaine"},
    )
    csv = (
        "date,amount,reference,payer,bank_ref\n"
        f"{today},300.00,RF75 F202 6100 1,MARTIN,B-1\n"  # RF in text
        f"{today},100.00,facture F 2026 1002,MARTIN,B-2\n"  # invoice number, partial
        f"{today},99.90,merci,FONTAINE CLAIRE,B-3\n"  # payer name + exact amount
        f"{today},-12.00,frais,BANQUE,B-4\n"  # debit: ignored
        f"{today},75.00,no idea,SOMEONE,B-5\n"  # unmatched
    )
    async with harness.worker():
        response = await api.post("/events", json=[created(a), created(b), created(c)])
        assert [r["outcome"] for r in response.json()["results"]] == ["started"] * 3
        response = await api.post("/bank-statements", params={"filename": "bank.csv"}, content=csv)
        assert response.status_code == 200, response.text
        report = response.json()["report"]
        assert (report["paid"]["count"], report["partially_paid"]["count"]) == (2, 1)
        assert (report["ignored"]["count"], report["unmatched"]["count"]) == (1, 1)
        assert (await status_of(harness, a.invoice_id)).balance == ZERO
        assert (await status_of(harness, b.invoice_id)).balance == Decimal("150.00")
        assert (await status_of(harness, c.invoice_id)).balance == ZERO

        unmatched = (await api.get("/bank/unmatched")).json()
        assert [u["line"]["amount"] for u in unmatched] == ["75.00"]
        line_id = unmatched[0]["line"]["payment_id"]
        response = await api.post("/bank/assignments", json={"line_id": line_id, "invoice_id": b.invoice_id})
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "partially_paid"
        assert (await status_of(harness, b.invoice_id)).balance == Decimal("75.00")
        assert (await api.get("/bank/unmatched")).json() == []
        missing = await api.post("/bank/assignments", json={"line_id": line_id, "invoice_id": b.invoice_id})
        assert missing.status_code == 404
        assert missing.json()["detail"] == f"{line_id} is not in the unmatched queue"


async def test_malformed_files_are_rejected_with_entry_and_element(
    sample_harness: Harness, sample_dispatcher: Dispatcher, journal: Journal
) -> None:
    harness, dispatcher = sample_harness, sample_dispatcher
    good = (FIXTURES / "camt053-sample.xml").read_text()
    broken = good.replace('<Amt Ccy="EUR">2800.00</Amt>', '<Amt Ccy="EUR">28OO.00</Amt>', 1)
    assert broken != good
    async with harness.worker():
        await _load_samples(dispatcher)
        with pytest.raises(BankFileRejected) as rejected:
            await import_bank_file(broken.encode(), "broken.xml", dispatcher=dispatcher, journal=journal)
        message = str(rejected.value)
        assert message.startswith("broken.xml: 1 error(s), nothing imported:")
        assert "entry 6 (NtryRef 6)" in message
        assert "Amt" in message
        assert journal.pending_signals() == []
        assert (await status_of(harness, "F-2026-0042")).balance == Decimal("1200.00")

        partial = await import_bank_file(
            broken.encode(), "broken.xml", dispatcher=dispatcher, journal=journal, partial=True
        )
        assert [str(e) for e in partial.errors] == [message.splitlines()[1].strip()]
        assert (await status_of(harness, "F-2026-0042")).balance == ZERO
        assert (await status_of(harness, "F-2026-0060")).balance == Decimal("2500.00")  # entry 6 skipped


async def test_api_rejects_malformed_xml_and_csv(api: httpx.AsyncClient) -> None:
    response = await api.post("/bank-statements", params={"filename": "x.xml"}, content=b"<Document><oops")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["message"] == "file rejected, nothing imported; fix it or send partial=true"
    assert detail["errors"][0].startswith("x.xml line 1")

    response = await api.post("/bank-statements", params={"filename": "b.csv"}, content=b"date,amount,reference\n")
    assert response.status_code == 422
    assert response.json()["detail"]["errors"] == [
        "b.csv line 1: bad header: missing column(s) payer (expected date,amount,reference,payer,payer_iban,bank_ref,"
        "currency)"
    ]
