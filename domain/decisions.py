"""What a case asks its workflow to do next: the answer of `CaseState.decide`."""

from dataclasses import dataclass
from datetime import datetime

from domain.models import Outcome


@dataclass(frozen=True)
class Close:
    outcome: Outcome


@dataclass(frozen=True)
class Wait:
    until: datetime | None  # None: only a signal can move the case on
    step: str | None  # what happens when the wait ends, for status and the timer summary


@dataclass(frozen=True)
class RunStep:
    index: int
    skipped: tuple[int, ...]
    # The rest of the ladder moves this many days later when the step runs: a formal notice sent late
    # keeps its distance to the hand-over.
    reshift_days: int = 0


@dataclass(frozen=True)
class ResendInvoice:
    occurrence: int


@dataclass(frozen=True)
class TrackLetter:
    """Ask the provider of a registered letter what became of it."""

    message_id: str


Decision = Close | Wait | RunStep | ResendInvoice | TrackLetter
