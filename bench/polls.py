"""Retries for the bench's progress polls: idempotent reads that only watch a run, never change it.

On a loaded machine the dev server or the client's connection to it drops a call now and then (a run
of 2026 died after 20 minutes on one `describe_task_queue` answered CANCELLED). Reading again costs
nothing, so such a read is retried a bounded number of times, with a growing pause, and each retry
says so on stderr; any other error, or the last attempt's, is raised as it came.
"""

import asyncio
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from temporalio.service import RPCError, RPCStatusCode

# What a busy server or a dropped connection answers; a wrong request (INVALID_ARGUMENT, NOT_FOUND...)
# would fail the same way again.
TRANSIENT = frozenset(
    {
        RPCStatusCode.CANCELLED,
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
    }
)
_T = TypeVar("_T")


@dataclass
class Polls:
    attempts: int = 8  # with the pauses below, about 35 s of a server not answering before giving up
    first_pause: float = 0.5
    max_pause: float = 10.0
    retries: Counter[str] = field(default_factory=Counter)  # per poll, reported with the figures

    async def read(self, what: str, call: Callable[[], Awaitable[_T]]) -> _T:
        """`call()`, again after a pause while it fails with a transient status, `attempts` times at most."""
        pause = self.first_pause
        attempt = 1
        while True:
            try:
                return await call()
            except RPCError as error:
                if error.status not in TRANSIENT or attempt == self.attempts:
                    raise
                self.retries[what] += 1
                print(
                    f"{what}: {error.status.name} ({error.message}), attempt {attempt} of {self.attempts};"
                    f" retrying in {pause:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.max_pause)
            attempt += 1
