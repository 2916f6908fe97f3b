"""What has been imported: every booked line by payment id, its allocations, the unmatched queue and an
outbox of the signals still to send to the invoice workflows.

Crash safety: the plan is recorded BEFORE anything is signalled (transactional outbox). The importer does

    plan = reconcile(parsed.lines, invoices, journal)
    journal.commit(plan)                    # one SQLite transaction: lines, allocations, queue, outbox
    for pending in journal.pending_signals():
        send(pending.signal)                # payment_received / payment_reversed
        journal.mark_signalled([pending.seq])  # or a batch of them: a re-send is harmless

A plan depends on the balances it was computed from, and signalling changes them: re-planning after
a crash in the middle of signalling could allocate the same money differently and the journal would
no longer say what the workflows were told. Recording first makes the plan final; a crash before
`commit` leaves nothing behind, a crash after it leaves signals in the outbox that the next run sends
(re-importing the file finds its lines already there and plans nothing new). A crash between sending and
`mark_signalled` sends that signal again, so workflows must ignore a `payment_id` they already applied.
"""

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from types import TracebackType

from pydantic import TypeAdapter

from starter import sqlite
from starter.bank.lines import BankLine
from starter.bank.matching import (
    Allocation,
    LineReason,
    OpenInvoice,
    PriorPayment,
    ReconciliationPlan,
    Reversal,
    Signal,
    make_allocation,
    match_lines,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS line (
    payment_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    tx_id TEXT,
    end_to_end_id TEXT,
    is_payment INTEGER NOT NULL,
    reversed_by TEXT,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS line_tx_id ON line (tx_id) WHERE tx_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS line_end_to_end_id ON line (end_to_end_id) WHERE end_to_end_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS allocation (
    payment_id TEXT PRIMARY KEY,
    line_id TEXT NOT NULL REFERENCES line (payment_id),
    invoice_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    payer_iban TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS allocation_line_id ON allocation (line_id);
CREATE TABLE IF NOT EXISTS unmatched (
    line_id TEXT PRIMARY KEY REFERENCES line (payment_id),
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'assigned', 'reversed'))
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    signalled_at TEXT
);
"""
# Old lines with a payer's details, allocated to the invoices being purged only (or to none).
_REDACT_LINES = """
UPDATE line SET body = json_set(body, '$.payer_name', NULL, '$.payer_iban', NULL, '$.remittance_text', '')
WHERE imported_at < ?
AND (json_extract(body, '$.payer_name') IS NOT NULL OR json_extract(body, '$.payer_iban') IS NOT NULL
     OR json_extract(body, '$.remittance_text') != '')
AND NOT EXISTS (
    SELECT 1 FROM allocation a
    WHERE a.line_id = line.payment_id AND a.invoice_id NOT IN (SELECT invoice_id FROM purging)
)
"""
_SIGNAL: TypeAdapter[Allocation | Reversal] = TypeAdapter(Signal)
_CHUNK = 500  # stays under SQLite's limit on bound parameters


class StalePlanError(Exception):
    """Another import recorded some of the plan's lines after it was made: plan again."""


@dataclass(frozen=True)
class PendingSignal:
    seq: int
    signal: Allocation | Reversal


class Journal:
    """SQLite journal of imports; see the module docstring for the commit protocol."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self._db = sqlite.connect(path, _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def commit(self, plan: ReconciliationPlan) -> None:
        """Record a plan in one transaction; raises StalePlanError if its lines were recorded since."""
        now = _now()
        payer_ibans = {line.payment_id: line.payer_iban for line in plan.lines}
        try:
            with sqlite.transaction(self._db):
                self._db.executemany(
                    "INSERT INTO line VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)",
                    [
                        (
                            line.payment_id,
                            _fingerprint(line),
                            line.tx_id,
                            line.given_end_to_end_id,
                            line.direction == "credit" and not line.reversal,
                            line.source.file,
                            now,
                            line.model_dump_json(),
                        )
                        for line in plan.lines
                        # Pending and information lines come back booked, maybe under the same id.
                        if line.status == "booked"
                    ],
                )
                # Queue before signals: a reversal in the same plan may close a queued line.
                self._db.executemany(
                    "INSERT INTO unmatched VALUES (?, ?, 'open')",
                    [(item.line.payment_id, item.reason) for item in plan.unmatched],
                )
                for signal in plan.signals:
                    if isinstance(signal, Allocation):
                        self._record_allocation(signal, payer_ibans[signal.line_id])
                    else:
                        self._record_reversal(signal)
        except sqlite3.IntegrityError as exc:
            raise StalePlanError(f"the journal changed since this plan was made ({exc}): plan again") from exc

    def pending_signals(self) -> list[PendingSignal]:
        """Signals recorded but not yet confirmed sent, oldest first (bank order)."""
        rows = self._db.execute("SELECT seq, body FROM outbox WHERE signalled_at IS NULL ORDER BY seq")
        return [PendingSignal(seq=seq, signal=_SIGNAL.validate_json(body)) for seq, body in rows]

    def mark_signalled(self, seqs: Iterable[int]) -> None:
        now = _now()
        with sqlite.transaction(self._db):
            self._db.executemany("UPDATE outbox SET signalled_at = ? WHERE seq = ?", [(now, seq) for seq in seqs])

    def unmatched(self) -> list[LineReason]:
        """The open queue: lines no rule could place and reversals of no known payment."""
        rows = self._db.execute(
            "SELECT line.body, unmatched.reason FROM unmatched JOIN line ON line.payment_id = unmatched.line_id"
            " WHERE unmatched.status = 'open' ORDER BY unmatched.rowid"
        )
        return [LineReason(line=BankLine.model_validate_json(body), reason=reason) for body, reason in rows]

    def get_unmatched(self, line_id: str) -> LineReason:
        row = self._db.execute(
            "SELECT line.body, unmatched.reason FROM unmatched JOIN line ON line.payment_id = unmatched.line_id"
            " WHERE unmatched.line_id = ? AND unmatched.status = 'open'",
            (line_id,),
        ).fetchone()
        if row is None:
            raise KeyError(f"{line_id} is not in the unmatched queue")
        return LineReason(line=BankLine.model_validate_json(row[0]), reason=row[1])

    def assign(self, line_id: str, invoice: OpenInvoice) -> Allocation:
        """A person puts a queued payment on `invoice`: record it, queue its signal and return it.

        The whole amount goes to the invoice (overpaid if more than its balance). Queued reversals are
        not assignable to an invoice: they need the payment they cancel, which a person must find.
        """
        with sqlite.transaction(self._db):
            line = self.get_unmatched(line_id).line
            if line.direction != "credit" or line.reversal:
                raise ValueError(f"{line_id} is not an incoming payment")
            if line.currency != invoice.currency:
                raise ValueError(f"{line_id} is in {line.currency}, {invoice.invoice_id} in {invoice.currency}")
            allocation = make_allocation(
                line, invoice, amount=line.amount, balance=invoice.balance, rule="manual", payment_id=line_id
            )
            self._record_allocation(allocation, line.payer_iban)
            self._db.execute("UPDATE unmatched SET status = 'assigned' WHERE line_id = ?", (line_id,))
        return allocation

    def purge(self, invoice_ids: Iterable[str], before: datetime, *, dry_run: bool = False) -> dict[str, int]:
        """Remove the payers' personal data of these invoices and of old unmatched lines; the rows per kind.

        A line imported before `before` loses its payer's name, IBAN and remittance text when it is
        allocated to these invoices only, or to none (an unmatched or reversal line): its ids, amount and
        fingerprint stay, so the same bank file imported again is still found a duplicate. The unmatched
        queue drops its entries imported before `before`. Allocations to these invoices lose the payer's
        IBAN and text; their amounts, invoice and customer ids stay (the bank reconciliation is an
        accounting record). Signals already sent for these invoices leave the outbox. A dry run rolls back.
        """
        cutoff = before.astimezone(UTC).isoformat()
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            chosen = sqlite.purging(db, invoice_ids)
            counts = {
                "unmatched entries": db.execute(
                    "DELETE FROM unmatched WHERE line_id IN (SELECT payment_id FROM line WHERE imported_at < ?)",
                    (cutoff,),
                ).rowcount,
                "payer details of lines": db.execute(_REDACT_LINES, (cutoff,)).rowcount,
                "payer details of allocations": db.execute(
                    "UPDATE allocation SET payer_iban = NULL, body = json_set(body, '$.reference', '')"
                    f" WHERE {chosen} AND (payer_iban IS NOT NULL OR json_extract(body, '$.reference') != '')"
                ).rowcount,
                "signals sent": db.execute(
                    "DELETE FROM outbox WHERE signalled_at IS NOT NULL"
                    " AND json_extract(body, '$.invoice_id') IN (SELECT invoice_id FROM purging)"
                ).rowcount,
            }
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("ROLLBACK" if dry_run else "COMMIT")
        return counts

    def _record_allocation(self, allocation: Allocation, payer_iban: str | None) -> None:
        self._db.execute(
            "INSERT INTO allocation VALUES (?, ?, ?, ?, ?, ?)",
            (
                allocation.payment_id,
                allocation.line_id,
                allocation.invoice_id,
                allocation.customer_id,
                payer_iban,
                allocation.model_dump_json(),
            ),
        )
        self._db.execute("INSERT INTO outbox (body) VALUES (?)", (allocation.model_dump_json(),))

    def _record_reversal(self, reversal: Reversal) -> None:
        self._db.execute(
            "UPDATE line SET reversed_by = ? WHERE payment_id = ?", (reversal.reversal_line_id, reversal.line_id)
        )
        self._db.execute("UPDATE unmatched SET status = 'reversed' WHERE line_id = ?", (reversal.line_id,))
        self._db.execute("INSERT INTO outbox (body) VALUES (?)", (reversal.model_dump_json(),))

    def _imported(self, payment_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """payment id -> (fingerprint, source file) of those already recorded."""
        ids = list(payment_ids)
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self._db.execute(
                f"SELECT payment_id, fingerprint, source FROM line WHERE payment_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((payment_id, (fingerprint, source)) for payment_id, fingerprint, source in rows)
        return found

    def _payments_to_reverse(self, reversals: Iterable[BankLine]) -> list[PriorPayment]:
        """Recorded, not yet reversed payments sharing a TxId or EndToEndId with one of `reversals`."""
        payments: dict[str, BankLine] = {}
        for reversal in reversals:
            rows = self._db.execute(
                "SELECT body FROM line WHERE is_payment AND reversed_by IS NULL AND (tx_id = ? OR end_to_end_id = ?)",
                (reversal.tx_id, reversal.given_end_to_end_id),
            )
            for (body,) in rows:
                line = BankLine.model_validate_json(body)
                payments[line.payment_id] = line
        return [
            PriorPayment(
                line=line,
                allocations=tuple(
                    Allocation.model_validate_json(body)
                    for (body,) in self._db.execute(
                        "SELECT body FROM allocation WHERE line_id = ? ORDER BY rowid", (payment_id,)
                    )
                ),
            )
            for payment_id, line in payments.items()
        ]

    def _payer_customers(self) -> dict[str, str]:
        """Payer IBAN -> customer, from past allocations; an IBAN that paid for several customers is left out."""
        rows = self._db.execute(
            "SELECT payer_iban, MIN(customer_id) FROM allocation WHERE payer_iban IS NOT NULL"
            " GROUP BY payer_iban HAVING COUNT(DISTINCT customer_id) = 1"
        )
        return dict(rows.fetchall())


def reconcile(
    lines: Sequence[BankLine],
    invoices: Sequence[OpenInvoice],
    journal: Journal,
    *,
    known_payer_ibans: Mapping[str, str] | None = None,
) -> ReconciliationPlan:
    """Plan the import of `lines`: lines already in the journal are duplicates and are not matched again,
    whatever happened to the balances since. Nothing is written: pass the plan to `journal.commit`.

    `known_payer_ibans` (IBAN -> customer id) adds to, and wins over, what the journal has learned.
    """
    recorded = journal._imported({line.payment_id for line in lines})
    fresh: list[BankLine] = []
    duplicates: list[LineReason] = []
    clashes: list[BankLine] = []
    for line in lines:
        previous = recorded.get(line.payment_id)
        # Pending and information lines are never recorded: the matcher only reports them as ignored.
        if previous is None or line.status != "booked":
            fresh.append(line)
            if line.status == "booked":  # a bank reference repeated inside the file is caught too
                recorded[line.payment_id] = (_fingerprint(line), f"{line.source.file}, earlier in this import")
        elif previous[0] == _fingerprint(line):
            duplicates.append(LineReason(line=line, reason=f"already imported from {previous[1]}"))
        else:
            clashes.append(line)
    # A bank reference reused for another movement: keep the line under a derived id for a person to
    # look at rather than drop it as a duplicate or let it pay an invoice on a doubtful identity.
    set_aside: list[LineReason] = []
    renamed = [line.model_copy(update={"payment_id": f"{line.payment_id}~{_fingerprint(line)}"}) for line in clashes]
    renamed_recorded = journal._imported(line.payment_id for line in renamed)
    for original, line in zip(clashes, renamed, strict=True):
        if line.payment_id in renamed_recorded:
            duplicates.append(
                LineReason(line=line, reason=f"already imported from {renamed_recorded[line.payment_id][1]}")
            )
        else:
            previous = recorded[original.payment_id]
            set_aside.append(
                LineReason(
                    line=line,
                    reason=f"bank reference {original.payment_id} already used in {previous[1]} for a different "
                    f"movement ({previous[0]}); set aside under a derived id",
                )
            )
    plan = match_lines(
        fresh,
        invoices,
        known_payer_ibans={**journal._payer_customers(), **(known_payer_ibans or {})},
        prior_payments=journal._payments_to_reverse(
            line for line in fresh if line.reversal and line.direction == "debit" and line.status == "booked"
        ),
    )
    return plan.model_copy(
        update={
            "lines": plan.lines + [item.line for item in set_aside],
            "unmatched": plan.unmatched + set_aside,
            "duplicates": duplicates,
        }
    )


def _fingerprint(line: BankLine) -> str:
    """What must agree for two lines with one id to be the same movement."""
    direction = f"{line.direction}-reversal" if line.reversal else line.direction
    return f"{direction}:{line.amount.normalize():f}:{line.currency}"


def _now() -> str:
    return datetime.now(UTC).isoformat()
