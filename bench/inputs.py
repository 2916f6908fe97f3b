"""Synthetic invoices: one customer each, so every bank payment has exactly one possible invoice."""

import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from stdnum.iso7064 import mod_97_10

from domain.models import InvoiceInput
from starter.bank import OpenInvoice
from starter.reconcile import as_open_invoice


def invoices(tag: str, count: int) -> list[InvoiceInput]:
    # Due months ahead: the first workflow task only sets a timer, so cases cost what a start costs and
    # no reminder (activity) competes with the measured path.
    due = date.today() + timedelta(days=120)
    result = []
    for i in range(count):
        body = f"{tag}{i:07d}"
        reference = f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"
        result.append(
            InvoiceInput.model_validate(
                {
                    "invoice_id": f"B-{tag}-{i:07d}",
                    "amount": f"{100 + i % 900}.{i % 100:02d}",
                    "currency": "EUR",
                    "issued_on": (due - timedelta(days=30)).isoformat(),
                    "due_on": due.isoformat(),
                    "payment_reference": reference,
                    "customer": {
                        "customer_id": f"C-{tag}-{i:07d}",
                        "name": f"Client {tag} {i:07d}",
                        "kind": "business",
                        "email": f"compta{i}@client.example",
                    },
                }
            )
        )
    return result


def write_created_events(path: Path, items: Sequence[InvoiceInput]) -> Path:
    """The JSONL a billing export would give `dunning events import`: one invoice.created per invoice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for invoice in items:
            envelope = {
                "event_id": f"created-{invoice.invoice_id}",
                "type": "invoice.created",
                "data": json.loads(invoice.model_dump_json()),
            }
            handle.write(json.dumps(envelope) + "\n")
    return path


def open_invoices(items: Sequence[InvoiceInput]) -> list[OpenInvoice]:
    """What the reconciler will see before any payment: each whole amount outstanding."""
    return [as_open_invoice(invoice, invoice.amount, invoice.due_on) for invoice in items]
