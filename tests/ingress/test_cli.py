"""The CLI against the time-skipping server; `dunning bank ...` is in test_bank_ingress.py."""

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from starter.cli import app
from tests.conftest import Harness, make_invoice
from tests.ingress.conftest import created, event, invoke, status_of


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
        code, output = await invoke("events", "import", str(path), "--strict")
        assert code == 1
        assert "--strict: nothing applied" in output
        assert "line 3: data.amount: Input should be greater than 0" in output
        assert "line 5: (event): Invalid JSON" in output

        code, output = await invoke("events", "import", str(path), "--concurrency", "4")
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
        code, output = await invoke("invoices", "import", str(path))
        assert code == 1
        assert "line 3: customer.email: value is not a valid email address" in output
        status = await status_of(harness, good)
        assert status.amount == Decimal("1234.50")
        code, output = await invoke("status", good)
        assert code == 0, output
        assert "1234.50 EUR" in output
        code, output = await invoke("status", "F-NOPE")
        assert code == 1
        assert "no case for invoice F-NOPE" in output

    bad = tmp_path / "bad.csv"
    bad.write_text("invoice_id,amount,colour\n")
    code, output = await invoke("invoices", "import", str(bad))
    assert code == 1
    assert "line 1: header: unknown column 'colour'; missing column 'issued_on'" in output


def test_serve_refuses_to_start_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUNNING_API_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "DUNNING_API_TOKEN is empty" in result.output
