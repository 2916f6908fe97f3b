"""Segment derivation rules on a real SQLite ingress store, without a server: what counts as late,
the window, new customers, and a store made before the record existed."""

import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.models import InvoiceInput, Segment
from domain.policy import SegmentRules
from starter.segments import derive_segment, months_before
from starter.store import IngressStore
from tests.conftest import make_invoice

TODAY = date(2027, 6, 15)
RULES = SegmentRules()  # 3 late invoices within 12 months; new for 6 months
CUSTOMER = {"customer_id": "C-0042"}


@pytest.fixture
def store(tmp_path: Path) -> IngressStore:
    return IngressStore(tmp_path / "ingress.sqlite3")


def past(store: IngressStore, due_days_ago: int, *, paid_days_late: int | None = None) -> InvoiceInput:
    invoice = make_invoice(TODAY - timedelta(days=due_days_ago), customer=CUSTOMER)
    store.record_invoice(invoice)
    if paid_days_late is not None:
        store.record_payment(invoice.invoice_id, "P-1", invoice.amount, invoice.due_on + timedelta(days=paid_days_late))
    return invoice


def derived(store: IngressStore, invoice: InvoiceInput | None = None) -> tuple[Segment, str] | None:
    invoice = invoice or make_invoice(TODAY + timedelta(days=30), customer=CUSTOMER)
    change = derive_segment(invoice, store.customer_history("C-0042"), RULES, TODAY)
    return None if change is None else (change.segment, change.reason)


def test_late_payments_and_unpaid_invoices_within_the_window_make_a_bad_payer(store: IngressStore) -> None:
    past(store, 700)  # the first invoice, two years ago: not new
    past(store, 300, paid_days_late=5)
    past(store, 200, paid_days_late=1)
    assert derived(store) is None  # two late: still standard
    past(store, 20)  # unpaid past due
    assert derived(store) == (Segment.BAD_PAYER, f"derived: 3 late invoices since {TODAY - timedelta(days=300):%Y-%m}")


def test_what_does_not_count_as_late(store: IngressStore) -> None:
    past(store, 700)  # unpaid, but due before the window
    past(store, 100, paid_days_late=0)  # paid on its due date
    cancelled = past(store, 90)
    store.mark_cancelled(cancelled.invoice_id)
    reversed_late = past(store, 80, paid_days_late=10)
    store.reverse_payment(reversed_late.invoice_id, "P-1")  # then unpaid past due: counts
    credited = past(store, 70)  # settled by a credit note the bank import read back
    read = datetime(2027, 6, 15, tzinfo=UTC)
    store.save_snapshots({credited.invoice_id: (Decimal("0.00"), credited.due_on)}, read_at=read)
    not_yet_due = make_invoice(TODAY + timedelta(days=5), customer=CUSTOMER)
    store.record_invoice(not_yet_due)
    history = {p.invoice.invoice_id: p for p in store.customer_history("C-0042")}
    assert history[cancelled.invoice_id].cancelled
    assert history[reversed_late.invoice_id].payments == ()
    assert derived(store) is None  # one late only (the reversed one)


def test_a_first_invoice_makes_a_new_customer_and_the_invoice_itself_is_not_history(store: IngressStore) -> None:
    invoice = make_invoice(TODAY + timedelta(days=30), customer=CUSTOMER)
    assert derived(store, invoice) == (Segment.NEW, f"derived: first invoice {invoice.issued_on:%Y-%m}")
    store.record_invoice(invoice)  # a repeated invoice.created sees itself in the store
    assert derived(store, invoice) == (Segment.NEW, f"derived: first invoice {invoice.issued_on:%Y-%m}")
    old = make_invoice(TODAY - timedelta(days=200), customer=CUSTOMER)
    store.record_invoice(old)
    store.record_payment(old.invoice_id, "P-1", old.amount, old.due_on)
    assert derived(store, invoice) is None  # its first invoice is older than 6 months


def test_other_customers_do_not_count(store: IngressStore) -> None:
    for days in (30, 60, 90):
        store.record_invoice(make_invoice(TODAY - timedelta(days=days), customer={"customer_id": "C-OTHER"}))
    past(store, 700)
    assert derived(store) is None


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 6, 15), 12, date(2026, 6, 15)),
        (date(2027, 3, 31), 1, date(2027, 2, 28)),
        (date(2028, 2, 29), 12, date(2027, 2, 28)),
        (date(2027, 1, 10), 2, date(2026, 11, 10)),
        (date(2027, 1, 10), 0, date(2027, 1, 10)),
    ],
)
def test_months_before(day: date, months: int, expected: date) -> None:
    assert months_before(day, months) == expected


def test_a_store_made_before_the_payment_record_opens_and_derives(tmp_path: Path) -> None:
    path = tmp_path / "ingress.sqlite3"
    old = make_invoice(TODAY - timedelta(days=400), customer=CUSTOMER)
    with sqlite3.connect(path) as db:  # the tables of the store before segments were derived
        db.executescript(
            "CREATE TABLE invoice (invoice_id TEXT PRIMARY KEY, body TEXT NOT NULL,"
            " active INTEGER NOT NULL DEFAULT 1, updated_at TEXT NOT NULL);"
            "CREATE TABLE snapshot (invoice_id TEXT PRIMARY KEY, balance TEXT NOT NULL, due_on TEXT NOT NULL);"
        )
        db.execute("INSERT INTO invoice VALUES (?, ?, 0, '2026-01-01')", (old.invoice_id, old.model_dump_json()))
        db.execute("INSERT INTO snapshot VALUES (?, '0.00', ?)", (old.invoice_id, old.due_on.isoformat()))
    db.close()
    with IngressStore(path) as store:
        [seen] = store.customer_history("C-0042")
        assert seen.invoice == old
        assert seen.balance == Decimal("0.00")
        assert derived(store) is None  # known for more than 6 months, never late
