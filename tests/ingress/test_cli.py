"""The CLI against the time-skipping server; `dunning bank ...` is in test_bank_ingress.py."""

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from starter.cli import app
from tests.conftest import Harness, advance_to, at_step, clear_due_date, close_case, make_invoice
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
    assert "│       1 │         0 │          1 │       1 │      0 │       0 │        2 │      0 │" in output


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


@pytest.mark.usefixtures("cli_env")
async def test_events_held_says_since_when_for_pending_events(harness: Harness, tmp_path: Path) -> None:
    today = await harness.today()
    path = tmp_path / "events.jsonl"
    pay = event("h-pay", "payment.received", "F-LATER", payment_id="P1", amount="10.00", received_on=str(today))
    path.write_text(json.dumps(pay) + "\n")
    code, output = await invoke("events", "import", str(path))
    assert code == 0, output
    code, output = await invoke("events", "held")
    assert code == 0
    [row] = [line for line in output.splitlines() if "h-pay" in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[:4] == ["pending", "F-LATER", "h-pay", "payment_received"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", cells[4]), cells
    assert "no case yet" in cells[5]


@pytest.mark.usefixtures("cli_env")
async def test_a_call_on_a_settled_case_is_ignored_and_says_why(harness: Harness, tmp_path: Path) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    iid = invoice.invoice_id

    def call(event_id: str, step: str) -> str:
        return json.dumps(event(event_id, "call.logged", iid, step=step, outcome="reached"))

    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(json.dumps(created(invoice)) + "\n")
    second.write_text(
        "\n".join(
            [
                call("call-ok", "preventive_call"),
                json.dumps(
                    event("pay", "payment.received", iid, payment_id="P1", amount="1200.00", received_on=str(due))
                ),
                call("call-late", "preventive_call"),  # the case is settled now
            ]
        )
        + "\n"
    )
    async with harness.worker():
        assert (await invoke("events", "import", str(first)))[0] == 0
        await advance_to(harness, at_step(due, -7))
        assert (await status_of(harness, iid)).open_calls == ["preventive_call"]
        code, output = await invoke("events", "import", str(second))
        status = await status_of(harness, iid)
        await close_case(harness.client.get_workflow_handle(invoice.workflow_id))
    assert code == 0, output
    assert (
        f"line 3: call-late ignored: {iid} has no open call task for step preventive_call: the case is settled"
        " (balance 0.00 EUR) and nobody is to be called. Nothing recorded on the case" in output
    )
    assert "│         2 │          0 │       0 │      0 │       1 │" in output  # signalled ... ignored
    calls = [action for action in status.actions if action.channel == "call" and action.status == "done"]
    assert [(action.step, action.detail) for action in calls] == [("preventive_call", "reached")]
    assert status.balance == Decimal("0.00")
