"""The demo's sample book (`make demo`): a case at every stage as soon as it is loaded.

Each invoice's due date is computed from now so that its case, started late, runs the step wanted at
once (a late case runs only the latest step due and records the others skipped). The dates are not
guessed: the rules themselves (`CaseState`, quiet hours off as `make demo` starts its cases) are asked
which step a case due on a given day runs now, and the day kept is the one whose step is the one wanted
and whose next step is furthest off, so the book stays as loaded for days. Disputes, a promise, a plan
and the bank's payments then come in as billing and the bank send them.

Litigation is the one stage no case reaches at once: the hand-over waits out the deadline the formal
notice gives (8 days from its earliest presentation). The book's litigation case gets its notice now
and is handed over once that deadline has run, the earliest a case can be.

Everything goes in through the ingress API (`/events`, `/bank-statements`), as in production.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx

from domain.calendar import paris_date
from domain.case import CaseState, RunStep
from domain.delivery import Delivery, DeliveryStatus
from domain.ladder import Channel
from domain.models import ActionStatus, CaseStatus, InvoiceInput, Stage
from domain.policy_file import load_policy

# How long a case should stay at its stage once loaded, when its ladder allows.
HOLD = timedelta(hours=12)
# Between the plan and the cases' first task: a step whose slot falls in it would change the outcome.
MARGIN = timedelta(minutes=30)
# Due dates tried around the one that puts the step wanted on today: later ones by up to a week (another
# step of its stage), earlier ones as far as the widest gap between two steps, and beyond for weekends
# and holidays, which move slots.
_EARLY = 7
_TRIES = 45

_ADDRESSES = {
    "paris": {"lines": ["18 rue des Lilas"], "postcode": "75019", "city": "Paris", "country": "FR"},
    "lyon": {"lines": ["4 quai Perrache"], "postcode": "69002", "city": "Lyon", "country": "FR"},
    "nantes": {"lines": ["27 boulevard Guist'hau"], "postcode": "44000", "city": "Nantes", "country": "FR"},
    "lille": {"lines": ["9 place du Théâtre"], "postcode": "59800", "city": "Lille", "country": "FR"},
}

# The policy the demo's cases follow: the default ladders, sending at any hour (deploy/demo.py).
DEMO_POLICY_FILE = Path(__file__).resolve().parent.parent / "samples" / "policies" / "demo.toml"
DEMO_POLICY = load_policy(DEMO_POLICY_FILE)


def _customer(
    customer_id: str, name: str, segment: str, city: str | None, phone: str | None = None, kind: str = "business"
) -> dict[str, Any]:
    customer: dict[str, Any] = {
        "customer_id": customer_id,
        "name": name,
        "kind": kind,
        "email": f"compta@{customer_id.lower()}.example",
        "segment": segment,
        "language": "fr",
    }
    if city is not None:
        customer["postal_address"] = _ADDRESSES[city]
    if phone is not None:
        customer["phone"] = phone
    return customer


CUSTOMERS = {
    "C-D01": _customer("C-D01", "Boulangerie des Lilas SARL", "standard", "paris", "+33612000001"),
    "C-D02": _customer("C-D02", "Garage du Port", "bad_payer", "nantes", "+33612000002"),
    "C-D03": _customer("C-D03", "Atelier Perrache SAS", "strategic", "lyon"),
    "C-D04": _customer("C-D04", "Fleurs et Jardins EURL", "new", "lille", "+33612000004"),
    "C-D05": _customer("C-D05", "Imprimerie Guist'hau SA", "standard", "nantes", "+33612000005"),
    "P-D06": _customer("P-D06", "Camille Exemple", "standard", None, "+33612000006", kind="consumer"),
}

EventKind = Literal["dispute", "promise", "plan", "partial_payment", "payment"]


@dataclass(frozen=True)
class Entry:
    """One invoice of the book: the step its case runs at once (None: its first step is weeks off),
    and what happens to it next."""

    invoice_id: str
    customer: str
    amount: str
    step: str | None
    event: EventKind | None = None
    # Hand the case over as soon as its ladder allows, instead of holding its stage as long as possible.
    to_litigation: bool = False


BOOK = (
    Entry("F-2026-1101", "C-D01", "1850.00", None),
    Entry("F-2026-1102", "P-D06", "129.90", None),
    Entry("F-2026-1103", "C-D05", "640.00", "preventive_email"),
    Entry("F-2026-1104", "C-D01", "2400.00", "preventive_call"),
    Entry("F-2026-1105", "C-D04", "310.00", "level1_email"),
    Entry("F-2026-1106", "C-D05", "975.50", "level1_call"),
    Entry("F-2026-1107", "C-D01", "1320.00", "level2_sms"),
    Entry("F-2026-1108", "C-D03", "5600.00", "level2_registered_letter", "partial_payment"),
    Entry("F-2026-1109", "C-D04", "445.00", "level3_email"),
    Entry("F-2026-1110", "C-D05", "2080.00", "level3_call"),
    Entry("F-2026-1111", "C-D03", "12400.00", "formal_notice"),
    Entry("F-2026-1112", "C-D02", "3150.00", "formal_notice", to_litigation=True),
    Entry("F-2026-1113", "C-D05", "760.00", "level1_followup_email", "dispute"),
    Entry("F-2026-1114", "C-D01", "1180.00", "level2_email", "promise"),
    Entry("F-2026-1115", "C-D02", "4200.00", "level3_email", "plan"),
    Entry("F-2026-1116", "C-D04", "890.00", "level1_email", "payment"),
)

_PAYMENTS = ("payment", "partial_payment")
_EVENT_STAGE: dict[EventKind, Stage] = {
    "dispute": Stage.DISPUTED,
    "promise": Stage.PROMISED,
    "plan": Stage.INSTALLMENT_PLAN,
    "payment": Stage.SETTLED,
}


@dataclass(frozen=True)
class DemoCase:
    entry: Entry
    invoice: InvoiceInput
    # Once its step has run, before its event; then once its event is in.
    first: Stage
    stage: Stage
    # When the case next changes stage by itself.
    next_change: datetime | None

    @property
    def invoice_id(self) -> str:
        return self.entry.invoice_id


def plan(now: datetime) -> list[DemoCase]:
    return [_plan_case(entry, now) for entry in BOOK]


def _invoice(entry: Entry, due: date) -> InvoiceInput:
    return InvoiceInput.model_validate(
        {
            "invoice_id": entry.invoice_id,
            "amount": entry.amount,
            "currency": "EUR",
            "issued_on": (due - timedelta(days=30)).isoformat(),
            "due_on": due.isoformat(),
            "customer": CUSTOMERS[entry.customer],
        }
    )


@dataclass(frozen=True)
class _Option:
    """What a case of `invoice` started now does: the step it runs, and when it leaves that step's stage
    by itself (None: never, it waits for a person)."""

    invoice: InvoiceInput
    step: str
    stage: Stage
    moves_at: datetime | None


def _plan_case(entry: Entry, now: datetime) -> DemoCase:
    today = paris_date(now)
    if entry.step is None:
        invoice = _invoice(entry, today + timedelta(days=45))
        case = CaseState.open(invoice, DEMO_POLICY)
        return DemoCase(entry, invoice, Stage.SCHEDULED, Stage.SCHEDULED, case.schedule()[0])
    steps = CaseState.open(_invoice(entry, today), DEMO_POLICY).steps
    wanted = next(s for s in steps if s.name == entry.step)
    # The step wanted, or else another of its stage: a slot at 09:00 can leave none of a stage's steps
    # due with the next one far enough (Monday 08:55: every late step's next one is at 09:00).
    options = [
        option
        for late in range(-_EARLY, _TRIES)
        if (option := _first_step(_invoice(entry, today - timedelta(days=wanted.offset_days + late)), now))
        and option.stage is wanted.stage
        and (option.moves_at is None or option.moves_at > now + MARGIN)
    ]
    if entry.to_litigation:
        handed_over = [o for o in options if o.moves_at is not None]
        chosen = min(handed_over, key=lambda o: o.moves_at or now) if handed_over else None
    else:
        chosen = max(options, key=lambda o: _hold_key(o, wanted.name, now))
    if chosen is None:
        raise ValueError(f"{entry.invoice_id}: no due date puts its case at {wanted.stage.value} now")
    # A dispute, a promise, a plan or a full payment holds the case at its own stage.
    held = _EVENT_STAGE.get(entry.event) if entry.event else None
    return DemoCase(entry, chosen.invoice, wanted.stage, held or wanted.stage, None if held else chosen.moves_at)


def _hold_key(option: _Option, wanted: str, now: datetime) -> tuple[bool, bool, datetime]:
    """Holding the stage for a while first, then the step wanted, then holding it longest."""
    moves_at = option.moves_at or datetime.max.replace(tzinfo=UTC)
    return moves_at > now + HOLD, option.step == wanted, moves_at


def _first_step(invoice: InvoiceInput, now: datetime) -> _Option | None:
    case = CaseState.open(invoice, DEMO_POLICY)
    case.on_clock(now)
    decision = case.decide(now)
    if not isinstance(decision, RunStep):
        return None
    case.begin_step(now, decision)
    step = case.steps[decision.index]
    channel, _ = case.route(decision.index)
    if channel is not None and channel is not Channel.CALL:
        # Recorded as sent, as the outbox answers: what follows a formal notice depends on it.
        message = case.message(now, step.name, channel, invoice.workflow_id)
        delivery = Delivery(
            message_id=message.message_id,
            status=DeliveryStatus.SENT,
            provider="outbox",
            provider_message_id=message.message_id,
            accepted_at=now,
        )
        case.record_sent(now, message, channel, ActionStatus.SENT, delivery)
    case.complete_step(
        now, decision.index, ActionStatus.OPEN if step.channel is Channel.CALL else ActionStatus.SENT, None
    )
    later = [at for i, at in case.schedule().items() if case.steps[i].stage is not step.stage]
    return _Option(invoice, step.name, step.stage, min(later, default=None))


# ------------------------------------------------------------------------------------ the ingress


def invoice_events(book: Sequence[DemoCase]) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"demo-{c.invoice_id}-created",
            "type": "invoice.created",
            "data": c.invoice.model_dump(mode="json"),
        }
        for c in book
    ]


def billing_events(book: Sequence[DemoCase], today: date) -> list[dict[str, Any]]:
    """Disputes, promises and plans, as billing pushes them once the cases have taken their step."""
    events = []
    for case in book:
        data: dict[str, Any] = {"invoice_id": case.invoice_id}
        if case.entry.event == "dispute":
            kind, data["reason"] = "dispute.opened", "quantité livrée inférieure à la commande"
        elif case.entry.event == "promise":
            kind, data["promised_on"] = "promise_to_pay.recorded", (today + timedelta(days=10)).isoformat()
        elif case.entry.event == "plan":
            kind, data["installments"] = "installment_plan.agreed", _installments(case.invoice.amount, today)
        else:
            continue
        events.append({"event_id": f"demo-{case.invoice_id}-{case.entry.event}", "type": kind, "data": data})
    return events


def _installments(amount: Decimal, today: date) -> list[dict[str, str]]:
    third = (amount / 3).quantize(Decimal("0.01"))
    amounts = [third, third, amount - 2 * third]
    return [
        {"due_on": (today + timedelta(days=7 + 30 * n)).isoformat(), "amount": str(a)} for n, a in enumerate(amounts)
    ]


def bank_file(book: Sequence[DemoCase], today: date) -> str:
    """The morning's CSV bank file: the payments the bank reports, matched by the invoice number."""
    rows = ["date,amount,reference,payer,bank_ref"]
    for n, case in enumerate(book):
        if case.entry.event not in _PAYMENTS:
            continue
        amount = case.invoice.amount if case.entry.event == "payment" else (case.invoice.amount * Decimal("0.4"))
        payer = case.invoice.customer.name
        rows.append(f"{today.isoformat()},{amount:.2f},VIR FACT {case.invoice_id},{payer},DEMO-{today:%y%m%d}-{n:02d}")
    return "\n".join(rows) + "\n"


