"""The sent-ledger's two backends for tests that run against both: a SQLite file, a PostgreSQL database."""

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psycopg

from activities.ledger import Ledger, SentLedger
from activities.postgres_ledger import PostgresLedger

BACKENDS = ("sqlite", "postgresql")


class LedgerBackend(Protocol):
    """Where a test's ledgers live; `open` again reaches the same ledger, as another worker would."""

    error: type[Exception]

    def open(self) -> Ledger: ...

    def refuse_sent(self, reason: str) -> None:
        """Make the database refuse every 'sent' mark with `reason`, as a full disk would."""
        ...

    def allow_sent(self) -> None: ...


@dataclass
class SqliteBackend:
    path: Path
    error: type[Exception] = sqlite3.Error

    def open(self) -> Ledger:
        return SentLedger(self.path)

    def refuse_sent(self, reason: str) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute(
                "CREATE TRIGGER refuse_sent BEFORE UPDATE ON sent_messages WHEN NEW.state = 'sent'"
                f" BEGIN SELECT RAISE(ABORT, '{reason}'); END"
            )

    def allow_sent(self) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("DROP TRIGGER refuse_sent")


@dataclass
class PostgresBackend:
    url: str
    error: type[Exception] = psycopg.Error

    def open(self) -> Ledger:
        return PostgresLedger(self.url)

    def refuse_sent(self, reason: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(
                "CREATE FUNCTION refuse_sent() RETURNS trigger LANGUAGE plpgsql AS"
                f" $$ BEGIN RAISE EXCEPTION '{reason}'; END $$"
            )
            db.execute(
                "CREATE TRIGGER refuse_sent BEFORE UPDATE ON sent_messages FOR EACH ROW"
                " WHEN (NEW.state = 'sent') EXECUTE FUNCTION refuse_sent()"
            )

    def allow_sent(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute("DROP TRIGGER refuse_sent ON sent_messages")
            db.execute("DROP FUNCTION refuse_sent()")
