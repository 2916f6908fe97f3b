"""Cases run for real on the time-skipping test server: the InvoiceDunning workflow and the worker's own
activities, every channel writing to a temporary outbox; nothing reaches a customer or a provider.

The clock moves from one thing the case waits for to the next (`CaseStatus.next_action`, an event
given), so that the case is read after every step and the stage it left is known. A case that waits
with no timer (a gated step, an open dispute, a held notice) waits for a person: the run stops there
rather than wait forever, unless `approve` gives the go-ahead a person would.
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from activities import rendering
from domain.delivery import HandoverRequest, MessageRequest
from domain.models import CaseStatus, DunningResult, EscalationApproved, InvoiceInput, Stage
from domain.penalties import PenaltyPolicy
from domain.policy import Policy
from dunning import search_attributes
from dunning.binaries import venv_binary
from dunning.cases import start_case
from dunning.contract import ActivityName
from dunning.rates import penalty_policy
from dunning.settings import ChannelSettings, HandoverSettings, PenaltySettings, PostalSettings
from starter.simulation.events import WHO, Context, PlannedEvent
from starter.simulation.shift import Shift
from worker import MAX_CONCURRENT_ACTIVITIES, build_activities, build_worker
from workflows.invoice_dunning import InvoiceDunning

QUEUE = "simulation"
# Past a step's instant: its workflow task and activities are done by then (the test server does not
# skip time while either is in flight), and no later step falls within it.
MARGIN = timedelta(minutes=1)
# After a signal: long enough for the server to hold the clock until the case has handled it.
SETTLE = timedelta(seconds=1)
SENDING_ACTIVITIES = {
    ActivityName.SEND_EMAIL,
    ActivityName.SEND_SMS,
    ActivityName.SEND_REGISTERED_LETTER,
    ActivityName.HAND_OVER_TO_LITIGATION,
}
Handle = WorkflowHandle[InvoiceDunning, DunningResult]
# Starts and queries of a book's cases in flight at once.
BOOK_CONCURRENCY = 32


class SimulationChannels(ChannelSettings):
    """Every place a channel writes to under the simulation's own folder, whatever the environment says."""

    @property
    def ledger_path(self) -> Path:
        return self.var_dir / "sent-ledger.sqlite3"

    @property
    def case_file_dir(self) -> Path:
        return self.var_dir / "cases"

    @property
    def dossier_dir(self) -> Path:
        return self.var_dir / "dossiers"

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"


def channel_settings(root: Path) -> SimulationChannels:
    """No provider, whatever keys the environment holds: every channel goes to the outbox (the worker's
    choice without keys), the sent-ledger is a SQLite file here. The creditor, the templates and the
    hand-over destination stay the operator's: they are what the messages say; a policy that hands
    cases to a collection agency the operator has not configured yet gets a stand-in one (otherwise
    the hand-over would fail and the case hold, retried every business day, for ever)."""
    handover = HandoverSettings()
    if not (handover.agency_name and handover.agency_email):
        handover = handover.model_copy(
            update={"agency_name": "Agence de recouvrement (simulation)", "agency_email": "agence@simulation.invalid"}
        )
    return SimulationChannels(
        sendgrid_api_key=None,
        twilio_account_sid=None,
        twilio_auth_token=None,
        twilio_from=None,
        webhook_base_url=None,
        tracking_key=None,
        postal=PostalSettings(service_id=None, secret_key="", user_id=0, mode="paper", authorized_ip=None),
        ledger_url=None,
        var_dir=root,
        handover=handover,
    )


@contextmanager
def lent_rates(shift: Shift) -> Iterator[PenaltyPolicy]:
    """The operator's rates and imputation, as the worker reads them, on the shifted semesters; the
    process's own policy is put back after."""
    before = rendering.penalty_policy()
    operator = penalty_policy(PenaltySettings())
    policy = PenaltyPolicy(shift.rates(operator.rates), operator.imputation)
    rendering.use_penalty_policy(policy)
    try:
        yield policy
    finally:
        rendering.use_penalty_policy(before)


