"""The one way the ingress opens its SQLite files: WAL, autocommit, explicit write transactions."""

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from os import PathLike


def connect(path: str | PathLike[str], schema: str) -> sqlite3.Connection:
    # Autocommit: a lone statement is its own transaction; several go in `transaction(db)`.
    # check_same_thread=False: the API serves requests from more than one thread.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")  # readers (the CLI) never block the writer (the API)
    db.execute("PRAGMA busy_timeout = 5000")  # a second writer process waits instead of failing
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(schema)
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, so two writers cannot interleave their checks.
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def purging(db: sqlite3.Connection, invoice_ids: Iterable[str]) -> str:
    """Stage the invoices a purge removes in a temporary table, inside the caller's transaction; the
    SQL condition that picks their rows (a list of ids too long for one `IN (?, ...)`)."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS purging (invoice_id TEXT PRIMARY KEY)")
    db.execute("DELETE FROM purging")
    db.executemany("INSERT OR IGNORE INTO purging VALUES (?)", [(i,) for i in invoice_ids])
    return "invoice_id IN (SELECT invoice_id FROM purging)"