async def load(api: httpx.AsyncClient, book: Sequence[DemoCase], today: date, wait_seconds: float = 120) -> None:
    """Start the cases, wait for their first step, then send billing's events and the bank file."""
    _check(await api.post("/events", json=invoice_events(book)))
    await wait_for(api, {c.invoice_id: c.first for c in book}, wait_seconds)
    events = billing_events(book, today)
    if events:
        _check(await api.post("/events", json=events))
    if any(c.entry.event in _PAYMENTS for c in book):
        _check(
            await api.post(
                "/bank-statements",
                params={"filename": "demo-bank.csv"},
                content=bank_file(book, today).encode(),
                headers={"Content-Type": "text/csv"},
            )
        )
    await wait_for(api, {c.invoice_id: c.stage for c in book}, wait_seconds)


def _check(response: httpx.Response) -> None:
    if response.is_error:
        raise RuntimeError(f"the ingress API answered {response.status_code} to {response.url.path}: {response.text}")


async def wait_for(api: httpx.AsyncClient, stages: dict[str, Stage], seconds: float) -> dict[str, CaseStatus]:
    """Each case's status once every one is at its stage, polled (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        statuses = {}
        for invoice_id in stages:
            response = await api.get(f"/cases/{invoice_id}")
            if response.status_code == httpx.codes.OK:
                statuses[invoice_id] = CaseStatus.model_validate_json(response.content)
        behind = {i: s for i, s in stages.items() if i not in statuses or statuses[i].stage is not s}
        if not behind:
            return statuses
        if loop.time() > deadline:
            shown = ", ".join(
                f"{i} at {statuses[i].stage.value if i in statuses else 'no status'} (not {s.value})"
                for i, s in behind.items()
            )
            raise RuntimeError(f"after {seconds:.0f}s some cases are not at their stage yet: {shown}")
        await asyncio.sleep(0.5)
