import json
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from starter.bank import Allocation, Journal, OpenInvoice, ReconciliationPlan, parse_camt, reconcile

# The samples shipped with the product (README, "Daily use").
FIXTURES = Path(__file__).resolve().parents[2] / "samples"

ImportFile = Callable[[str, list[OpenInvoice]], tuple[ReconciliationPlan, list[OpenInvoice]]]


def load_invoices() -> list[OpenInvoice]:
    invoices = []
    for row in (FIXTURES / "invoices-sample.jsonl").read_text().splitlines():
        data = json.loads(row)
        invoices.append(
            OpenInvoice(
                invoice_id=data["invoice_id"],
                customer_id=data["customer"]["customer_id"],
                customer_name=data["customer"]["name"],
                payment_reference=data.get("payment_reference"),
                balance=Decimal(data["amount"]),
                currency=data["currency"],
                due_on=date.fromisoformat(data["due_on"]),
            )
        )
    return invoices


def apply_plan(invoices: list[OpenInvoice], plan: ReconciliationPlan) -> list[OpenInvoice]:
    """What the workflows do with the signals: balances after the plan (settled invoices stay listed)."""
    balances = {invoice.invoice_id: invoice.balance for invoice in invoices}
    for signal in plan.signals:
        if isinstance(signal, Allocation):
            balances[signal.invoice_id] -= signal.amount
        elif signal.invoice_id is not None:
            balances[signal.invoice_id] += signal.amount
    return [invoice.model_copy(update={"balance": balances[invoice.invoice_id]}) for invoice in invoices]


@pytest.fixture
def invoices() -> list[OpenInvoice]:
    return load_invoices()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite3") as opened:
        yield opened


@pytest.fixture
def import_file(journal: Journal) -> ImportFile:
    """Plan, commit and 'signal' one fixture file; returns the plan and the invoices afterwards."""

    def run(name: str, invoices: list[OpenInvoice]) -> tuple[ReconciliationPlan, list[OpenInvoice]]:
        parsed = parse_camt((FIXTURES / name).read_bytes(), source=name)
        parsed.raise_if_invalid()
        plan = reconcile(parsed.lines, invoices, journal)
        journal.commit(plan)
        for pending in journal.pending_signals():
            journal.mark_signalled([pending.seq])
        return plan, apply_plan(invoices, plan)

    return run
