"""A var dir with every store a case leaves data in, for the retention tests: three closed cases (one
closed long ago, one recently, one long ago in litigation) and an event for an invoice never started."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from activities.case_file import CaseFile
from activities.ledger import Ledger
from activities.outbox import Outbox
from domain.calendar import paris_date
from domain.delivery import message_id_for
from domain.models import InvoiceInput
from starter.bank import Journal, parse_csv, reconcile
from starter.closures import Closure
from starter.reconcile import as_open_invoice, journal_path
from starter.retention import FileStores, RetentionSettings
from starter.store import IngressStore
from tests.conftest import make_invoice

SETTINGS = RetentionSettings(days=2009, litigation_days=3836)
# Six years on: everything the stores received today is older than the ordinary period then.
AS_OF = paris_date(datetime.now(UTC)) + timedelta(days=6 * 365)
CUTOFF = SETTINGS.cutoff(AS_OF)
ACCOUNT = "FR7630003036200002026123456"
PAYERS = {"old": "BOULANGERIE MARTIN", "recent": "GARAGE DUPONT", "litigation": "TRAITEUR LEROY"}
STEPS = ("level1_email", "level2_registered_letter")


@dataclass(frozen=True)
class Book:
    var: Path
    files: FileStores
    cases: dict[str, InvoiceInput]  # old, recent, litigation
    never_started: str

    def store(self) -> IngressStore:
        return IngressStore.in_dir(self.var)

    def journal(self) -> Journal:
        return Journal(journal_path(self.var))

    def messages(self, name: str) -> list[str]:
        return [message_id_for(self.cases[name].workflow_id, step) for step in STEPS]

    def dossier(self, name: str) -> Path:
        invoice = self.cases[name]
        return self.files.dossier_dir / f"dossier-{quote(invoice.invoice_id, safe='')}-{self.messages(name)[1]}.zip"

    def case_folder(self, name: str) -> Path:
        return self.files.case_file_dir / quote(self.cases[name].workflow_id, safe="")


def fill(var: Path, ledger: Ledger) -> Book:
    due = date(2026, 1, 31)
    cases = {
        name: make_invoice(due, invoice_id=f"F-{name.upper()}-{var.name[-6:]}", customer={"name": PAYERS[name]})
        for name in PAYERS
    }
    book = Book(var, FileStores(var / "outbox", var / "cases", var / "dossiers"), cases, f"F-NEVER-{var.name[-6:]}")
    with book.store() as store:
        for invoice in cases.values():
            store.record_invoice(invoice)
        old = cases["old"]
        store.add_closed("late-payment", old.invoice_id, "payment_received", old.model_dump_json(), "case closed")
        store.add_pending("orphan", book.never_started, "payment_received", '{"payer": "SOMEONE"}')
        store.mark_unconfirmed([old.invoice_id])
        store.mark_applied("created-old", "started")
        long_ago = datetime.now(UTC) - timedelta(days=1)
        store.closures.record(
            [
                Closure(old.workflow_id, long_ago, "completed", "settled"),
                Closure(cases["recent"].workflow_id, CUTOFF + timedelta(days=30), "completed", "settled"),
                Closure(cases["litigation"].workflow_id, long_ago, "completed", "litigation"),
            ]
        )
    _bank(book)
    for name, invoice in cases.items():
        outbox = Outbox(book.files.outbox_dir, "email")
        for step, message_id in zip(STEPS, book.messages(name), strict=True):
            ledger.claim(message_id, invoice.workflow_id, step, "email")
            ledger.mark_sent(message_id, "outbox", f"provider-{message_id}")
            outbox.write(message_id, {"to": invoice.customer.email}, {"body.txt": f"Bonjour {PAYERS[name]}"})
        CaseFile(book.files.case_file_dir).put(invoice.workflow_id, "level2.pdf", b"%PDF letter to " + name.encode())
    book.files.dossier_dir.mkdir(parents=True)
    for name in ("old", "litigation"):
        book.dossier(name).write_bytes(b"PK dossier")
    return book


def _bank(book: Book) -> None:
    rows = [
        f"2026-03-0{n},1200.00,FACT {invoice.invoice_id},{PAYERS[name]},FR7610278060760002012340183,B{n},EUR"
        for n, (name, invoice) in enumerate(book.cases.items(), start=1)
    ]
    rows.append("2026-03-09,55.00,VIREMENT INCONNU,MME INCONNUE,FR7630004000031234567890143,B9,EUR")
    data = ("date,amount,reference,payer,payer_iban,bank_ref,currency\n" + "\n".join(rows) + "\n").encode()
    parsed = parse_csv(data, source="bank.csv", account_iban=ACCOUNT)
    parsed.raise_if_invalid()
    invoices = [as_open_invoice(i, Decimal("1200.00"), i.due_on) for i in book.cases.values()]
    with book.journal() as journal:
        plan = reconcile(parsed.lines, invoices, journal)
        assert len(plan.signals) == 3, plan
        assert len(plan.unmatched) == 1, plan
        journal.commit(plan)
        journal.mark_signalled([pending.seq for pending in journal.pending_signals()])
