"""Quiet hours: a case sends only 09:00-18:00 Paris on business days, unless it was started with them
off (DUNNING_QUIET_HOURS=off, `make demo`), which its memo keeps for all its life."""

import asyncio
from datetime import datetime, time, timedelta

from temporalio.client import WorkflowHandle

from domain.calendar import PARIS, next_business_day, next_send_opportunity
from domain.case import RunStep, Wait
from domain.models import ActionStatus, CaseStatus, DunningResult
from dunning.cases import start_case
from dunning.contract import QUIET_HOURS_MEMO
from tests.case_driver import open_case
from tests.conftest import Harness, advance_to, make_invoice
from workflows.invoice_dunning import InvoiceDunning

# Saturday night: outside the window, and the next opening is Monday morning.
SATURDAY_NIGHT = datetime(2027, 3, 6, 22, 30, tzinfo=PARIS)


def test_a_late_case_waits_for_the_window_unless_its_quiet_hours_are_off() -> None:
    # J+10 on Friday 5 March: the level 2 SMS is the latest step due.
    due = SATURDAY_NIGHT.date() - timedelta(days=11)

    quiet = open_case(due)
    anytime = open_case(due)
    anytime.quiet_hours = False

    assert quiet.decide(SATURDAY_NIGHT) == Wait(datetime(2027, 3, 8, 9, 0, tzinfo=PARIS), "level2_sms")
    decision = anytime.decide(SATURDAY_NIGHT)
    assert isinstance(decision, RunStep)
    assert anytime.steps[decision.index].name == "level2_sms"


async def test_a_case_started_with_quiet_hours_off_sends_at_night_and_an_sms_too(harness: Harness) -> None:
    # A business day's night: its 09:00 slot has passed, the window is closed.
    night = datetime.combine(next_business_day(await harness.today() + timedelta(days=1)), time(22), tzinfo=PARIS)
    await advance_to(harness, night)
    # J+10, the level 2 SMS, is the latest step due: an SMS is the channel quiet hours guard most.
    due = night.date() - timedelta(days=10)
    quiet = make_invoice(due)
    anytime = make_invoice(due)
    async with harness.worker():
        quiet_handle = await start_case(harness.client, quiet, harness.task_queue)
        anytime_handle = await start_case(harness.client, anytime, harness.task_queue, quiet_hours=False)
        status = await _until_sent(anytime_handle)
        waiting = await quiet_handle.query(InvoiceDunning.status)
        memo = await (await anytime_handle.describe()).memo_value(QUIET_HOURS_MEMO)

    assert memo is False
    [sms] = [a for a in status.actions if a.step == "level2_sms"]
    assert sms.status is ActionStatus.SENT
    assert sms.at.astimezone(PARIS).date() == night.date()
    assert waiting.next_action is not None
    assert waiting.next_action.at == next_send_opportunity(night)
    assert not any(a.status is ActionStatus.SENT for a in waiting.actions)
    assert harness.outbox("sms")


async def _until_sent(handle: WorkflowHandle[InvoiceDunning, DunningResult]) -> CaseStatus:
    """The case's status once it has sent something: an outbox send takes milliseconds (bounded)."""
    for _ in range(100):
        status = await handle.query(InvoiceDunning.status)
        if any(a.status is ActionStatus.SENT for a in status.actions):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing sent; last status: {status!r}")
