"""The escalation ladder's parts: a step, its channel and its level.

The ladders themselves are data, in policy files (domain.policy, domain/data/policies): a running
case keeps the policy it started with, since a changed offset is not detected on replay and would
silently move the timers of cases already running.
"""

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.models import Stage


class Channel(StrEnum):
    EMAIL = "email"
    CALL = "call"
    SMS = "sms"
    REGISTERED_LETTER = "registered_letter"
    LITIGATION = "litigation"
    # A plain letter (the posted copy of an invoice): no step of a ladder goes by it.
    LETTER = "letter"


class Step(BaseModel):
    # Unknown keys are refused: a policy file's typo (`ofset_days`) must not silently drop a setting.
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    offset_days: int = Field(ge=-90, le=3650)  # from the due date: J-15 is -15
    channel: Channel
    stage: Stage
    # The message template, when it is not the step's own name (activities/*/templates).
    template: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")
    # The step waits for a person's go-ahead (`escalation_approved`) once it falls due.
    approval: bool = False
    # The step is in the ladder only for invoices of at least / below these amounts.
    amount_from: Decimal | None = Field(default=None, ge=0)
    amount_below: Decimal | None = Field(default=None, gt=0)

    def applies_to(self, amount: Decimal) -> bool:
        return (self.amount_from is None or amount >= self.amount_from) and (
            self.amount_below is None or amount < self.amount_below
        )

    @property
    def level(self) -> int:
        """0 before the due date, then 1, 2, 3; 4 for formal notice and litigation."""
        return _LEVELS[self.stage]


_LEVELS = {
    Stage.PREVENTIVE: 0,
    Stage.LEVEL_1: 1,
    Stage.LEVEL_2: 2,
    Stage.LEVEL_3: 3,
    Stage.FORMAL_NOTICE: 4,
    Stage.LITIGATION: 4,
}

# The ad-hoc step run when a call reports that the invoice never arrived.
INVOICE_RESEND = "invoice_resend"
# Where a broken installment plan resumes escalation.
RESUME_AFTER_BROKEN_PLAN = Stage.LEVEL_2


def first_index_at_level(steps: tuple[Step, ...], stage: Stage) -> int:
    level = _LEVELS[stage]
    return next(i for i, s in enumerate(steps) if s.level >= level)
