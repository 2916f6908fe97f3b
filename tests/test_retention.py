"""Retention on real files and both sent-ledgers (a SQLite file, a real PostgreSQL server): the personal
data of a case closed longer ago than its period is gone from every store, recent and litigation cases
keep theirs, and a message claimed before the purge is still refused a second send after it."""

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.ledger import ClaimState, forgotten
from domain.models import workflow_id_for
from starter.closures import Closure
from starter.retention import RetentionSettings, plan, purge_stores
from tests.ledgers import LedgerBackend
from tests.retention_book import AS_OF, CUTOFF, SETTINGS, STEPS, Book, fill

EXPECTED = {
    "case files and outbox": {"outbox messages": 2, "case folders": 1, "dossiers handed over": 1},
    "sent-ledger": {"claims unlinked from their invoice (kept)": 2},
    "ingress store": {
        "pending events": 1,  # waiting since long ago for an invoice never started
        "closed-case events": 1,
        "invoices": 1,
        "balances": 1,
        "unconfirmed marks": 1,
    },
    "bank journal": {
        "unmatched entries": 1,
        "payer details of lines": 2,  # the old case's payment and the unmatched line
        "payer details of allocations": 1,
        "signals sent": 1,
    },
}


def purge(
    book: Book, backend: LedgerBackend, *, dry_run: bool = False, as_of: date = AS_OF
) -> dict[str, dict[str, int]]:
    with book.store() as store, book.journal() as journal:
        _, removed = purge_stores(
            store, journal, backend.open(), book.files, as_of=as_of, settings=SETTINGS, dry_run=dry_run
        )
    return removed


def bank_lines(book: Book) -> list[dict[str, Any]]:
    with sqlite3.connect(book.var / "bank-journal.sqlite3") as db:
        return [json.loads(body) for (body,) in db.execute("SELECT body FROM line")]


def journal_texts(book: Book) -> list[str]:
    """Every text the bank journal stores."""
    with sqlite3.connect(book.var / "bank-journal.sqlite3") as db:
        rows = [*db.execute("SELECT body FROM line"), *db.execute("SELECT body, payer_iban FROM allocation")]
        rows += list(db.execute("SELECT body FROM outbox"))
    return [" ".join(map(str, row)) for row in rows]


def everything_kept(book: Book) -> str:
    """All text the stores and files hold, to search for a person's data."""
    texts = journal_texts(book)
    with sqlite3.connect(book.var / "ingress.sqlite3") as db:
        for table in ("pending", "closed", "invoice", "snapshot", "unconfirmed"):
            texts += [" ".join(map(str, row)) for row in db.execute(f"SELECT * FROM {table}")]
    texts += [
        p.read_bytes().decode(errors="replace") for p in book.var.rglob("*") if p.is_file() and "sqlite" not in p.name
    ]
    return "\n".join(texts)


def test_a_case_past_its_period_is_purged_from_every_store_and_never_sent_twice(
    tmp_path: Path, ledger_backend: LedgerBackend
) -> None:
    book = fill(tmp_path / "var-purge1", ledger_backend.open())
    old, recent, litigation = book.cases["old"], book.cases["recent"], book.cases["litigation"]
    assert "BOULANGERIE MARTIN" in everything_kept(book)

    dry = purge(book, ledger_backend, dry_run=True)
    assert dry == EXPECTED
    assert "BOULANGERIE MARTIN" in everything_kept(book)  # a dry run removes nothing
    assert len(ledger_backend.open().case_messages([old.workflow_id])) == 2
    with book.store() as store:
        assert store.invoice(old.invoice_id) is not None
        assert store.closures.get(old.workflow_id).purged_at is None  # type: ignore[union-attr]

    assert purge(book, ledger_backend) == dry
    kept = everything_kept(book)
    for gone in ("BOULANGERIE MARTIN", "Boulangerie", "MME INCONNUE", "SOMEONE", "VIREMENT INCONNU", "FR7630004000"):
        assert gone not in kept, gone
    for name in ("recent", "litigation"):
        invoice = book.cases[name]
        assert invoice.customer.name in kept
        with book.store() as store:
            assert store.invoice(invoice.invoice_id) == invoice
        assert book.case_folder(name).is_dir()
        for message_id in book.messages(name):
            assert (book.files.outbox_dir / "email" / message_id / "body.txt").is_file()
    assert book.dossier("litigation").is_file()
    assert not book.dossier("old").exists()
    assert not book.case_folder("old").exists()
    assert not any((book.files.outbox_dir / "email" / m).exists() for m in book.messages("old"))

    with book.store() as store:
        assert store.invoice(old.invoice_id) is None
        assert [e.event_id for e in store.closed_events()] == []
        assert store.all_pending() == []
        assert store.was_applied("created-old")  # the event ids stay: a repeated event is recognised
        assert store.closures.get(old.workflow_id).purged_at is not None  # type: ignore[union-attr]
        assert {i.invoice_id for i in store.active_invoices()} == {recent.invoice_id, litigation.invoice_id}
    with book.journal() as journal:
        assert journal.unmatched() == []
    lines = {line["payment_id"]: line for line in bank_lines(book)}
    assert len(lines) == 4  # every line's id stays: importing the file again finds duplicates
    whole = {line["remittance_text"] for line in lines.values() if line["payer_name"]}
    assert whole == {f"FACT {recent.invoice_id}", f"FACT {litigation.invoice_id}"}
    redacted = [line for line in lines.values() if line["payer_name"] is None]
    assert len(redacted) == 2
    assert all(line["payer_iban"] is None and not line["remittance_text"] for line in redacted)

    # Another worker, after the purge: the old case's messages are refused, as sent before it.
    ledger = ledger_backend.open()
    for step, message_id in zip(STEPS, book.messages("old"), strict=True):
        claim = ledger.claim(message_id, old.workflow_id, step, "email")
        assert claim.state is ClaimState.SENT
        assert claim.provider_message_id is None
    assert ledger.case_messages([old.workflow_id]) == []
    assert len(ledger.case_messages([forgotten(old.workflow_id)])) == 2
    assert ledger.count("sent") == 6
    assert ledger.claim(book.messages("recent")[0], recent.workflow_id, STEPS[0], "email").provider_message_id

    # Running again removes nothing more.
    again = purge(book, ledger_backend)
    assert all(n == 0 for counts in again.values() for n in counts.values()), again


