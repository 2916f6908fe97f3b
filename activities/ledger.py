"""The sent-ledger: the durable record that makes every reminder go out at most once.

Providers have no idempotency key, so a retry after a lost 202 would send twice. Each message id is
claimed here right before the provider call and marked sent right after it. A claim found still open
by a later attempt means an earlier attempt died between the two (worker killed, timeout): the
provider may have accepted the message, so it is never sent again and reported as unconfirmed for a
person to check in the provider's log (custom arg `message_id`).

SQLite (`SentLedger`, one file) is the single-host default. Several workers on several hosts share
one ledger on PostgreSQL (`activities.postgres_ledger.PostgresLedger`, DUNNING_LEDGER_URL): the
guarantee holds only if every worker of a task queue claims in the same ledger.

Claims are kept for ever: they are what refuses a second send. When a closed case's retention ends
(`dunning purge`), `forget` keeps each claim's message id, state, step, channel and times but replaces
its workflow id (which holds the invoice number) by its digest (`dunning.logs.case_key`, the one the
logs carry) and drops the provider's message id (a key into the provider's copy of the message).
"""

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from dunning.logs import case_key

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent_messages (
    message_id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    step TEXT NOT NULL,
    channel TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'unconfirmed')),
    provider TEXT,
    provider_message_id TEXT,
    claimed_at TEXT NOT NULL,
    sent_at TEXT
)
"""


class ClaimState(StrEnum):
    CLAIMED = "claimed"  # go ahead and send
    SENT = "sent"  # an earlier attempt sent it
    IN_DOUBT = "in_doubt"  # an earlier attempt may have sent it


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    provider: str | None = None
    provider_message_id: str | None = None
    sent_at: datetime | None = None


class Ledger(Protocol):
    """What the delivery flow needs of a ledger, whichever database holds it."""

    def claim(self, message_id: str, workflow_id: str, step: str, channel: str, presume_dead: bool = True) -> Claim:
        """CLAIMED for exactly one caller per message id; SENT or IN_DOUBT (now 'unconfirmed') for others.

        An open claim found is presumed an earlier attempt that died (Temporal retries only after a
        timeout) and marked unconfirmed. A caller that is no retry of the holder (a customer's digest
        asking for an invoice its case may be sending right now) passes `presume_dead=False`: the
        claim is then left as it is, for its holder to settle."""
        ...

    def mark_sent(self, message_id: str, provider: str, provider_message_id: str | None) -> datetime: ...

    def release(self, message_id: str) -> None:
        """The provider certainly did not accept the message: a later attempt may send it."""
        ...

    def count(self, state: str) -> int:
        """Messages in a state ('sending', 'sent' or 'unconfirmed')."""
        ...

    def case_messages(self, workflow_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(workflow id, message id) of every message claimed for these cases."""
        ...

    def forget(self, workflow_ids: Sequence[str], *, dry_run: bool = False) -> int:
        """Pseudonymise these cases' claims (see the module docstring); the number of claims."""
        ...


def forgotten(workflow_id: str) -> str:
    """What a forgotten claim keeps of its case."""
    return f"purged:{case_key(workflow_id)}"


def open_ledger(url: str | None, path: Path) -> Ledger:
    """The PostgreSQL ledger at `url` if there is one, else the SQLite file at `path`."""
    if url is None:
        return SentLedger(path)
    # Only a worker configured for PostgreSQL loads psycopg (and its libpq).
    from activities.postgres_ledger import PostgresLedger

    return PostgresLedger(url)


class SentLedger:
    """The ledger in one SQLite file: for workers on one host."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        # Activities run in a thread pool; one connection per thread, WAL for concurrent readers.
        self._local = threading.local()
        self._connection().execute("PRAGMA journal_mode=WAL")
        with self._transaction() as db:
            db.execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def claim(self, message_id: str, workflow_id: str, step: str, channel: str, presume_dead: bool = True) -> Claim:
        now = datetime.now(UTC).isoformat()
        with self._transaction() as db:
            row = db.execute(
                "SELECT state, provider, provider_message_id, sent_at FROM sent_messages WHERE message_id = ?",
                (message_id,),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO sent_messages (message_id, workflow_id, step, channel, state, claimed_at)"
                    " VALUES (?, ?, ?, ?, 'sending', ?)",
                    (message_id, workflow_id, step, channel, now),
                )
                return Claim(ClaimState.CLAIMED)
            state, provider, provider_message_id, sent_at = row
            if state == "sent":
                return Claim(ClaimState.SENT, provider, provider_message_id, datetime.fromisoformat(sent_at))
            if presume_dead:
                db.execute("UPDATE sent_messages SET state = 'unconfirmed' WHERE message_id = ?", (message_id,))
            return Claim(ClaimState.IN_DOUBT)

    def mark_sent(self, message_id: str, provider: str, provider_message_id: str | None) -> datetime:
        sent_at = datetime.now(UTC)
        with self._transaction() as db:
            db.execute(
                "UPDATE sent_messages SET state = 'sent', provider = ?, provider_message_id = ?, sent_at = ?"
                " WHERE message_id = ?",
                (provider, provider_message_id, sent_at.isoformat(), message_id),
            )
        return sent_at

    def release(self, message_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM sent_messages WHERE message_id = ? AND state = 'sending'", (message_id,))

    def count(self, state: str) -> int:
        with self._transaction() as db:
            (n,) = db.execute("SELECT count(*) FROM sent_messages WHERE state = ?", (state,)).fetchone()
        return int(n)

    def case_messages(self, workflow_ids: Sequence[str]) -> list[tuple[str, str]]:
        with self._transaction() as db:
            _fill_forgetting(db, workflow_ids)
            rows = db.execute(
                "SELECT s.workflow_id, s.message_id FROM sent_messages s"
                " JOIN forgetting f ON f.workflow_id = s.workflow_id"
            ).fetchall()
        return [(str(workflow_id), str(message_id)) for workflow_id, message_id in rows]

    def forget(self, workflow_ids: Sequence[str], *, dry_run: bool = False) -> int:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            _fill_forgetting(db, workflow_ids)
            # One pass over the claims (the table has no index on the workflow id: claims never need one).
            changed = db.execute(
                "UPDATE sent_messages SET workflow_id = f.digest, provider_message_id = NULL"
                " FROM forgetting f WHERE sent_messages.workflow_id = f.workflow_id"
            ).rowcount
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("ROLLBACK" if dry_run else "COMMIT")
        return changed


def _fill_forgetting(db: sqlite3.Connection, workflow_ids: Sequence[str]) -> None:
    db.execute("CREATE TEMP TABLE IF NOT EXISTS forgetting (workflow_id TEXT PRIMARY KEY, digest TEXT NOT NULL)")
    db.execute("DELETE FROM forgetting")
    db.executemany("INSERT OR IGNORE INTO forgetting VALUES (?, ?)", [(w, forgotten(w)) for w in workflow_ids])
