"""The cases whose histories `python -m bench.cost` prices, run as tests/histories/record.py runs its own:
the product's worker on the time-skipping test server, the case started by `start_case` under the
packaged default policy, its messages and signals real.

What production adds around a case is played too, since it is billed as well:
- each e-mail and SMS is reported delivered, as the SendGrid and Twilio webhooks signal it;
- a registered letter is presented two days after posting and its receipt comes back two days
  later (`DeliveredLetters`), so its polls stop when they would with a real provider;
- what the ingress sends (payments from the bank import, a dispute, a promise, a logged call) is
  recorded per case, for the queries the ingress makes about it, which no history shows.

The driver moves the clock itself, one step at a time (the test server skips time only when told),
and waits for the case to be idle before each move: the same case gives the same history every run.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from stdnum.iso7064 import mod_97_10
from temporalio import activity
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.delivery import Receipt
from activities.letters.postal import Letter, OutboxLetters, ProviderTracking
from bench.actions import event_type
from domain.calendar import PARIS, is_business_day, paris_date, send_slot
from domain.ladder import Channel
from domain.models import (
    ActionStatus,
    CallLogged,
    CallOutcome,
    CaseStatus,
    DisputeResolved,
    DunningResult,
    InvoiceInput,
    PaymentReceived,
    PromiseToPay,
)
from domain.policy import Policy
from domain.tracking import MessageEvent, MessageEventKind
from dunning.cases import start_case
from workflows.invoice_dunning import InvoiceDunning

# After a step's send slot: its send is done and recorded (as record.py waits).
SETTLE = timedelta(minutes=30)
# What the ingress sends comes at noon, Paris, after the morning's sends and letter polls; a credit
# controller logs a call task at 15:00 the day it opens.
INGRESS_HOUR = time(12)
CALL_HOUR = time(15)
PRESENTED_AFTER = timedelta(days=2)
RECEIPT_AFTER = timedelta(days=4)
IDLE_TIMEOUT = 120.0  # seconds of real time for a case to finish what its clock gave it
# The longest stretch from a case's first send to its last: the hand-over at J+60, its letter's polls.
SPAN_DAYS = (-15, 65)
PAYMENT_REFERENCE = f"RF{mod_97_10.calc_check_digits('COST2026RF')}COST2026"
REPORTED = (Channel.EMAIL.value, Channel.SMS.value)
CLOSED = frozenset(
    f"WORKFLOW_EXECUTION_{end}"
    for end in ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELED", "TERMINATED", "CONTINUED_AS_NEW")
)


class DeliveredLetters(OutboxLetters):
    """The outbox, which also plays a provider: the letter presented and delivered `PRESENTED_AFTER` its
    posting, the signed receipt back `RECEIPT_AFTER` it; a poll sees only what happened by its own time
    (the test server's clock, which activities read from their schedule)."""

    def send(self, message: Letter) -> Receipt:
        receipt = super().send(message)
        posted = activity.info().current_attempt_scheduled_time
        folder = self._outbox.directory / message.message_id
        statuses = [("delivered", posted + PRESENTED_AFTER), ("proof_available", posted + RECEIPT_AFTER)]
        (folder / "statuses.json").write_text(json.dumps([{"status": s, "at": at.isoformat()} for s, at in statuses]))
        (folder / "receipt-proof.pdf").write_bytes(message.pdf)
        return receipt

    def track(self, provider_message_id: str) -> ProviderTracking:
        tracking = super().track(provider_message_id)
        now = activity.info().current_attempt_scheduled_time
        return ProviderTracking([e for e in tracking.events if e.at <= now], tracking.proof_ref)


@dataclass
class Driven:
    """One case run to its close, and what reached it from outside."""

    name: str
    handle: WorkflowHandle[Any, DunningResult]
    result: DunningResult | None = None
    # Days the ingress signalled the case (each read back by one `status` query at the next bank import).
    ingress_days: set[date] = field(default_factory=set)
    # Calls logged through the ingress: it asks the case (`status`) before signalling one.
    calls_logged: int = 0
    webhook_reports: int = 0

    @property
    def ingress_queries(self) -> int:
        return len(self.ingress_days) + self.calls_logged


class Driver:
    """Moves the clock step by step; logs each call task the afternoon it opens (with the outcome the
    scenario gives its step, else no answer), and reports each e-mail and SMS delivered."""

    def __init__(self, env: WorkflowEnvironment, driven: Driven, calls: dict[str, CallLogged]) -> None:
        self.env = env
        self.case = driven
        self._calls = calls
        self._reported: set[str] = set()
        self._to_log: dict[str, datetime] = {}
        self._logged: set[str] = set()

    async def until(self, instant: datetime | None) -> CaseStatus:
        """Run the case to `instant`, or to its close."""
        while True:
            status = await self._idle()
            if status.outcome is not None:
                return status
            now = await self.env.get_current_time()
            moves = list(self._to_log.values())
            if status.next_action is not None:
                moves.append(status.next_action.at + SETTLE)
            if instant is not None:
                moves.append(instant)
            if not moves:
                raise RuntimeError(f"{self.case.name}: the case waits for nothing the driver sends")
            move = min(moves)
            await self.env.sleep(move - now)
            for step, at in list(self._to_log.items()):
                if at == move:
                    await self._log_call(step)
            if move == instant:
                return await self._idle()

    async def ingress(self, send: Callable[[], Awaitable[None]]) -> None:
        """A signal the ingress sends now (its Dispatcher marks the case to read back)."""
        self.case.ingress_days.add(paris_date(await self.env.get_current_time()))
        await send()

    async def _log_call(self, step: str) -> None:
        del self._to_log[step]
        self._logged.add(step)
        call = self._calls.get(step) or CallLogged(step=step, outcome=CallOutcome.NO_ANSWER)
        call = call.model_copy(update={"event_id": f"call-{self.case.name}-{step}"})
        self.case.calls_logged += 1
        await self.ingress(lambda: self.case.handle.signal(InvoiceDunning.call_logged, call))

    async def _idle(self) -> CaseStatus:
        """The case once nothing is left to run at this instant, its new messages reported delivered."""
        status = await self._wait_idle()
        now = await self.env.get_current_time()
        for step in status.open_calls:
            if step not in self._logged and step not in self._to_log:
                self._to_log[step] = max(at_hour(paris_date(now), CALL_HOUR), now)
        sent = [
            m
            for m in status.messages
            if m.channel in REPORTED and m.status is ActionStatus.SENT and m.message_id not in self._reported
        ]
        for message in sent:
            self._reported.add(message.message_id)
            self.case.webhook_reports += 1
            report = MessageEvent(
                event_id=f"webhook-{message.message_id}",
                message_id=message.message_id,
                channel=Channel(message.channel),
                kind=MessageEventKind.DELIVERED,
                at=message.sent_at + timedelta(minutes=2),
            )
            await self.case.handle.signal(InvoiceDunning.message_event, report)
        return await self._wait_idle() if sent else status

    async def _wait_idle(self) -> CaseStatus:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IDLE_TIMEOUT
        while True:
            history = await self.case.handle.fetch_history()
            if _at_rest(history.events):
                return await self.case.handle.query(InvoiceDunning.status)
            if loop.time() > deadline:
                raise TimeoutError(f"{self.case.name}: still busy after {IDLE_TIMEOUT:.0f} s")
            await asyncio.sleep(0.05)


def _at_rest(events: Sequence[HistoryEvent]) -> bool:
    """No workflow task or activity outstanding: the case waits on a timer or has closed."""
    tasks = activities = 0
    for event in events:
        kind = event_type(event)
        if kind in CLOSED:
            return True
        tasks += kind == "WORKFLOW_TASK_SCHEDULED"
        tasks -= kind in ("WORKFLOW_TASK_COMPLETED", "WORKFLOW_TASK_FAILED", "WORKFLOW_TASK_TIMED_OUT")
        activities += kind == "ACTIVITY_TASK_SCHEDULED"
        activities -= kind in (
            "ACTIVITY_TASK_COMPLETED",
            "ACTIVITY_TASK_FAILED",
            "ACTIVITY_TASK_TIMED_OUT",
            "ACTIVITY_TASK_CANCELED",
        )
    return tasks == 0 and activities == 0


def due_date(policy: Policy, after: date) -> date:
    """The first Wednesday on or after `after` whose whole ladder falls between public holidays: every
    step then lands on the same weekday pattern whatever the year, so a run repeats its figures."""
    hours = policy.send_hours.window
    standard = policy.ladders["standard"]
    due = after + timedelta(days=(2 - after.weekday()) % 7)
    while True:
        span = [due + timedelta(days=d) for d in range(SPAN_DAYS[0], SPAN_DAYS[1] + 1)]
        weekdays_open = all(is_business_day(day) for day in span if day.weekday() < 5)
        slots = {send_slot(due + timedelta(days=s.offset_days), hours) for s in standard}
        if weekdays_open and len(slots) == len(standard):
            return due
        due += timedelta(days=7)


def invoice(name: str, due: date) -> InvoiceInput:
    """A synthetic invoice of the standard segment, with every channel (e-mail, SMS, post)."""
    return InvoiceInput.model_validate(
        {
            "invoice_id": f"COST-{name}",
            "amount": "1200.00",
            "currency": "EUR",
            "issued_on": (due - timedelta(days=30)).isoformat(),
            "due_on": due.isoformat(),
            "payment_reference": PAYMENT_REFERENCE,
            "customer": {
                "customer_id": f"C-COST-{name}",
                "name": f"Client {name}",
                "kind": "business",
                "email": "compta@client.example",
                "phone": "+33612345678",
                "segment": "standard",
                "language": "fr",
                "postal_address": {
                    "lines": ["1 rue de la Paix"],
                    "postcode": "75002",
                    "city": "Paris",
                    "country": "FR",
                },
            },
        }
    )


def at_hour(day: date, hour: time) -> datetime:
    return datetime.combine(day, hour, tzinfo=PARIS).astimezone(UTC)


def _payment(driver: Driver, day: date) -> Callable[[], Awaitable[None]]:
    case = driver.case
    payment = PaymentReceived(
        event_id=f"bank-{case.name}", payment_id=f"P-{case.name}", amount=Decimal("1200.00"), received_on=day
    )
    return lambda: case.handle.signal(InvoiceDunning.payment_received, payment)


async def _paid_on(driver: Driver, day: date) -> None:
    await driver.until(at_hour(day, INGRESS_HOUR))
    await driver.ingress(_payment(driver, day))


async def paid_before_due(driver: Driver, due: date) -> None:
    await _paid_on(driver, due - timedelta(days=3))


async def paid_after_level2(driver: Driver, due: date) -> None:
    await _paid_on(driver, due + timedelta(days=20))


async def litigation(driver: Driver, due: date) -> None:
    """Nothing from the customer: the driver runs the case to its hand-over."""


async def dispute_then_promise(driver: Driver, due: date) -> None:
    # The dispute comes with the level-1 call (J+4, a Sunday, so J+5: `calls` below).
    resolved_day, promise_day, paid_day = (due + timedelta(days=d) for d in (9, 13, 20))
    case = driver.case
    await driver.until(at_hour(resolved_day, INGRESS_HOUR))
    resolution = DisputeResolved(event_id=f"dispute-{case.name}", outcome="rejected")
    await driver.ingress(lambda: case.handle.signal(InvoiceDunning.dispute_resolved, resolution))
    await driver.until(at_hour(promise_day, INGRESS_HOUR))
    promise = PromiseToPay(event_id=f"promise-{case.name}", promised_on=paid_day)
    await driver.ingress(lambda: case.handle.signal(InvoiceDunning.promise_to_pay, promise))
    await _paid_on(driver, paid_day)


@dataclass(frozen=True)
class Scenario:
    title: str
    play: Callable[[Driver, date], Awaitable[None]]
    # The outcome a call task gets when logged; a step not named here: no answer.
    calls: dict[str, CallLogged] = field(default_factory=dict)


REACHED = CallLogged(step="preventive_call", outcome=CallOutcome.REACHED)
SCENARIOS: dict[str, Scenario] = {
    "paid_before_due": Scenario(
        "paid before J+1: the preventive e-mail (J-15) and call (J-7, reached), paid at J-3",
        paid_before_due,
        {"preventive_call": REACHED},
    ),
    "paid_after_level2": Scenario(
        "paid after level 2: reminded up to the registered letter of J+15 (calls: J-7 reached, J+4 no"
        " answer), paid at J+20",
        paid_after_level2,
        {"preventive_call": REACHED},
    ),
    "litigation": Scenario(
        "full litigation: never paid, no call answered, formal notice at J+35, handed over at J+60", litigation
    ),
    "dispute_then_promise": Scenario(
        "a dispute raised on the level-1 call (J+4), rejected at J+9; a promise at J+13 to pay on J+20, kept",
        dispute_then_promise,
        {
            "preventive_call": REACHED,
            "level1_call": CallLogged(step="level1_call", outcome=CallOutcome.DISPUTED, note="goods damaged"),
        },
    ),
}


async def run_case(env: WorkflowEnvironment, queue: str, policy: Policy, name: str) -> Driven:
    """Start the case 30 days before its due date (when its invoice is issued), the next `due_date` a
    month ahead of the test server's clock, and drive it to its close."""
    due = due_date(policy, paris_date(await env.get_current_time()) + timedelta(days=31))
    start = at_hour(due - timedelta(days=30), INGRESS_HOUR)
    await env.sleep(start - await env.get_current_time())
    handle = await start_case(env.client, invoice(name, due), queue, policy)
    driven = Driven(name, handle)
    scenario = SCENARIOS[name]
    driver = Driver(env, driven, scenario.calls)
    await scenario.play(driver, due)
    await driver.until(None)
    driven.result = await handle.result()
    return driven
