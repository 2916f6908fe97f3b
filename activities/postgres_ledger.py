"""The sent-ledger on PostgreSQL, shared by workers on several hosts (claim semantics: activities.ledger).

Two workers may claim one message id at the same instant (a retry scheduled on another host while
the first attempt's worker is still alive). The primary key decides: `INSERT ... ON CONFLICT DO
NOTHING` waits for a concurrent insert of the same id to commit or roll back, so exactly one claim
inserts the row and every other one finds it.

A connection lost during a commit leaves that commit in doubt; the error reaches `deliver_once`,
which then keeps the claim, so a message may be reported unconfirmed but is never sent twice.
"""

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg

from activities.ledger import Claim, ClaimState, forgotten

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent_messages (
    message_id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    step TEXT NOT NULL,
    channel TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'unconfirmed')),
    provider TEXT,
    provider_message_id TEXT,
    claimed_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ
)
"""
# CREATE TABLE IF NOT EXISTS is not safe against itself: two workers starting at once can both miss
# the table and one fails on the catalog's unique index. A transaction-scoped advisory lock (any
# constant key of this application's) makes them take turns.
_SCHEMA_LOCK = 0x64756E6E  # "dunn"


class PostgresLedger:
    def __init__(self, url: str) -> None:
        self._url = url
        # Activities run in a thread pool and a psycopg connection runs one statement at a time.
        self._local = threading.local()
        self._opened: list[psycopg.Connection[tuple[object, ...]]] = []
        self._opened_lock = threading.Lock()
        with self._transaction() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            db.execute(_SCHEMA)

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        db: psycopg.Connection[tuple[object, ...]] | None = getattr(self._local, "db", None)
        # A connection broken by a server restart or a network cut is closed by psycopg: open another.
        if db is None or db.closed:
            db = psycopg.connect(self._url, autocommit=True)
            self._local.db = db
            with self._opened_lock:
                self._opened.append(db)
        return db

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        db = self._connection()
        with db.transaction():
            yield db

    def claim(self, message_id: str, workflow_id: str, step: str, channel: str, presume_dead: bool = True) -> Claim:
        with self._transaction() as db:
            # Loops only when a release deletes the row between the two statements: that attempt
            # certainly did not send, so the id is free to claim again.
            while True:
                inserted = db.execute(
                    "INSERT INTO sent_messages (message_id, workflow_id, step, channel, state, claimed_at)"
                    " VALUES (%s, %s, %s, %s, 'sending', %s) ON CONFLICT (message_id) DO NOTHING"
                    " RETURNING message_id",
                    (message_id, workflow_id, step, channel, datetime.now(UTC)),
                ).fetchone()
                if inserted is not None:
                    return Claim(ClaimState.CLAIMED)
                found = db.execute(
                    "UPDATE sent_messages SET state = CASE WHEN state = 'sent' OR NOT %s THEN state ELSE 'unconfirmed'"
                    " END WHERE message_id = %s RETURNING state, provider, provider_message_id, sent_at",
                    (presume_dead, message_id),
                ).fetchone()
                if found is None:
                    continue
                state, provider, provider_message_id, sent_at = found
                if state == "sent":
                    assert isinstance(sent_at, datetime)
                    return Claim(
                        ClaimState.SENT,
                        str(provider),
                        None if provider_message_id is None else str(provider_message_id),
                        sent_at.astimezone(UTC),
                    )
                return Claim(ClaimState.IN_DOUBT)

    def mark_sent(self, message_id: str, provider: str, provider_message_id: str | None) -> datetime:
        sent_at = datetime.now(UTC)
        with self._transaction() as db:
            db.execute(
                "UPDATE sent_messages SET state = 'sent', provider = %s, provider_message_id = %s, sent_at = %s"
                " WHERE message_id = %s",
                (provider, provider_message_id, sent_at, message_id),
            )
        return sent_at

    def release(self, message_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM sent_messages WHERE message_id = %s AND state = 'sending'", (message_id,))

    def count(self, state: str) -> int:
        with self._transaction() as db:
            row = db.execute("SELECT count(*) FROM sent_messages WHERE state = %s", (state,)).fetchone()
        assert row is not None
        return int(str(row[0]))

    def case_messages(self, workflow_ids: Sequence[str]) -> list[tuple[str, str]]:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT workflow_id, message_id FROM sent_messages WHERE workflow_id = ANY(%s)", (list(workflow_ids),)
            ).fetchall()
        return [(str(workflow_id), str(message_id)) for workflow_id, message_id in rows]

    def forget(self, workflow_ids: Sequence[str], *, dry_run: bool = False) -> int:
        ids = list(workflow_ids)
        db = self._connection()
        with db.transaction(force_rollback=dry_run):
            cursor = db.execute(
                "UPDATE sent_messages s SET workflow_id = f.digest, provider_message_id = NULL"
                " FROM unnest(%s::text[], %s::text[]) AS f(workflow_id, digest) WHERE s.workflow_id = f.workflow_id",
                (ids, [forgotten(workflow_id) for workflow_id in ids]),
            )
        return cursor.rowcount

    def close(self) -> None:
        """Close every thread's connection, at shutdown: the server holds a process for each."""
        with self._opened_lock:
            for db in self._opened:
                db.close()
            self._opened.clear()
