"""Bank reconciliation end to end on a real dev server (the import lists the running cases through
visibility, which the time-skipping server lacks): the shared samples, each matching rule, partial and
over-payments, a reversal, double imports, malformed files, manual assignment, the CLI."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from domain.models import PaymentReceived, Stage
from dunning.settings import ChannelSettings
from starter.bank import BankFileRejected, Journal
from starter.dispatch import Dispatcher
from starter.importer import import_items, parse_invoice_jsonl
from starter.reconcile import import_bank_file, open_invoices
from tests.conftest import TRACKING_KEY, Harness, close_case, make_invoice, start_dev_server
from tests.fake_sendgrid import FakeSendGrid
from tests.ingress.conftest import FIXTURES, created, event, invoke, status_of
from tests.ingress.listings import outputs, same_rows
from workflows.invoice_dunning import InvoiceDunning

ZERO = Decimal("0.00")
# Longer than the line-id column of an 80-column table had room for.
BANK_REF = "K-2026-11-30-0000000000000042"


@pytest.fixture
async def harness(sendgrid: FakeSendGrid, tmp_path: Path) -> AsyncIterator[Harness]:
    """A dev server per test: the samples' invoice ids are fixed, and a closed case's id is never reused."""
    env = await start_dev_server()
    settings = ChannelSettings(
        sendgrid_api_key="SG.test-key",
        sendgrid_api_host=sendgrid.url,
        tracking_key=TRACKING_KEY,
        var_dir=tmp_path / "var",
    )
    yield Harness(env, env.client, "tq-bank", sendgrid, settings)
    await env.shutdown()


async def _load_samples(dispatcher: Dispatcher) -> None:
    # The samples are due in early 2026; moved to next year, the cases wait quietly during the test.
    year = f"{date.today().year + 1}-"
    lines = [
        line.replace('"due_on": "2026-', f'"due_on": "{year}').replace('"issued_on": "2026-', f'"issued_on": "{year}')
        for line in (FIXTURES / "invoices-sample.jsonl").read_text().splitlines()
    ]
    summary = await import_items(lambda: parse_invoice_jsonl(lines), dispatcher, concurrency=4)
    assert (summary.started, summary.rejected, summary.failed) == (5, 0, 0), summary.errors


async def _listed(harness: Harness, invoice_ids: set[str], query: str = "AmountDue > 0") -> None:
    """Wait until visibility lists these cases (by default, once their first task has published)."""
    for _ in range(50):
        if invoice_ids <= {w.id.removeprefix("invoice-") async for w in harness.client.list_workflows(query)}:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{invoice_ids} never listed")


async def _balances(harness: Harness) -> dict[str, Decimal]:
    ids = ("F-2026-0042", "F-2026-0051", "F-2026-0060", "F-2026-0061", "F-2026-0077")
    return {iid: (await status_of(harness, iid)).balance for iid in ids}


async def test_camt053_sample_then_again(harness: Harness, dispatcher: Dispatcher, journal: Journal) -> None:
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
    harness: Harness, dispatcher: Dispatcher, journal: Journal
) -> None:
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
    harness: Harness, dispatcher: Dispatcher, journal: Journal
) -> None:
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


@pytest.mark.usefixtures("cli_env")
async def test_bank_import_unmatched_and_assign(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = await harness.today()
    invoice = make_invoice(today + timedelta(days=40), payment_reference=None)
    iid = invoice.invoice_id
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(created(invoice)) + "\n")
    statement = tmp_path / "bank.csv"
    statement.write_text(
        "date,amount,reference,payer,bank_ref\n"
        f"{today},200.00,facture {iid},MARTIN,K-1\n"
        f"{today},abc,?,X,K-2\n"
        f"{today},50.00,acompte,INCONNU,{BANK_REF}\n"
    )
    async with harness.worker():
        assert (await invoke("events", "import", str(events)))[0] == 0
        code, output = await invoke("bank", "import", str(statement))
        assert code == 1
        assert "bank.csv: 1 error(s), nothing imported:" in output
        assert "bank.csv line 3, amount: 'abc' is not an amount" in output
        assert "Fix the file, or import its 2 valid line(s) with --partial." in output
        assert (await status_of(harness, iid)).paid == Decimal("0.00")

        code, output = await invoke("bank", "import", str(statement), "--partial")
        assert code == 0, output
        assert "skipped: bank.csv line 3, amount: 'abc' is not an amount" in output
        assert (await status_of(harness, iid)).paid == Decimal("200.00")

        monkeypatch.setenv("COLUMNS", "80")
        table, as_json, as_csv = await outputs("bank", "unmatched")
        line_id = f"-/{BANK_REF}"
        # Whole on one line, where a person copies it from; the other columns wrapped to make room.
        assert f"│ {line_id} │" in table
        assert f"dunning bank assign -- {line_id} INVOICE_ID" in table
        assert same_rows(as_json, as_csv) == [
            {
                "line_id": line_id,
                "booked": str(today),
                "amount": "50.00",
                "currency": "EUR",
                "payer": "INCONNU",
                "text": "acompte",
                "reason": json.loads(as_json)[0]["reason"],
            }
        ]
        # Lines of a CSV without an account IBAN have ids starting with "-": end the options first.
        code, output = await invoke("bank", "assign", "--", line_id, iid)
        assert code == 0, output
        assert f"50.00 EUR put on {iid}: partially_paid; balance 1000.00 -> 950.00 EUR" in output
        assert (await status_of(harness, iid)).paid == Decimal("250.00")

        code, output = await invoke("bank", "import", str(statement), "--partial")
        assert code == 0
        assert (await status_of(harness, iid)).paid == Decimal("250.00")  # the same file again: nothing


async def test_a_case_signalled_since_it_was_read_is_asked_not_listed(
    harness: Harness, api: httpx.AsyncClient, dispatcher: Dispatcher
) -> None:
    today = await harness.today()
    roux = {"customer_id": "C-0500", "name": "Atelier Roux"}
    paid, other = (
        make_invoice(today + timedelta(days=60), payment_reference=None, amount="100.00", customer=roux)
        for _ in range(2)
    )
    async with harness.worker():
        response = await api.post("/events", json=[created(paid), created(other)])
        assert [r["outcome"] for r in response.json()["results"]] == ["started", "started"]
        await _listed(harness, {paid.invoice_id, other.invoice_id})
    # No worker now: the payment is in the case's history but not applied, so visibility still
    # lists 100.00 due on both invoices.
    pay = event("e-pay", "payment.received", paid.invoice_id, payment_id="P-1", amount="100.00", received_on=str(today))
    assert (await api.post("/events", json=pay)).json()["results"][0]["outcome"] == "signalled"
    assert set(dispatcher.store.unconfirmed()) == {paid.invoice_id}
    async with harness.worker():
        balances = {i.invoice_id: i.balance for i in await open_invoices(dispatcher)}
        assert balances == {paid.invoice_id: ZERO, other.invoice_id: Decimal("100.00")}
        assert dispatcher.store.unconfirmed() == {}

        # Payer and exact amount: only `other` still owes 100.00, so the transfer is not ambiguous.
        csv = f"date,amount,reference,payer,bank_ref\n{today},100.00,virement,ATELIER ROUX,R-1\n"
        response = await api.post("/bank-statements", params={"filename": "bank.csv"}, content=csv)
        assert response.status_code == 200, response.text
        assert response.json()["report"]["paid"]["count"] == 1
        assert (await status_of(harness, other.invoice_id)).balance == ZERO
        assert (await status_of(harness, paid.invoice_id)).balance == ZERO
        # The import signalled `other`: its next read is a query again, until then it stays marked.
        assert set(dispatcher.store.unconfirmed()) == {other.invoice_id}


async def test_later_reads_take_only_what_changed_since_the_last(
    harness: Harness, api: httpx.AsyncClient, dispatcher: Dispatcher
) -> None:
    today = await harness.today()
    keyed, cancelled, quiet = (make_invoice(today + timedelta(days=60), amount="500.00") for _ in range(3))
    async with harness.worker():
        response = await api.post("/events", json=[created(keyed), created(cancelled), created(quiet)])
        assert [r["outcome"] for r in response.json()["results"]] == ["started"] * 3
        await _listed(harness, {keyed.invoice_id, cancelled.invoice_id, quiet.invoice_id})
        assert dispatcher.store.read_at() is None
        assert len(await open_invoices(dispatcher)) == 3  # a first read reads every case
        assert dispatcher.store.read_at() is not None

        # Changes made without the ingress, as from the web UI: it has no mark for them.
        keyed_handle = harness.client.get_workflow_handle(keyed.workflow_id)
        payment = PaymentReceived(payment_id="UI-1", amount=Decimal("120.00"), received_on=today)
        await keyed_handle.signal(InvoiceDunning.payment_received, payment)
        cancelling = harness.client.get_workflow_handle(cancelled.workflow_id)
        await close_case(cancelling)
        changed = f"BalanceChangedAt IS NOT NULL AND WorkflowId = '{keyed.workflow_id}'"
        await _listed(harness, {keyed.invoice_id}, changed)
        assert dispatcher.store.unconfirmed() == {}

    # No worker now: a `status` query would time out, so this read runs on visibility and the
    # store's snapshot alone.
    balances = {i.invoice_id: i.balance for i in await open_invoices(dispatcher)}
    assert balances == {keyed.invoice_id: Decimal("380.00"), quiet.invoice_id: Decimal("500.00")}
    assert cancelled.invoice_id not in {i.invoice_id for i in dispatcher.store.active_invoices()}


async def test_api_rejects_malformed_xml_and_csv(api: httpx.AsyncClient) -> None:
    response = await api.post("/bank-statements", params={"filename": "x.xml"}, content=b"<Document><oops")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["message"] == "file rejected, nothing imported; it has no valid line, fix it"
    assert detail["errors"][0].startswith("x.xml line 1")

    response = await api.post("/bank-statements", params={"filename": "b.csv"}, content=b"date,amount,reference\n")
    assert response.status_code == 422
    assert response.json()["detail"]["errors"] == [
        "b.csv line 1: bad header: missing column(s) payer (expected date,amount,reference,payer,payer_iban,bank_ref,"
        "currency)"
    ]


@pytest.mark.usefixtures("cli_env")
async def test_bank_files_with_nothing_valid_fail_even_with_partial(harness: Harness, tmp_path: Path) -> None:
    binary = tmp_path / "statement.xml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    garbage = tmp_path / "bank.csv"
    garbage.write_text(f"date,amount,reference,payer\nyesterday,abc,?,X\n{date.today()},0,?,Y\n")
    async with harness.worker():
        code, output = await invoke("bank", "import", str(binary))
        assert code == 1
        assert "statement.xml: binary content (byte 0x1a at offset 6)" in output
        assert all(char.isprintable() or char == "\n" for char in output)
        assert len(output) < 400
        assert "--partial" not in output
        assert "Fix the file: it has no valid line to import." in output

        code, output = await invoke("bank", "import", str(binary), "--partial")
        assert code == 1
        assert "nothing imported" in output

        code, output = await invoke("bank", "import", str(garbage), "--partial")
        assert code == 1
        assert "bank.csv line 2, date: 'yesterday' is not a date" in output
        assert "bank.csv line 3, amount: zero amount" in output
        assert "Reconciliation" not in output  # no all-zero summary
        assert "--partial" not in output


@pytest.mark.usefixtures("cli_env")
async def test_assign_onto_a_settled_case_needs_force_and_says_where_the_money_stands(
    harness: Harness, tmp_path: Path
) -> None:
    today = await harness.today()
    invoice = make_invoice(today + timedelta(days=40), payment_reference=None, amount="1200.00")
    iid = invoice.invoice_id
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(created(invoice)) + "\n")
    statement = tmp_path / "bank.csv"
    statement.write_text(
        "date,amount,reference,payer,bank_ref\n"
        f"{today},1220.00,facture {iid},MARTIN,S-1\n"  # 20.00 too much
        f"{today},350.00,acompte,INCONNU,S-2\n"
        f"{today},10.00,facture {iid},MARTIN,S-1\n"  # the same bank reference again: set aside
    )
    async with harness.worker():
        assert (await invoke("events", "import", str(events)))[0] == 0
        code, output = await invoke("bank", "import", str(statement))
        assert code == 0, output
        rows = [line for line in output.splitlines() if line.startswith("│")]
        names = [row.split("│")[1].strip() for row in rows]
        assert names.index("of which excess") == names.index("overpaid") + 1
        assert "20.00 EUR" in rows[names.index("of which excess")]
        assert (await status_of(harness, iid)).balance == Decimal("-20.00")

        code, output = await invoke("bank", "assign", "--", "-/S-2", iid)
        assert code == 1
        assert (
            f"{iid} is already overpaid by 20.00 EUR (balance -20.00 EUR): 350.00 EUR on it would leave it"
            " overpaid by 370.00 EUR. Nothing applied; -/S-2 stays in the unmatched queue. Add --force" in output
        )
        assert (await status_of(harness, iid)).balance == Decimal("-20.00")
        assert "-/S-2" in (await invoke("bank", "unmatched"))[1]

        code, output = await invoke("bank", "assign", "--force", "--", "-/S-2", iid)
        assert code == 0, output
        assert f"350.00 EUR put on {iid}: overpaid; balance -20.00 -> -370.00 EUR" in output
        assert f"{iid} is overpaid by 370.00 EUR: refund it or carry it over by hand" in output
        assert (await status_of(harness, iid)).balance == Decimal("-370.00")
        assert "-/S-2" not in (await invoke("bank", "unmatched"))[1]
