import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.outbox import Outbox
from domain.calendar import paris_date
from domain.models import DunningResult, InvoiceCancelled, InvoiceInput
from domain.policy import Policy
from dunning import search_attributes
from dunning.binaries import venv_binary
from dunning.cases import start_case
from dunning.codec import KEYS_VARIABLE
from dunning.settings import ChannelSettings
from dunning.tracking_ref import TrackingRefs, new_key
from tests.codec_keys import TEST_CONVERTER, TEST_KEYS_TEXT
from tests.fake_http import running
from tests.fake_sendgrid import FakeSendGrid
from tests.ladders import DEFAULT_POLICY
from tests.ledgers import BACKENDS, LedgerBackend, PostgresBackend, SqliteBackend
from tests.postgres_server import PostgresServer, running_postgres
from worker import MAX_CONCURRENT_ACTIVITIES, build_activities, build_worker
from workflows.invoice_dunning import InvoiceDunning

TRACKING_KEY = new_key()

# urllib honours proxy variables; the fake provider is on loopback.
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
# What the CLI and the API connect with (dunning.client.connect reads the environment).
os.environ[KEYS_VARIABLE] = TEST_KEYS_TEXT


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    # One server per test: its clock jumps years ahead after a result, and an activity left in
    # flight by one test would pause time skipping for the next.
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=TEST_CONVERTER
    )
    # The test server knows no custom attribute; an upsert of an unknown one hangs the workflow.
    await search_attributes.ensure(env.client)
    yield env
    await env.shutdown()


async def start_dev_server() -> WorkflowEnvironment:
    """A real dev server (in memory), for what the time-skipping one lacks: visibility (list_workflows)."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        search_attributes=list(search_attributes.ALL),
        data_converter=TEST_CONVERTER,
        ui=False,
    )


@pytest.fixture(scope="module")
async def dev() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    yield from running(FakeSendGrid())


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def ledger_backend(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerBackend:
    """Each sent-ledger test once on SQLite and once on PostgreSQL (its own database)."""
    if request.param == "sqlite":
        return SqliteBackend(tmp_path / "ledger.sqlite3")
    server: PostgresServer = request.getfixturevalue("postgres")
    return PostgresBackend(server.new_database())


@dataclass
class Harness:
    env: WorkflowEnvironment
    client: Client
    task_queue: str
    sendgrid: FakeSendGrid
    settings: ChannelSettings

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[Worker]:
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES) as executor:
            worker = build_worker(self.client, self.task_queue, build_activities(self.settings), executor)
            async with worker:
                yield worker

    async def today(self) -> date:
        return paris_date(await self.env.get_current_time())

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def start(self, invoice: InvoiceInput, policy: Policy = DEFAULT_POLICY) -> WorkflowHandle[Any, DunningResult]:
        return await start_case(self.client, invoice, self.task_queue, policy)

    @property
    def refs(self) -> TrackingRefs:
        return TrackingRefs(TRACKING_KEY)

    def outbox(self, channel: str) -> list[dict[str, Any]]:
        return Outbox(self.settings.outbox_dir, channel).envelopes()


@pytest.fixture
def harness(env: WorkflowEnvironment, sendgrid: FakeSendGrid, tmp_path: Path) -> Harness:
    settings = ChannelSettings(
        sendgrid_api_key="SG.test-key",
        sendgrid_api_host=sendgrid.url,
        tracking_key=TRACKING_KEY,
        var_dir=tmp_path / "var",
    )
    return Harness(env, env.client, f"tq-{uuid.uuid4().hex[:8]}", sendgrid, settings)


def make_invoice(due_on: date, **changes: Any) -> InvoiceInput:
    customer: dict[str, Any] = {
        "customer_id": "C-0017",
        "name": "Boulangerie Martin SARL",
        "kind": "business",
        "email": "compta@martin.example",
        "phone": "+33612345678",
        "segment": "standard",
        "language": "fr",
        "postal_address": {"lines": ["12 rue Oberkampf"], "postcode": "75011", "city": "Paris", "country": "FR"},
    }
    customer.update(changes.pop("customer", {}))
    data: dict[str, Any] = {
        "invoice_id": f"F-{uuid.uuid4().hex[:10]}",
        "amount": "1200.00",
        "currency": "EUR",
        "issued_on": (due_on - timedelta(days=30)).isoformat(),
        "due_on": due_on.isoformat(),
        "payment_reference": "RF69F20260042",
        "customer": customer,
    }
    data.update(changes)
    return InvoiceInput.model_validate(data)


async def advance_to(harness: Harness, instant: datetime) -> None:
    """Skip the test server's clock to `instant` (no-op if already past)."""
    now = await harness.now()
    if instant > now:
        await harness.env.sleep(instant - now)


def at_step(due: date, offset_days: int, after: timedelta = timedelta(hours=1)) -> datetime:
    """Shortly after the send slot of the step `offset_days` from `due`: with `clear_due_date`, an
    instant after that step and before the next one."""
    from domain.calendar import send_slot

    return send_slot(due + timedelta(days=offset_days)) + after


def clear_due_date(after: date) -> date:
    """The first due date on or after `after` whose standard ladder has no two steps on one morning.

    Weekends and holidays can push a step onto the next one's slot, which collapses them (tested on
    its own); tests that count every step start from a date where that cannot happen.
    """
    from domain.calendar import send_slot
    from tests.ladders import STANDARD

    due = after
    while len({send_slot(due + timedelta(days=s.offset_days)) for s in STANDARD}) < len(STANDARD):
        due += timedelta(days=1)
    return due


def colliding_due_date(after: date) -> date:
    """The first due date on or after `after` whose standard ladder has two steps on one morning
    before they are spread over successive business days (domain.schedule)."""
    from domain.calendar import send_slot
    from tests.ladders import STANDARD

    due = after
    while len({send_slot(due + timedelta(days=s.offset_days)) for s in STANDARD}) == len(STANDARD):
        due += timedelta(days=1)
    return due


def near(actual: datetime, expected: datetime) -> bool:
    """A timer fires at its instant, the action is stamped when the workflow task completes."""
    return expected <= actual < expected + timedelta(minutes=1)


async def close_case(handle: WorkflowHandle[Any, DunningResult]) -> DunningResult:
    """End a test's case by cancelling it, so its worker shuts down on a closed workflow."""
    await handle.signal(InvoiceDunning.invoice_cancelled, InvoiceCancelled(reason="test over"))
    return await handle.result()
