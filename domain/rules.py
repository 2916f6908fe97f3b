"""Changes to the case rules that running cases see, each one introduced by its own patch.

A case already running when a rule changes may have recorded, in its history, a step taken under the
old rule: replaying that history with the new rule would issue other commands and fail. So every
change is named here and `CaseState` asks `Rules.on(rule)` only at a point where the new rule would
decide differently from the old one. The workflow answers with `workflow.patched(rule)`: a case that
reached that point before the change keeps the old rule, every other case takes the new one from
then on. Tests answer with a plain set.
"""

from enum import StrEnum
from typing import Protocol


class Rule(StrEnum):
    # 2026-11: a catch-up past J+60 sends the formal notice instead of handing over at once.
    NOTICE_BEFORE_LITIGATION = "notice-before-litigation"
    # 2026-12: two steps that a weekend or holiday pushes onto one morning both run, on successive
    # business days, instead of the earlier one being skipped.
    EVERY_STEP_ON_TIME = "every-step-on-time"
    # 2026-12: a formal notice or hand-over that did not certainly happen holds the case (open task,
    # retry) instead of the ladder going on; no postal address sends the notice by e-mail.
    LEGAL_STEPS_MUST_HAPPEN = "legal-steps-must-happen"
    # 2026-12: an event id is consumed only by an event that was applied.
    EVENT_ID_CONSUMED_WHEN_APPLIED = "event-id-consumed-when-applied"
    # 2026-12: installment and promise checks wait while a dispute is open.
    PAUSES_WAIT_OUT_DISPUTES = "pauses-wait-out-disputes"
    # 2026-12: a new due date never plans the remaining steps in the past.
    NEW_DUE_DATE_NEVER_BURSTS = "new-due-date-never-bursts"
    # 2026-12, asked by the workflow, not the case: a signal that leaves the wake time where it was
    # keeps the running timer instead of cancelling it and starting the same one (two history events
    # and a Temporal action per signal).
    TIMER_KEPT_WHILE_WAKE_UNCHANGED = "timer-kept-while-wake-unchanged"
    # 2026-12: a registered letter's provider is polled for its outcome and proofs.
    LETTERS_TRACKED = "letters-tracked"
    # 2026-12: a copy of the invoice goes by post as well as by e-mail.
    INVOICE_COPY_BY_POST = "invoice-copy-by-post"
    # 2026-12: a case nearing the limitation of its claim wakes and opens a task for a person.
    LIMITATION_WATCHED = "limitation-watched"
    # 2026-12, asked by the workflow: a case publishes the version of its policy (PolicyVersion).
    POLICY_VERSION_PUBLISHED = "policy-version-published"
    # 2026-12: a hand-over waits out the notice's deadline even when no presentation is reported,
    # counted from the earliest day the notice can have been presented.
    NOTICE_DEADLINE_WITHOUT_PRESENTATION = "notice-deadline-without-presentation"
    # 2026-12, asked per step and only under a policy with `digest = true`: the step's e-mail goes in
    # the customer's digest (workflows.customer_digest) instead of on its own.
    EMAILS_DIGESTED = "emails-digested"


class Rules(Protocol):
    def on(self, rule: Rule, occurrence: str | None = None) -> bool:
        """Whether this case follows `rule`. With an `occurrence` (a step, a count), each occurrence
        is its own patch: one that happened under the old rule does not keep the later ones on it."""
        ...


class FixedRules:
    """Rules decided up front: all on for new cases, or a chosen set to test an older case."""

    def __init__(self, on: frozenset[Rule] = frozenset(Rule)) -> None:
        self._on = on

    def on(self, rule: Rule, occurrence: str | None = None) -> bool:
        return rule in self._on


ALL_ON = FixedRules()
