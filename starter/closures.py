"""The closure register: which cases closed, when and how, kept by the ingress for as long as it runs.

Temporal's visibility knows a closed case's CloseTime and final DunningStage only for the namespace's
retention (30 days in the Helm and compose jobs, `make run` too): far shorter than the years its
personal data must be kept. So `dunning purge` copies every closure it finds in visibility here first
(`starter.retention.sweep_closures`), then decides from this table alone what is old enough to go.
The sweep must therefore run more often than the namespace's retention; it warns when it has not.

The register also stops a case from being run twice: a closed case is never restarted under its id
(REJECT_DUPLICATE), but the server forgets the id with the history. An `invoice.created` or a signal
for an invoice whose closure is recorded here is kept for a person, as for a case the server still has.

A row keeps the workflow id, the close time, the final status and stage, and two marks: `released_at`
(a person releases a litigation case's dossier) and `purged_at`. No personal data.
"""

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from starter import sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS closure (
    workflow_id TEXT PRIMARY KEY,
    closed_at TEXT NOT NULL,
    status TEXT NOT NULL,
    stage TEXT,
    released_at TEXT,
    purged_at TEXT
);
"""
LITIGATION = "litigation"


@dataclass(frozen=True)
class Closure:
    workflow_id: str
    closed_at: datetime
    status: str  # the run's final status: completed, terminated, failed, timed_out, canceled
    stage: str | None  # DunningStage as last published: settled, cancelled, litigation, ...
    released_at: datetime | None = None
    purged_at: datetime | None = None

    @property
    def in_litigation(self) -> bool:
        return self.stage == LITIGATION


class ClosureRegister:
    """On the ingress store's connection (`IngressStore.closures`): one file to back up."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        db.executescript(_SCHEMA)

    def record(self, closures: Iterable[Closure]) -> int:
        """Add closures not known yet; the number added. A closed run never changes, so a closure
        seen again (sweeps overlap) keeps its row, marks included."""
        with sqlite.transaction(self._db):
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO closure (workflow_id, closed_at, status, stage) VALUES (?, ?, ?, ?)",
                [(c.workflow_id, _text(c.closed_at), c.status, c.stage) for c in closures],
            )
            return self._db.total_changes - before

    def get(self, workflow_id: str) -> Closure | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM closure WHERE workflow_id = ?", (workflow_id,)).fetchone()
        return None if row is None else _closure(row)

    def all(self) -> list[Closure]:
        return [_closure(row) for row in self._db.execute(f"SELECT {_COLUMNS} FROM closure ORDER BY closed_at")]

    def release(self, workflow_id: str, at: datetime) -> Closure | None:
        """A person releases a litigation case: from now on it is kept like any closed case."""
        self._db.execute(
            "UPDATE closure SET released_at = ? WHERE workflow_id = ? AND released_at IS NULL", (_text(at), workflow_id)
        )
        return self.get(workflow_id)

    def mark_purged(self, workflow_ids: Iterable[str], at: datetime) -> None:
        with sqlite.transaction(self._db):
            self._db.executemany(
                "UPDATE closure SET purged_at = ? WHERE workflow_id = ? AND purged_at IS NULL",
                [(_text(at), workflow_id) for workflow_id in workflow_ids],
            )

    def swept_at(self) -> datetime | None:
        """When the last sweep of visibility started."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'closures_swept_at'").fetchone()
        return None if row is None else datetime.fromisoformat(row[0])

    def mark_swept(self, started_at: datetime) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('closures_swept_at', ?)", (_text(started_at),))


_COLUMNS = "workflow_id, closed_at, status, stage, released_at, purged_at"


def _closure(row: tuple[str, str, str, str | None, str | None, str | None]) -> Closure:
    workflow_id, closed_at, status, stage, released_at, purged_at = row
    return Closure(workflow_id, _time(closed_at), status, stage, _optional_time(released_at), _optional_time(purged_at))


def _text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _optional_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
