"""Local SQLite state of the ingress (`$DUNNING_VAR_DIR/ingress.sqlite3`, default `var/`).

- `pending`: signal events for an invoice whose case does not exist yet (a payment pushed before its
  invoice). Flushed in arrival order right after the case starts; deleted one by one once delivered.
- `closed`: events that reached a case already closed (settled, cancelled, litigation) or an
  `invoice.created` for one. A closed run cannot take signals and is never restarted under the same id,
  so these wait here for a person (`dunning events closed`); never dropped.
- `invoice`: the invoice facts bank matching needs (customer name, RF reference, currency) from
  `invoice.created`, kept current by `invoice.updated`. Balances are NOT kept here: they live in the
  workflow (see `starter.reconcile.open_invoices` for how they are read). An invoice is retired (no
  longer a matching candidate) once cancelled or once its case is seen closed, so reconciliation
  does not look at every closed case again each morning.
- `snapshot`: each registry invoice's balance and due date as last read from its case (visibility or
  query), or as started (the invoice's own amount and due date); `meta.read_at`: when the bank import
  last read the cases. Together they let it read only what changed since (see
  `starter.reconcile.open_invoices`).
- `unconfirmed`: one row per signal sent to a case (marked before sending) whose effect has not been
  read back from the case since. Visibility lags the case by as long as the worker takes to apply a
  signal, so the balance of a case with such a row is read by a `status` query, which sees every
  signal already delivered; the rows up to that read are then deleted.
- `payment`, `cancelled` and the index of `invoice` by customer: a customer's payment record, from
  which the ingress derives its segment (`starter.segments`): each payment delivered to a case with
  the day the money arrived (a reversal marks it reversed), and the invoices cancelled. Added by
  `CREATE ... IF NOT EXISTS`, so an older store gains them when opened; payments delivered before
  that are not in it, and a customer's record starts from there.
- `applied`: event ids already applied, so a repeated event is reported as a duplicate without a round
  trip. Only an optimisation and a count: the workflow deduplicates on the event id anyway, which is
  what makes a crash between applying and recording harmless.
- `closure`: the closure register (`starter.closures`): which cases closed, when and how.

`purge` deletes what a retention-expired case left here (`starter.retention`); the event ids in
`applied` stay, so a repeated event is still recognised.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from domain.models import InvoiceInput, workflow_id_for
from starter import sqlite
from starter.closures import ClosureRegister

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    invoice_id TEXT NOT NULL,
    signal_name TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_invoice ON pending (invoice_id, seq);
CREATE TABLE IF NOT EXISTS closed (
    event_id TEXT PRIMARY KEY,
    invoice_id TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invoice (
    invoice_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot (
    invoice_id TEXT PRIMARY KEY,
    balance TEXT NOT NULL,
    due_on TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS unconfirmed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS unconfirmed_invoice ON unconfirmed (invoice_id, seq);
CREATE TABLE IF NOT EXISTS payment (
    invoice_id TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    received_on TEXT NOT NULL,
    reversed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (invoice_id, payment_id)
);
CREATE TABLE IF NOT EXISTS cancelled (
    invoice_id TEXT PRIMARY KEY
);
-- The same expression as in `customer_history`, or SQLite does not use the index.
CREATE INDEX IF NOT EXISTS invoice_customer ON invoice (json_extract(body, '$.customer.customer_id'));
CREATE TABLE IF NOT EXISTS applied (
    event_id TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class PastInvoice:
    """One of a customer's invoices as the ingress saw it: what segment derivation counts."""

    invoice: InvoiceInput
    # The balance as last read from its case (or as started): see `snapshot`.
    balance: Decimal
    # The day each payment not reversed reached us, and its amount.
    payments: tuple[tuple[date, Decimal], ...]
    cancelled: bool


@dataclass(frozen=True)
class PendingEvent:
    seq: int
    event_id: str
    invoice_id: str
    signal_name: str
    body: str  # the signal model as JSON, event_id included
    received_at: str


@dataclass(frozen=True)
class ClosedEvent:
    event_id: str
    invoice_id: str
    name: str
    body: str
    reason: str
    received_at: str


class IngressStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite.connect(path, _SCHEMA)
        self.closures = ClosureRegister(self._db)

    @classmethod
    def in_dir(cls, var_dir: Path) -> "IngressStore":
        return cls(var_dir / "ingress.sqlite3")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "IngressStore":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------ applied events

    def was_applied(self, event_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM applied WHERE event_id = ?", (event_id,)).fetchone() is not None

    def mark_applied(self, event_id: str, outcome: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO applied VALUES (?, ?, ?)", (event_id, outcome, _now()))

    # ------------------------------------------------------------------------------------ pending

    def add_pending(self, event_id: str, invoice_id: str, signal_name: str, body: str) -> bool:
        """Keep a signal for later; False if this event id is already waiting."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO pending (event_id, invoice_id, signal_name, body, received_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (event_id, invoice_id, signal_name, body, _now()),
        )
        return cursor.rowcount == 1

    def pending_for(self, invoice_id: str) -> list[PendingEvent]:
        rows = self._db.execute(
            "SELECT seq, event_id, invoice_id, signal_name, body, received_at FROM pending WHERE invoice_id = ?"
            " ORDER BY seq",
            (invoice_id,),
        )
        return [PendingEvent(*row) for row in rows]

    def all_pending(self) -> list[PendingEvent]:
        rows = self._db.execute(
            "SELECT seq, event_id, invoice_id, signal_name, body, received_at FROM pending ORDER BY seq"
        )
        return [PendingEvent(*row) for row in rows]

    def remove_pending(self, seq: int) -> None:
        self._db.execute("DELETE FROM pending WHERE seq = ?", (seq,))

    # ------------------------------------------------------------------------------------- closed

    def add_closed(self, event_id: str, invoice_id: str, name: str, body: str, reason: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO closed VALUES (?, ?, ?, ?, ?, ?)", (event_id, invoice_id, name, body, reason, _now())
        )

    def closed_events(self) -> list[ClosedEvent]:
        rows = self._db.execute(
            "SELECT event_id, invoice_id, name, body, reason, received_at FROM closed ORDER BY received_at"
        )
        return [ClosedEvent(*row) for row in rows]

    # ------------------------------------------------------------------------------- invoice facts

    def record_invoice(self, invoice: InvoiceInput) -> None:
        # A repeated invoice.created keeps the facts as updated since, like the running case does.
        with sqlite.transaction(self._db):
            self._db.execute(
                "INSERT OR IGNORE INTO invoice (invoice_id, body, updated_at) VALUES (?, ?, ?)",
                (invoice.invoice_id, invoice.model_dump_json(), _now()),
            )
            # A case started with this invoice owes its amount by its due date until a signal says
            # otherwise. A case that already ran before this store existed may owe less: the first
            # read of a store reads every case (see `read_at`).
            self._db.execute(
                "INSERT OR IGNORE INTO snapshot VALUES (?, ?, ?)",
                (invoice.invoice_id, str(invoice.amount), invoice.due_on.isoformat()),
            )

    def update_invoice(self, invoice_id: str, changes: dict[str, str]) -> None:
        invoice = self.invoice(invoice_id)
        if invoice is None:
            return
        body = json.loads(invoice.model_dump_json())
        body.update(changes)
        self._db.execute(
            "UPDATE invoice SET body = ?, updated_at = ? WHERE invoice_id = ?",
            (InvoiceInput.model_validate(body).model_dump_json(), _now(), invoice_id),
        )

    def retire_invoice(self, invoice_id: str) -> None:
        self._db.execute("UPDATE invoice SET active = 0, updated_at = ? WHERE invoice_id = ?", (_now(), invoice_id))

    # ------------------------------------------------------------------------- balances as last read

    def snapshots(self) -> dict[str, tuple[Decimal, date]]:
        rows = self._db.execute("SELECT invoice_id, balance, due_on FROM snapshot")
        return {invoice_id: (Decimal(balance), date.fromisoformat(due)) for invoice_id, balance, due in rows}

    def save_snapshots(self, snapshots: Mapping[str, tuple[Decimal, date]], read_at: datetime) -> None:
        """What a read of the cases found, and when it started: the next read starts from there."""
        with sqlite.transaction(self._db):
            self._db.executemany(
                "INSERT OR REPLACE INTO snapshot VALUES (?, ?, ?)",
                [(invoice_id, str(balance), due.isoformat()) for invoice_id, (balance, due) in snapshots.items()],
            )
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('read_at', ?)", (read_at.isoformat(),))

    def read_at(self) -> datetime | None:
        """When the cases were last read; None for a store that never read them (then read them all)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'read_at'").fetchone()
        return None if row is None else datetime.fromisoformat(row[0])

    # --------------------------------------------------------------------------- unconfirmed signals

    def mark_unconfirmed(self, invoice_ids: Iterable[str]) -> None:
        """Before signalling these cases: their search attributes may lag until read back."""
        with sqlite.transaction(self._db):  # one commit, however many cases
            self._db.executemany("INSERT INTO unconfirmed (invoice_id) VALUES (?)", [(i,) for i in invoice_ids])

    def unconfirmed(self) -> dict[str, int]:
        """Invoice id -> the last mark to clear once the case has been read back."""
        rows = self._db.execute("SELECT invoice_id, MAX(seq) FROM unconfirmed GROUP BY invoice_id")
        return dict(rows.fetchall())

    def confirm(self, confirmed: Mapping[str, int]) -> None:
        """The cases were read after these marks: a mark made since (a signal sent during the read) stays."""
        with sqlite.transaction(self._db):
            self._db.executemany("DELETE FROM unconfirmed WHERE invoice_id = ? AND seq <= ?", list(confirmed.items()))

    # ------------------------------------------------------------------------ a customer's record

    def record_payment(self, invoice_id: str, payment_id: str, amount: Decimal, received_on: date) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO payment (invoice_id, payment_id, amount, received_on) VALUES (?, ?, ?, ?)",
            (invoice_id, payment_id, str(amount), received_on.isoformat()),
        )

    def reverse_payment(self, invoice_id: str, payment_id: str) -> None:
        self._db.execute(
            "UPDATE payment SET reversed = 1 WHERE invoice_id = ? AND payment_id = ?", (invoice_id, payment_id)
        )

    def mark_cancelled(self, invoice_id: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO cancelled VALUES (?)", (invoice_id,))

    def customer_history(self, customer_id: str) -> list[PastInvoice]:
        """Every invoice of this customer the ingress has seen, oldest recorded first."""
        rows = self._db.execute(
            "SELECT i.invoice_id, i.body, s.balance, c.invoice_id IS NOT NULL FROM invoice i"
            " LEFT JOIN snapshot s ON s.invoice_id = i.invoice_id"
            " LEFT JOIN cancelled c ON c.invoice_id = i.invoice_id"
            " WHERE json_extract(i.body, '$.customer.customer_id') = ? ORDER BY i.rowid",
            (customer_id,),
        ).fetchall()
        payments: dict[str, list[tuple[date, Decimal]]] = {}
        for invoice_id, amount, received_on in self._db.execute(
            "SELECT p.invoice_id, p.amount, p.received_on FROM payment p JOIN invoice i ON i.invoice_id = p.invoice_id"
            " WHERE json_extract(i.body, '$.customer.customer_id') = ? AND p.reversed = 0",
            (customer_id,),
        ):
            payments.setdefault(invoice_id, []).append((date.fromisoformat(received_on), Decimal(amount)))
        history = []
        for invoice_id, body, balance, cancelled in rows:
            invoice = InvoiceInput.model_validate_json(body)
            history.append(
                PastInvoice(
                    invoice=invoice,
                    balance=Decimal(balance) if balance is not None else invoice.amount,
                    payments=tuple(sorted(payments.get(invoice_id, []))),
                    cancelled=bool(cancelled),
                )
            )
        return history

    def invoice(self, invoice_id: str) -> InvoiceInput | None:
        row = self._db.execute("SELECT body FROM invoice WHERE invoice_id = ?", (invoice_id,)).fetchone()
        return None if row is None else InvoiceInput.model_validate_json(row[0])

    def active_invoices(self) -> list[InvoiceInput]:
        """Invoices not retired: the candidates of bank matching, oldest recorded first."""
        rows = self._db.execute("SELECT body FROM invoice WHERE active = 1 ORDER BY rowid")
        return [InvoiceInput.model_validate_json(body) for (body,) in rows]

    # ------------------------------------------------------------------------------------- retention

    def purge(self, invoice_ids: Iterable[str], before: datetime, *, dry_run: bool = False) -> dict[str, int]:
        """Delete what is kept of these invoices' cases, and the events received before `before` (a
        late event for a purged case is kept its own full period); the number of rows per kind.

        Also events that have waited since before `before` for a case never started. A dry run
        counts the same and rolls back."""
        cutoff = before.astimezone(UTC).isoformat()
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            chosen = sqlite.purging(db, invoice_ids)
            never_started = (
                "invoice_id NOT IN (SELECT invoice_id FROM invoice)"
                " AND ? || invoice_id NOT IN (SELECT workflow_id FROM closure)"
            )
            counts = {
                "pending events": db.execute(
                    f"DELETE FROM pending WHERE received_at < ? AND ({chosen} OR ({never_started}))",
                    (cutoff, workflow_id_for("")),
                ).rowcount,
                "closed-case events": db.execute(
                    f"DELETE FROM closed WHERE received_at < ? AND {chosen}", (cutoff,)
                ).rowcount,
                "invoices": db.execute(f"DELETE FROM invoice WHERE {chosen}").rowcount,
                "balances": db.execute(f"DELETE FROM snapshot WHERE {chosen}").rowcount,
                "unconfirmed marks": db.execute(f"DELETE FROM unconfirmed WHERE {chosen}").rowcount,
            }
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("ROLLBACK" if dry_run else "COMMIT")
        return counts


def _now() -> str:
    return datetime.now(UTC).isoformat()
