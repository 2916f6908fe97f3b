"""`make demo`'s book (deploy/demo_book.py), loaded through the API: a case at every stage.

On the dev server, as the web UI lists them, every stage but litigation is there as soon as the book is
loaded. Litigation never comes the day of the formal notice: on the time-skipping server (no visibility,
so no bank import), the book's litigation case is handed over on the morning the book says, not before."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from deploy import demo_book
from deploy.demo_book import DEMO_POLICY
from domain.calendar import in_send_window, paris_date
from domain.models import Stage
from dunning import search_attributes as sa
from tests.ingress.dev_book import api_on_dev, eventually

AT_ONCE = frozenset(Stage) - {Stage.LITIGATION, Stage.CANCELLED, Stage.AWAITING_APPROVAL}
# The book waits up to this for its cases' first steps (16 cases, 3 letters laid out as PDF).
LOAD_SECONDS = 120


async def _stages(dev: WorkflowEnvironment, queue: str) -> set[str]:
    listed = dev.client.list_workflows(f'TaskQueue = "{queue}"')
    return {stage async for case in listed if (stage := case.typed_search_attributes.get(sa.STAGE))}


async def test_the_demo_book_shows_every_stage_but_litigation_at_once_at_any_hour(
    dev: WorkflowEnvironment, tmp_path: Path
) -> None:
    queue = f"demo-{uuid.uuid4().hex[:6]}"
    # The dev server's clock is this machine's.
    now = datetime.now(UTC)
    book = demo_book.plan(now)
    async with api_on_dev(dev, tmp_path, queue, policy=DEMO_POLICY) as api:
        await demo_book.load(api, book, paris_date(now), LOAD_SECONDS)

        seen = await eventually(lambda: _stages(dev, queue), lambda stages: stages >= AT_ONCE, polls=150)

        assert seen == AT_ONCE, f"run at {now} ({'in' if in_send_window(now) else 'outside'} the sending window)"
        [bound] = [c for c in book if c.entry.to_litigation]
        status = (await api.get(f"/cases/{bound.invoice_id}")).json()
        assert status["stage"] == Stage.FORMAL_NOTICE.value
        assert status["next_action"]["step"] == "litigation_handover"
        assert datetime.fromisoformat(status["next_action"]["at"]) == bound.next_change
        assert paris_date(bound.next_change or now) > paris_date(now)


async def test_the_demo_litigation_case_is_handed_over_on_the_morning_the_book_says(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    queue = f"demo-{uuid.uuid4().hex[:6]}"
    now = await env.get_current_time()
    book = demo_book.plan(now)
    [bound] = [c for c in book if c.entry.to_litigation]
    assert bound.next_change is not None
    async with api_on_dev(env, tmp_path, queue, policy=DEMO_POLICY) as api:
        await demo_book.load(api, [bound], paris_date(now), LOAD_SECONDS)

        await env.sleep(bound.next_change - timedelta(minutes=1) - await env.get_current_time())
        assert await _stage(api, bound.invoice_id) == Stage.FORMAL_NOTICE.value
        await env.sleep(timedelta(minutes=2))
        statuses = await demo_book.wait_for(api, {bound.invoice_id: Stage.LITIGATION}, LOAD_SECONDS)

    handover = next(a for a in statuses[bound.invoice_id].actions if a.step == "litigation_handover")
    assert handover.status.value == "sent"
    assert bound.next_change <= handover.at < bound.next_change + timedelta(minutes=2)


async def _stage(api: httpx.AsyncClient, invoice_id: str) -> str:
    return str((await api.get(f"/cases/{invoice_id}")).json()["stage"])
