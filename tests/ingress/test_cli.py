"""The CLI against the time-skipping server (run in a thread: each command runs its own event loop)."""

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from starter.api import IngressSettings
from starter.cli import app
from tests.conftest import Harness, make_invoice
from tests.ingress.conftest import created, event, status_of


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: IngressSettings) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", settings.temporal.address)
    monkeypatch.setenv("DUNNING_TASK_QUEUE", settings.temporal.task_queue)
    monkeypatch.setenv("DUNNING_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("COLUMNS", "200")


async def _invoke(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    return result.exit_code, result.output


@pytest.mark.usefixtures("cli_env")
async def test_events_import_applies_valid_lines_and_reports_bad_ones(harness: Harness, tmp_path: Path) -> None:
    today = await harness.today()
    invoice = make_invoice(today + timedelta(days=40))
    iid = invoice.invoice_id
    lines = [
        json.dumps(event("c-pay", "payment.received", iid, payment_id="P1", amount="200.00", received_on=str(today))),
        json.dumps(created(invoice)),
        json.dumps(event("c-bad", "payment.received", iid, payment_id="P2", amount="-5", received_on=str(today))),
        "",
        "{not json",
        json.dumps(created(invoice)),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    async with harness.worker():
        code, output = await _invoke("events", "import", str(path), "--strict")
        assert code == 1
        assert "--strict: nothing applied" in output
        assert "line 3: data.amount: Input should be greater than 0" in output
        assert "line 5: (event): Invalid JSON" in output

        code, output = await _invoke("events", "import", str(path), "--concurrency", "4")
        assert code == 1
        assert "line 3: data.amount: Input should be greater than 0" in output
        status = await status_of(harness, iid)
    assert status.paid == Decimal("200.00")  # pending payment applied once the invoice arrived
    assert "│       1 │         0 │          1 │       1 │      0 │        2 │      0 │" in output


@pytest.mark.usefixtures("cli_env")
async def test_invoices_csv_import(harness: Harness, tmp_path: Path) -> None:
    due = await harness.today() + timedelta(days=40)
    good = make_invoice(due).invoice_id
    csv = (
        "invoice_id;amount;currency;issued_on;due_on;customer_id;customer_name;kind;email;address_line;postcode;city\n"
        f"{good};1 234,50;EUR;01/{due:%m/%Y};{due:%d/%m/%Y};C-1;Dupont SA;business;a@b.example;"
        "1 rue X / Bat B;75001;Paris\n"
        f"F-BAD;12.00;EUR;{due};{due};C-2;X;business;not-an-email;;;\n"
    )
    path = tmp_path / "invoices.csv"
    path.write_text(csv)
    async with harness.worker():
        code, output = await _invoke("invoices", "import", str(path))
        assert code == 1
        assert "line 3: customer.email: value is not a valid email address" in output
        status = await status_of(harness, good)
        assert status.amount == Decimal("1234.50")
        code, output = await _invoke("status", good)
        assert code == 0, output
        assert "1234.50 EUR" in output
        code, output = await _invoke("status", "F-NOPE")
        assert code == 1
        assert "no case for invoice F-NOPE" in output

    bad = tmp_path / "bad.csv"
    bad.write_text("invoice_id,amount,colour\n")
    code, output = await _invoke("invoices", "import", str(bad))
    assert code == 1
    assert "line 1: header: unknown column 'colour'; missing column 'issued_on'" in output


@pytest.mark.usefixtures("cli_env")
async def test_bank_import_unmatched_and_assign(harness: Harness, tmp_path: Path) -> None:
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
        f"{today},50.00,acompte,INCONNU,K-3\n"
    )
    async with harness.worker():
        assert (await _invoke("events", "import", str(events)))[0] == 0
        code, output = await _invoke("bank", "import", str(statement))
        assert code == 1
        assert "bank.csv: 1 error(s), nothing imported:" in output
        assert "bank.csv line 3, amount: 'abc' is not an amount" in output
        assert "Fix the file, or import its valid entries with --partial." in output
        assert (await status_of(harness, iid)).paid == Decimal("0.00")

        code, output = await _invoke("bank", "import", str(statement), "--partial")
        assert code == 0, output
        assert "skipped: bank.csv line 3, amount: 'abc' is not an amount" in output
        assert (await status_of(harness, iid)).paid == Decimal("200.00")

        code, output = await _invoke("bank", "unmatched")
        assert code == 0
        assert "acompte" in output
        line_id = "-/K-3"
        assert line_id in output
        # Lines of a CSV without an account IBAN have ids starting with "-": end the options first.
        code, output = await _invoke("bank", "assign", "--", line_id, iid)
        assert code == 0, output
        assert f"50.00 EUR put on {iid}: partially_paid" in output
        assert (await status_of(harness, iid)).paid == Decimal("250.00")

        code, output = await _invoke("bank", "import", str(statement), "--partial")
        assert code == 0
        assert (await status_of(harness, iid)).paid == Decimal("250.00")  # the same file again: nothing


def test_serve_refuses_to_start_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUNNING_API_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "DUNNING_API_TOKEN is empty" in result.output
