"""When each remaining step of a ladder runs: its planned day, moved to a business day at 09:00 Paris.

A weekend or a holiday can push a step onto the morning of the next one (J+7 on a Saturday and J+8 on
a Sunday both land on Monday). The customer should not get two messages the same morning, and no
step may be lost: a step is never planned earlier than the business day after the step before it, so
the second one moves to Tuesday and the rest of the ladder follows only if it is reached in turn.
Before rule `every-step-on-time`, steps kept their own slots and such a collision ran only the later
one; that schedule stays here for the cases that recorded it.
"""

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from domain.calendar import OFFICE_HOURS, SendHours, paris_date, send_slot
from domain.ladder import Step


def planned_day(due_on: date, step: Step, shift_days: int) -> date:
    return due_on + timedelta(days=step.offset_days + shift_days)


def slots(
    steps: Sequence[Step],
    due_on: date,
    shift_days: int,
    start: int,
    last_step_on: date | None,
    spread: bool,
    hours: SendHours = OFFICE_HOURS,
) -> dict[int, datetime]:
    """The send instant of every step from `start` on. With `spread`, each one after the business day
    of the one before it (the first after `last_step_on`, the day the last step ran)."""
    planned: dict[int, datetime] = {}
    floor = last_step_on
    for index in range(start, len(steps)):
        day = planned_day(due_on, steps[index], shift_days)
        if spread and floor is not None and day <= floor:
            day = floor + timedelta(days=1)
        planned[index] = send_slot(day, hours)
        floor = paris_date(planned[index])
    return planned
