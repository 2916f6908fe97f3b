"""`domain.rules.Rules` for a running workflow: each rule decided by `workflow.patched()`."""

import contextlib
from collections.abc import Iterator

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.rules import Rule


class PatchedRules:
    """`domain.rules.Rules` answered by `workflow.patched()`: a case that already took a step under
    an old rule keeps it (its replay finds no marker), every other case records the marker."""

    def __init__(self) -> None:
        self._memo: dict[str, bool] = {}
        self._peeking = False

    def on(self, rule: Rule, occurrence: str | None = None) -> bool:
        patch = rule.value if occurrence is None else f"{rule.value}:{occurrence}"
        if patch not in self._memo:
            if self._peeking or workflow.unsafe.is_read_only():
                # What the case will do when it next decides; a query cannot record a marker.
                return True
            self._memo[patch] = workflow.patched(patch)
        return self._memo[patch]

    @contextlib.contextmanager
    def peeking(self) -> Iterator[None]:
        """Read without recording: a marker must come where the decision is taken, after the upserts
        of the same task, as in the histories recorded before this class existed."""
        self._peeking = True
        try:
            yield
        finally:
            self._peeking = False
