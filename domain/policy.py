"""A dunning policy: the ladders a credit team writes, which one applies to which customers, and the
delays around them. It is data (a TOML file, `domain.policy_file`), checked here as a whole.

A case keeps the policy it started with: its content, not a file name, is in the case's start
input, so editing the file never moves a running case. `version` names that content (the
`PolicyVersion` search attribute), so two cases under one version are sure to follow the same rules.
"""

from __future__ import annotations

import hashlib
from datetime import time
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.calendar import SendHours
from domain.ladder import Channel, Step
from domain.models import InvoiceInput, Model, Segment, Signal, Stage

# The steps other parts of the service know by name: a formal notice states a deadline and the
# hand-over waits for it; litigation files name the notice. A ladder may call its other steps anything.
FORMAL_NOTICE = "formal_notice"
HANDOVER = "litigation_handover"


class Strict(BaseModel):
    # A misspelt key in a policy file is refused rather than silently ignored.
    model_config = ConfigDict(frozen=True, extra="forbid")


class Hours(Strict):
    start: time = time(9, 0)
    end: time = time(18, 0)
    business_days_only: bool = True

    @field_validator("start", "end", mode="before")
    @classmethod
    def _local_time(cls, value: object) -> object:
        # A number would be read as seconds since midnight, UTC: an hour is written as one, in Paris.
        if isinstance(value, int | float) or (isinstance(value, time) and value.tzinfo is not None):
            raise ValueError("a Paris time of day, written HH:MM:SS without offset")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self

    @property
    def window(self) -> SendHours:
        return SendHours(self.start, self.end, self.business_days_only)


class Pauses(Strict):
    # After a dispute is resolved, reminders resume this many days later.
    dispute_resume_days: int = Field(default=3, ge=0, le=60)
    # A promise to pay is checked this many business days after the promised date.
    promise_grace_business_days: int = Field(default=2, ge=0, le=30)
    # An installment is checked this many days after its due date.
    installment_grace_days: int = Field(default=3, ge=0, le=30)


class Handover(StrEnum):
    """Where a case goes at its last step (the operator names the agency: DUNNING_AGENCY_NAME, _EMAIL)."""

    # A dossier for an injonction de payer (activities/litigation), to the person who files it.
    COURT = "court"
    # The same dossier, to the collection agency that takes the claim over (seed 001: bad faith).
    COLLECTION_AGENCY = "collection_agency"


class SegmentRules(Strict):
    """How the ingress derives a customer's segment from the cases it has seen."""

    # A customer with this many invoices paid late (or still unpaid past due) within the window is a
    # repeat late payer.
    bad_payer_late_invoices: int = Field(default=3, ge=1, le=100)
    late_window_months: int = Field(default=12, ge=1, le=60)
    # A customer whose first invoice is younger than this is new.
    new_for_months: int = Field(default=6, ge=0, le=60)


class Route(Strict):
    """Which ladder a segment follows, for invoices of at least `amount_from` and below `amount_below`."""

    segment: Segment
    ladder: str
    amount_from: Decimal | None = Field(default=None, ge=0)
    amount_below: Decimal | None = Field(default=None, gt=0)
    # Where these cases are handed over, when not where the policy sends the others.
    handover: Handover | None = None

    def matches(self, segment: Segment, amount: Decimal) -> bool:
        return (
            segment is self.segment
            and (self.amount_from is None or amount >= self.amount_from)
            and (self.amount_below is None or amount < self.amount_below)
        )


_LEVEL_ORDER = (Stage.PREVENTIVE, Stage.LEVEL_1, Stage.LEVEL_2, Stage.LEVEL_3, Stage.FORMAL_NOTICE, Stage.LITIGATION)


