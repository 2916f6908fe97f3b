"""The ingress API and a worker on the dev server, for what needs visibility (lists, reports)."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import httpx
from temporalio.testing import WorkflowEnvironment

from domain.policy import Policy
from dunning.settings import ChannelSettings, TemporalSettings
from starter.api import IngressSettings, create_app
from tests.ingress.conftest import TOKEN
from tests.ladders import DEFAULT_POLICY
from worker import MAX_CONCURRENT_ACTIVITIES, build_activities, build_worker

_T = TypeVar("_T")


@asynccontextmanager
async def api_on_dev(
    dev: WorkflowEnvironment, tmp_path: Path, queue: str, policy: Policy = DEFAULT_POLICY
) -> AsyncIterator[httpx.AsyncClient]:
    settings = IngressSettings(
        api_token=TOKEN,
        var_dir=tmp_path / "var",
        temporal=TemporalSettings(address=dev.client.service_client.config.target_host, task_queue=queue),
        policy=policy,
    )
    transport = httpx.ASGITransport(app=create_app(settings, dev.client))
    with ThreadPoolExecutor(MAX_CONCURRENT_ACTIVITIES) as executor:
        activities = build_activities(ChannelSettings(var_dir=tmp_path / "worker"))
        async with (
            build_worker(dev.client, queue, activities, executor),
            httpx.AsyncClient(
                transport=transport, base_url="http://ingress", headers={"Authorization": f"Bearer {TOKEN}"}
            ) as client,
        ):
            yield client


async def eventually(read: Callable[[], Awaitable[_T]], ready: Callable[[_T], bool], polls: int = 50) -> _T:
    """Visibility lags the cases by about a second: poll, bounded (`polls` of 0.2 s)."""
    for _ in range(polls):
        value = await read()
        if ready(value):
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"visibility never showed it; last value: {value!r}")
