"""What people change on a running case besides money: its segment, its policy, a gated step's go-ahead.

A new segment or policy gives the case another ladder. It goes on from where it stands: no step it
already took is taken again (matched by name), none below the level it reached is taken at all, and
the next one is the first of the new ladder after those. The new ladder's steps already past their
date are then late, and run as any late case's do: the latest one now, the others recorded skipped.
"""

from __future__ import annotations

from datetime import datetime

from domain.case_core import CaseCore, approval_task
from domain.ladder import Step
from domain.models import EscalationApproved, EscalationHeld, SegmentChanged
from domain.policy import PolicyChanged


class CaseSteering(CaseCore):
    def change_segment(self, now: datetime, change: SegmentChanged) -> bool:
        if change.segment is self.segment:
            return False
        before, old = self.steps, self.segment
        self.segment = change.segment
        self._recorded(now, "segment_changed", "person", f"{old.value} -> {change.segment.value}: {change.reason}")
        self._relink(now, before)
        return True

    def change_policy(self, now: datetime, change: PolicyChanged) -> bool:
        if change.policy.version == self.policy.version:
            return False
        before, old = self.steps, self.policy.version
        self.policy = change.policy
        self._recorded(now, "policy_changed", "person", f"{old} -> {change.policy.version}")
        self._relink(now, before)
        return True

    def _relink(self, now: datetime, before: tuple[Step, ...]) -> None:
        """Place the case on its new ladder (`self.steps`) from where it stood on `before`."""
        after = self.steps
        if after == before:
            return
        held = before[self.hold.index].name if self.hold is not None else None
        taken = {s.name for s in before[: self.next_index]}
        reached = max((s.level for s in before[: self.next_index]), default=-1)
        last = max((i for i, s in enumerate(after) if s.name in taken), default=-1)
        self.next_index = next(
            (i for i in range(last + 1, len(after)) if after[i].level >= reached and after[i].name not in taken),
            len(after),
        )
        if self.hold is not None and held is not None:
            # A held step is a legal one (the formal notice, the hand-over): every ladder has it.
            index = next(i for i, s in enumerate(after) if s.name == held)
            self.hold = self.hold.model_copy(update={"index": index})
            self.next_index = index
        waiting = self.awaiting_approval
        if waiting is not None and not any(s.name == waiting and s.approval for s in after):
            self.awaiting_approval = None
            self.open_calls.pop(approval_task(waiting), None)
        ahead = after[self.next_index].name if self.next_index < len(after) else "none"
        self._recorded(now, "ladder_changed", "policy", f"{len(after)} steps; next: {ahead}")

    def approve(self, now: datetime, approval: EscalationApproved) -> bool:
        step = approval.step or self.awaiting_approval
        if step is None or step in self.approved or not any(s.name == step and s.approval for s in self.steps):
            return False
        self.approved.append(step)
        if self.awaiting_approval == step:
            self.awaiting_approval = None
            self.open_calls.pop(approval_task(step), None)
        self._recorded(now, "escalation_approved", "person", f"{step} approved by {approval.by}")
        return True

    def hold_escalation(self, now: datetime, held: EscalationHeld) -> bool:
        step = held.step or self.awaiting_approval
        if step is None or step != self.awaiting_approval:
            return False
        self._recorded(now, "escalation_held", "person", f"{step} held by {held.by}: {held.reason}")
        return True