class Policy(Strict):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str = ""
    ladders: dict[str, tuple[Step, ...]] = Field(min_length=1)
    # The first route that matches a case's segment and amount decides its ladder.
    routes: tuple[Route, ...] = Field(min_length=1)
    send_hours: Hours = Hours()
    pauses: Pauses = Pauses()
    # The days a formal notice gives the debtor, counted from its presentation (customary: 8).
    formal_notice_deadline_days: int = Field(default=8, ge=1, le=60)
    # Unset: where the operator's DUNNING_HANDOVER_DESTINATION says.
    handover: Handover | None = None
    # One message per customer listing every invoice at the same step, instead of one each.
    digest: bool = False
    segments: SegmentRules = SegmentRules()

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        for name, steps in self.ladders.items():
            _check_steps(name, steps)
        for index, route in enumerate(self.routes):
            if route.ladder not in self.ladders:
                known = ", ".join(self.ladders)
                raise ValueError(f"routes[{index}]: no ladder named {route.ladder!r} (ladders: {known})")
            _check_band(f"routes[{index}]", route.amount_from, route.amount_below)
        for segment in Segment:
            for amount in self._boundaries():
                if not any(r.matches(segment, amount) for r in self.routes):
                    raise ValueError(f"no route for segment {segment.value} and an amount of {amount}")
                steps = self.ladder_for(segment, amount)
                ladder = self._route(segment, amount).ladder
                where = f"ladder {ladder!r} for an amount of {amount}"
                _check_legal_steps(where, steps)
        return self

    def _boundaries(self) -> list[Decimal]:
        """Every amount at which a route or a step condition changes: checking these checks all."""
        bounds = {Decimal("0.01")}
        for route in self.routes:
            bounds.update(b for b in (route.amount_from, route.amount_below) if b is not None)
        for steps in self.ladders.values():
            for step in steps:
                bounds.update(b for b in (step.amount_from, step.amount_below) if b is not None)
        return sorted(b for b in bounds if b > 0)

    def _route(self, segment: Segment, amount: Decimal) -> Route:
        return next(r for r in self.routes if r.matches(segment, amount))

    def ladder_name(self, segment: Segment, amount: Decimal) -> str:
        return self._route(segment, amount).ladder

    def handover_for(self, segment: Segment, amount: Decimal) -> Handover | None:
        return self._route(segment, amount).handover or self.handover

    def ladder_for(self, segment: Segment, amount: Decimal) -> tuple[Step, ...]:
        """The steps a case of this segment and amount takes, their amount conditions applied."""
        return tuple(s for s in self.ladders[self.ladder_name(segment, amount)] if s.applies_to(amount))

    @property
    def version(self) -> str:
        """The name and a digest of the content: editing anything gives a new version. Computed each
        time (tens of microseconds): a cached value would survive `model_copy(update=...)`."""
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:10]
        return f"{self.name}.{digest}"


def _check_steps(name: str, steps: tuple[Step, ...]) -> None:
    where = f"ladders.{name}"
    if not steps:
        raise ValueError(f"{where}: a ladder needs steps")
    seen: set[str] = set()
    for index, (before, step) in enumerate(zip((None, *steps), steps, strict=False)):
        if step.name in seen:
            raise ValueError(f"{where}[{index}]: step {step.name!r} appears twice")
        seen.add(step.name)
        _check_band(f"{where}[{index}] {step.name}", step.amount_from, step.amount_below)
        if step.stage not in _LEVEL_ORDER:
            raise ValueError(f"{where}[{index}] {step.name}: stage {step.stage.value} is not a ladder stage")
        if before is None:
            continue
        if step.offset_days < before.offset_days:
            raise ValueError(
                f"{where}[{index}] {step.name}: offset_days {step.offset_days} is before the previous step's"
                f" ({before.offset_days}); steps are listed in the order they run"
            )
        if _LEVEL_ORDER.index(step.stage) < _LEVEL_ORDER.index(before.stage):
            raise ValueError(f"{where}[{index}] {step.name}: stage {step.stage.value} comes after {before.stage.value}")


def _check_band(where: str, low: Decimal | None, high: Decimal | None) -> None:
    if low is not None and high is not None and low >= high:
        raise ValueError(f"{where}: amount_from {low} must be below amount_below {high}")


def _check_legal_steps(where: str, steps: tuple[Step, ...]) -> None:
    """A ladder ends with the hand-over, after a formal notice by registered letter: no court accepts
    a claim without the notice, and the notice is the step that proves it."""
    if not steps or steps[-1].channel is not Channel.LITIGATION:
        raise ValueError(f"{where}: the last step must be the litigation hand-over (channel litigation)")
    last = steps[-1]
    if last.name != HANDOVER or last.stage is not Stage.LITIGATION:
        raise ValueError(f"{where}: the hand-over step is named {HANDOVER!r}, stage litigation")
    notices = [s for s in steps if s.stage is Stage.FORMAL_NOTICE]
    if [s.name for s in notices] != [FORMAL_NOTICE]:
        raise ValueError(f"{where}: exactly one formal-notice step, named {FORMAL_NOTICE!r}, before the hand-over")
    if notices[0].channel is not Channel.REGISTERED_LETTER:
        raise ValueError(f"{where}: the formal notice goes by registered_letter (its proof of delivery)")
    for step in steps:
        if step.channel is Channel.LITIGATION and step is not last:
            raise ValueError(f"{where}: only the last step hands over ({step.name} has channel litigation)")
        if step.channel is Channel.LETTER:
            raise ValueError(f"{where}: {step.name}: ladder steps go by registered_letter, not letter")


class PolicyChanged(Signal):
    """Move a running case to this policy, from where it stands: steps already taken are not taken
    again, the ones still ahead follow the new ladder."""

    policy: Policy


class CaseStart(Model):
    """What a case starts with: the invoice and the policy it will follow. A case started before
    policies existed has the bare `InvoiceInput` as its input (and runs the 2026-11 ladders)."""

    invoice: InvoiceInput
    policy: Policy
