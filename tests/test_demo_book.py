"""The demo book's due dates (deploy/demo_book.py) on any day and at any hour `make demo` may start:
a case for every stage, each holding it for a while, and the litigation case handed over on the
next morning its ladder allows."""

import random
from datetime import datetime, timedelta

import pytest

from deploy import demo_book
from domain.calendar import PARIS
from domain.models import Stage

_RANDOM = random.Random(13)
# Through a year (holidays, bridges, the clock change), at random hours, and on the awkward edges.
INSTANTS = [
    datetime(2027, 1, 1, tzinfo=PARIS) + timedelta(minutes=_RANDOM.randrange(365 * 24 * 60)) for _ in range(60)
] + [
    datetime(2027, 12, 24, 23, 0, tzinfo=PARIS),  # Christmas Eve, the night before a holiday
    datetime(2027, 3, 26, 18, 30, tzinfo=PARIS),  # Friday evening before the Easter weekend
    datetime(2027, 5, 7, 8, 59, tzinfo=PARIS),  # a minute before a slot, before a long weekend
    datetime(2027, 7, 14, 12, 0, tzinfo=PARIS),  # a public holiday
]


@pytest.mark.parametrize("now", INSTANTS, ids=lambda now: f"{now:%Y-%m-%d_%H%M}")
def test_the_book_has_a_case_at_every_stage_that_stays_there_a_while(now: datetime) -> None:
    book = demo_book.plan(now)

    # A gated step waits for a person: the demo policy gates none.
    assert {case.stage for case in book} == frozenset(Stage) - {
        Stage.LITIGATION,
        Stage.CANCELLED,
        Stage.AWAITING_APPROVAL,
    }
    for case in book:
        assert case.invoice.issued_on <= case.invoice.due_on
        if case.next_change is not None and not case.entry.to_litigation:
            assert case.next_change > now + demo_book.HOLD, case.invoice_id
    [bound] = [case for case in book if case.entry.to_litigation]
    assert bound.stage is Stage.FORMAL_NOTICE
    assert bound.next_change is not None
    # Once the notice's deadline has run from its earliest presentation: the day after posting, then
    # 8 days, then the next business morning (a long weekend or two at the most).
    assert timedelta(days=9) < bound.next_change - now < timedelta(days=16)
