"""The escalation ladder: which step runs when, on which channel, per customer segment.

Ladders are dated, versioned data. A running case keeps the version it started with: a changed offset
is not detected on replay and would silently move the timers of cases already running. So a version
is never edited once released; a new one is added after it in `LADDERS`, and the workflow records,
in each case's history, the version the case started with (one patch marker per version after the
first, see workflows.invoice_dunning.ladder_version).
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.models import Segment, Stage


class Channel(StrEnum):
    EMAIL = "email"
    CALL = "call"
    SMS = "sms"
    REGISTERED_LETTER = "registered_letter"
    LITIGATION = "litigation"
    # A plain letter (the posted copy of an invoice): no step of a ladder goes by it.
    LETTER = "letter"


class Step(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    offset_days: int  # from the due date: J-15 is -15
    channel: Channel
    stage: Stage

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


def _step(name: str, offset: int, channel: Channel, stage: Stage) -> Step:
    return Step(name=name, offset_days=offset, channel=channel, stage=stage)


E, C, S, L = Channel.EMAIL, Channel.CALL, Channel.SMS, Channel.REGISTERED_LETTER

# Default ladder (shared/seeds/000: J-15 ... J+60).
STANDARD: tuple[Step, ...] = (
    _step("preventive_email", -15, E, Stage.PREVENTIVE),
    _step("preventive_call", -7, C, Stage.PREVENTIVE),
    _step("level1_email", 1, E, Stage.LEVEL_1),
    _step("level1_call", 4, C, Stage.LEVEL_1),
    _step("level1_followup_email", 7, E, Stage.LEVEL_1),
    _step("level2_email", 8, E, Stage.LEVEL_2),
    _step("level2_sms", 10, S, Stage.LEVEL_2),
    _step("level2_registered_letter", 15, L, Stage.LEVEL_2),
    _step("level3_email", 30, E, Stage.LEVEL_3),
    _step("level3_call", 32, C, Stage.LEVEL_3),
    _step("formal_notice", 35, L, Stage.FORMAL_NOTICE),
    _step("litigation_handover", 60, Channel.LITIGATION, Stage.LITIGATION),
)

# New customers: same start, firmer end (shared/seeds/001: "une plus grande fermeté").
NEW: tuple[Step, ...] = (
    *STANDARD[:8],
    _step("level3_email", 22, E, Stage.LEVEL_3),
    _step("level3_call", 24, C, Stage.LEVEL_3),
    _step("formal_notice", 27, L, Stage.FORMAL_NOTICE),
    _step("litigation_handover", 45, Channel.LITIGATION, Stage.LITIGATION),
)

# Repeat late payers: no courtesy call, compressed ladder, handed over sooner (seeds/001).
BAD_PAYER: tuple[Step, ...] = (
    _step("preventive_email", -15, E, Stage.PREVENTIVE),
    _step("level1_email", 1, E, Stage.LEVEL_1),
    _step("level1_call", 3, C, Stage.LEVEL_1),
    _step("level2_email", 5, E, Stage.LEVEL_2),
    _step("level2_sms", 6, S, Stage.LEVEL_2),
    _step("level2_registered_letter", 10, L, Stage.LEVEL_2),
    _step("level3_email", 15, E, Stage.LEVEL_3),
    _step("level3_call", 17, C, Stage.LEVEL_3),
    _step("formal_notice", 20, L, Stage.FORMAL_NOTICE),
    _step("litigation_handover", 35, Channel.LITIGATION, Stage.LITIGATION),
)

# Key accounts: the relationship matters more than speed (seeds/003: "vous ne traiterez pas de la
# même manière un client historique"): no SMS, more time at each level.
STRATEGIC: tuple[Step, ...] = (
    _step("preventive_email", -15, E, Stage.PREVENTIVE),
    _step("preventive_call", -7, C, Stage.PREVENTIVE),
    _step("level1_email", 1, E, Stage.LEVEL_1),
    _step("level1_call", 4, C, Stage.LEVEL_1),
    _step("level1_followup_email", 10, E, Stage.LEVEL_1),
    _step("level2_email", 15, E, Stage.LEVEL_2),
    _step("level2_registered_letter", 25, L, Stage.LEVEL_2),
    _step("level3_email", 40, E, Stage.LEVEL_3),
    _step("level3_call", 42, C, Stage.LEVEL_3),
    _step("formal_notice", 50, L, Stage.FORMAL_NOTICE),
    _step("litigation_handover", 90, Channel.LITIGATION, Stage.LITIGATION),
)

LADDERS: dict[str, dict[Segment, tuple[Step, ...]]] = {
    "2026-11": {
        Segment.STANDARD: STANDARD,
        Segment.NEW: NEW,
        Segment.BAD_PAYER: BAD_PAYER,
        Segment.STRATEGIC: STRATEGIC,
    },
}


def versions() -> tuple[str, ...]:
    """Every released version, oldest first; new cases take the last."""
    return tuple(LADDERS)


def current_version() -> str:
    return versions()[-1]


def ladder(version: str, segment: Segment) -> tuple[Step, ...]:
    return LADDERS[version][segment]


def first_index_at_level(steps: tuple[Step, ...], stage: Stage) -> int:
    level = _LEVELS[stage]
    return next(i for i, s in enumerate(steps) if s.level >= level)


def level_of(step_name: str) -> int:
    """The level of a step by name, the same in every ladder (an ad-hoc resend is level 0)."""
    return next((s.level for s in STANDARD if s.name == step_name), 0)