@dataclass
class Simulation:
    env: WorkflowEnvironment
    settings: SimulationChannels
    shift: Shift
    penalties: PenaltyPolicy

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def advance_to(self, instant: datetime) -> None:
        now = await self.now()
        if instant > now:
            await self.env.sleep(instant - now)


@cache
def _quiet_runtime() -> Runtime:
    """The SDK core writes its warnings to stdout, into the timeline or its JSON; the test server
    lacks what one of them is about (heartbeat details on failure, which no activity here uses)."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


@asynccontextmanager
async def simulation(shift: Shift, begin: datetime) -> AsyncIterator[Simulation]:
    """A test server, its clock at `begin` (on the shifted calendar) if that is ahead, and a worker."""
    with TemporaryDirectory(prefix="dunning-simulate-") as folder, lent_rates(shift) as penalties:
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=venv_binary("temporal-test-server"),
            data_converter=pydantic_data_converter,
            runtime=_quiet_runtime(),
        )
        try:
            # An upsert of an attribute the server does not know would hang the case.
            await search_attributes.ensure(env.client)
            settings = channel_settings(Path(folder))
            sim = Simulation(env, settings, shift, penalties)
            await sim.advance_to(begin)
            with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES) as executor:
                async with build_worker(env.client, QUEUE, build_activities(settings), executor):
                    yield sim
        finally:
            await env.shutdown()


@dataclass
class CaseRun:
    status: CaseStatus
    # The stage the case was in after each of its actions, by index in `status.actions`.
    stages: list[Stage] = field(default_factory=list)
    # Why the run stopped with the case open: it waits for a person.
    waiting: str | None = None
    # What the case asked each channel to send, by message id.
    requests: dict[str, MessageRequest] = field(default_factory=dict)
    # Events not signalled: the case had closed, or stopped waiting for a person, before them.
    unapplied: list[PlannedEvent] = field(default_factory=list)


async def run_case(
    sim: Simulation, invoice: InvoiceInput, policy: Policy, events: Sequence[PlannedEvent], approve: bool
) -> CaseRun:
    """One case from its start to its close, or to where it waits for a person; `events` in order."""
    handle = await start_case(sim.env.client, invoice, QUEUE, policy)
    pending = deque(sorted(events, key=lambda e: e.at))
    run = CaseRun(await handle.query(InvoiceDunning.status))
    woke_at: datetime | None = None
    approved: set[str] = set()
    while True:
        status = await _observe(handle, run, woke_at)
        if status.outcome is not None:
            break
        if approve and status.awaiting_approval and status.awaiting_approval not in approved:
            approved.add(status.awaiting_approval)
            await _approve(sim, handle, status.awaiting_approval)
            continue
        upcoming = status.next_action.at if status.next_action and not held(status) else None
        if pending and (upcoming is None or sim.shift.forward_instant(pending[0].at) <= upcoming):
            woke_at = await _apply(sim, handle, run, pending.popleft())
            continue
        if upcoming is None:
            run.waiting = waiting_for(status)
            break
        await sim.advance_to(upcoming + MARGIN)
        woke_at = upcoming
    run.unapplied = list(pending)
    run.requests = await sent_requests(handle)
    return run


async def run_book(sim: Simulation, cases: Sequence[tuple[InvoiceInput, Policy]], approve: bool) -> list[CaseStatus]:
    """Every case on one clock, each to its close or to where it waits for a person."""
    limit = asyncio.Semaphore(BOOK_CONCURRENCY)

    async def start(invoice: InvoiceInput, policy: Policy) -> Handle:
        async with limit:
            return await start_case(sim.env.client, invoice, QUEUE, policy)

    async def read(handle: Handle) -> CaseStatus:
        async with limit:
            return await handle.query(InvoiceDunning.status)

    handles = await asyncio.gather(*(start(invoice, policy) for invoice, policy in cases))
    final: dict[int, CaseStatus] = {}
    while True:
        open_cases = [i for i in range(len(handles)) if i not in final]
        statuses = await asyncio.gather(*(read(handles[i]) for i in open_cases))
        gated = [(i, s.awaiting_approval) for i, s in zip(open_cases, statuses, strict=True) if s.awaiting_approval]
        if approve and gated:
            for index, step in gated:
                await handles[index].signal(InvoiceDunning.escalation_approved, _approval(step))
            await sim.advance_to(await sim.now() + SETTLE)
            continue
        upcoming = []
        for index, status in zip(open_cases, statuses, strict=True):
            if status.outcome is not None or status.next_action is None or held(status):
                final[index] = status
            else:
                upcoming.append(status.next_action.at)
        if not upcoming:
            return [final[i] for i in range(len(handles))]
        await sim.advance_to(min(upcoming) + MARGIN)


def held(status: CaseStatus) -> bool:
    """A legal step that failed, retried every business day with a task open for a person: without
    the person the simulation would skip time for ever."""
    return status.next_action is not None and status.next_action.step in status.open_calls


def waiting_for(status: CaseStatus) -> str:
    if held(status) and status.next_action is not None:
        step = status.next_action.step
        return f"holds on {step}, which failed: retried every business day, a person asked (open task {step})"
    if status.awaiting_approval:
        return f"waits for a person's approval of {status.awaiting_approval} (--approve gives it)"
    if status.stage is Stage.DISPUTED:
        return "waits for the dispute to be resolved (an event DATE:resolved resolves it)"
    return f"waits for a person: open tasks {', '.join(status.open_calls) or 'none'}"


async def sent_requests(handle: Handle) -> dict[str, MessageRequest]:
    """What the case asked its channels to send, read from its history as the worker received it."""
    converter = pydantic_data_converter.payload_converter
    found: dict[str, MessageRequest] = {}
    async for event in handle.fetch_history_events():
        if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            continue
        scheduled = event.activity_task_scheduled_event_attributes
        name = scheduled.activity_type.name
        if name not in SENDING_ACTIVITIES:
            continue
        kind: type[Any] = HandoverRequest if name == ActivityName.HAND_OVER_TO_LITIGATION else MessageRequest
        [argument] = converter.from_payloads(list(scheduled.input.payloads), [kind])
        request = argument.message if isinstance(argument, HandoverRequest) else argument
        found[request.message_id] = request
    return found


async def _observe(handle: Handle, run: CaseRun, woke_at: datetime | None) -> CaseStatus:
    """The case now. Its actions from `woke_at` on (the step or event the clock was moved to) left it
    in its stage of now; those before (a letter's tracking, on timers of its own) did not move it."""
    status = await handle.query(InvoiceDunning.status)
    before = run.stages[-1] if run.stages else status.stage
    for action in status.actions[len(run.stages) :]:
        run.stages.append(before if woke_at is not None and action.at < woke_at else status.stage)
    run.status = status
    return status


async def _apply(sim: Simulation, handle: Handle, run: CaseRun, event: PlannedEvent) -> datetime:
    """Signal the event at its instant; the instant, for what it changes."""
    at = sim.shift.forward_instant(event.at)
    await sim.advance_to(at)
    status = await _observe(handle, run, at)
    signal = sim.shift.model_forward(event.signal(Context.of(status)))
    await handle.signal(event.method, signal)
    await sim.advance_to(await sim.now() + SETTLE)
    return at


async def _approve(sim: Simulation, handle: Handle, step: str) -> None:
    await handle.signal(InvoiceDunning.escalation_approved, _approval(step))
    await sim.advance_to(await sim.now() + SETTLE)


def _approval(step: str) -> EscalationApproved:
    return EscalationApproved(event_id=f"sim-approve-{step}", step=step, by=f"{WHO} --approve")