def test_a_litigation_case_is_kept_until_released_or_its_own_period_ends(
    tmp_path: Path, ledger_backend: LedgerBackend
) -> None:
    book = fill(tmp_path / "var-purge2", ledger_backend.open())
    litigation = book.cases["litigation"]
    purge(book, ledger_backend)
    assert book.dossier("litigation").is_file()

    # Past the litigation period, even unreleased (and the recent case's ordinary period with it).
    later = AS_OF + timedelta(days=SETTINGS.litigation_days - SETTINGS.days + 1)
    removed = purge(book, ledger_backend, as_of=later)
    assert removed["case files and outbox"] == {"outbox messages": 4, "case folders": 2, "dossiers handed over": 1}
    assert not book.dossier("litigation").exists()
    with book.store() as store:
        assert store.invoice(litigation.invoice_id) is None
        assert store.invoice(book.cases["recent"].invoice_id) is None  # its ordinary period is over too


def test_a_released_litigation_case_goes_at_the_next_purge(tmp_path: Path, ledger_backend: LedgerBackend) -> None:
    book = fill(tmp_path / "var-purge3", ledger_backend.open())
    litigation = book.cases["litigation"]
    with book.store() as store:
        store.closures.release(litigation.workflow_id, datetime.now(UTC))
    removed = purge(book, ledger_backend)
    assert removed["sent-ledger"] == {"claims unlinked from their invoice (kept)": 4}
    assert not book.dossier("litigation").exists()
    assert not book.case_folder("litigation").exists()
    with book.store() as store:
        assert store.invoice(litigation.invoice_id) is None
    assert ledger_backend.open().claim(book.messages("litigation")[1], "x", STEPS[1], "email").state is ClaimState.SENT


def test_the_plan_counts_from_the_close_and_holds_litigation() -> None:
    settings = RetentionSettings(days=10, litigation_days=100)
    as_of = AS_OF
    cutoff = settings.cutoff(as_of)
    closures = [
        Closure(workflow_id_for("A"), cutoff - timedelta(seconds=1), "completed", "settled"),
        Closure(workflow_id_for("B"), cutoff, "completed", "cancelled"),
        Closure(workflow_id_for("C"), cutoff - timedelta(days=50), "terminated", "litigation"),
        Closure(workflow_id_for("D"), cutoff - timedelta(days=50), "completed", "litigation", released_at=cutoff),
        Closure(
            workflow_id_for("E"), settings.litigation_cutoff(as_of) - timedelta(seconds=1), "completed", "litigation"
        ),
    ]
    chosen = plan(closures, as_of, settings)
    assert [c.workflow_id for c in chosen.due] == [workflow_id_for(i) for i in "ADE"]
    assert (chosen.held, chosen.recent) == (1, 1)
    assert CUTOFF.tzinfo is not None
    assert CUTOFF.hour == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DUNNING_RETENTION_DAYS": "five years"}, "DUNNING_RETENTION_DAYS\n  Input should be a valid integer"),
        ({"DUNNING_RETENTION_DAYS": "0"}, "DUNNING_RETENTION_DAYS\n  Input should be greater than 0"),
        ({"DUNNING_RETENTION_DAYS": "400", "DUNNING_LITIGATION_RETENTION_DAYS": "300"}, "shorter than"),
    ],
)
def test_a_retention_setting_that_makes_no_sense_is_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        RetentionSettings()
