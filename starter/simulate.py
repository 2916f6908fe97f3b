"""`dunning simulate`: what a policy would do to an invoice, step by step, before any case runs.

The real InvoiceDunning workflow and the worker's real activities run on a time-skipping test server
(the temporal-test-server binary installed with the package, never downloaded), every channel writing
to a temporary outbox that is deleted after: no message leaves the machine, whatever provider keys
the environment holds. A timeline of a year takes a couple of seconds.
"""

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.table import Table

from domain.ladder import Channel
from domain.models import ActionStatus, CaseStatus, InvoiceInput, Outcome, Stage
from domain.policy import Policy
from domain.policy_file import PolicyError, load_policy
from domain.rates import RatesFileError
from dunning.policy_source import configured_policy
from starter.events import InvoiceCreated, describe_errors
from starter.importer import parse_invoice_csv, parse_invoice_jsonl
from starter.simulation.events import NOTICE_STEP, EventError, PlannedEvent, parse_event
from starter.simulation.runner import CaseRun, run_book, run_case, simulation
from starter.simulation.shift import Clock, ShiftError, plan_clock
from starter.simulation.timeline import Reader, Row
from starter.templates_cli import load_invoice

console = Console()
errors = Console(stderr=True)
# The table shows the start of a long SMS; --json has all of it.
SUMMARY_WIDTH = 48
SENT_HEAD = "sent (to: subject, first words) / detail"
# The amounts a message states, as the table heads them.
AMOUNTS = {"balance": "balance", "penalties": "penalties", "indemnity": "indemnity", "total_claimed": "total"}

InvoiceFile = Annotated[
    Path | None,
    typer.Option("--invoice", exists=True, dir_okay=False, help="one InvoiceInput: JSON, or the first line of JSONL"),
]
BookFile = Annotated[
    Path | None,
    typer.Option("--book", exists=True, dir_okay=False, help="open invoices, JSONL of InvoiceInput (or CSV)"),
]
PolicyFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--policy", exists=True, dir_okay=False, help="policy file (default: DUNNING_POLICY_FILE or packaged)"
    ),
]
Events = Annotated[
    list[str] | None,
    typer.Option(
        "--event",
        help='DATE[THH:MM]:TYPE[:JSON], e.g. 2027-03-20:payment:{"amount":"500.00"}; types: payment, dispute,'
        " resolved, promise, plan, call, approval, segment, cancel, notice (09:30 Paris unless a time is given)",
    ),
]


def simulate(
    invoice: InvoiceFile = None,
    book: BookFile = None,
    policy: PolicyFiles = None,
    event: Events = None,
    approve: Annotated[bool, typer.Option("--approve", help="give the go-ahead to every gated step")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Run an invoice (or a book under each policy) through the real workflow on a time-skipping server.

    With --invoice: the dated timeline of the case, one row per action, with what each message said.
    With --book: per policy, how many messages of each channel, formal notices and hand-overs.
    """
    if (invoice is None) == (book is None):
        raise typer.BadParameter("give --invoice FILE or --book FILE")
    try:
        policies = [load_policy(path) for path in policy or []] or [configured_policy()]
    except PolicyError as error:
        errors.print(str(error), markup=False, highlight=False)
        raise typer.Exit(1) from error
    if book is not None:
        if event:
            raise typer.BadParameter("--event goes with --invoice, not --book")
        _book(_read_book(book), policies, approve, as_json)
        return
    assert invoice is not None
    if len(policies) > 1:
        raise typer.BadParameter("one --policy with --invoice; several go with --book")
    try:
        case = load_invoice(invoice)
        planned = [parse_event(n, spec) for n, spec in enumerate(event or [], start=1)]
    except ValidationError as error:
        errors.print(f"{invoice}: " + "; ".join(describe_errors(error)), markup=False, highlight=False)
        raise typer.Exit(1) from error
    except EventError as error:
        errors.print(str(error), markup=False, highlight=False)
        raise typer.Exit(1) from error
    _timeline(case, policies[0], planned, approve, as_json)


@dataclass(frozen=True)
class Simulated:
    rows: list[Row]
    run: CaseRun
    clock: Clock


async def simulate_invoice(
    invoice: InvoiceInput, policy: Policy, events: list[PlannedEvent], approve: bool
) -> Simulated:
    clock = plan_clock([invoice], [policy], [e.at.date() for e in events], datetime.now(UTC))
    for event in events:
        if clock.shift.forward_instant(event.at) < clock.begin:
            begun = clock.shift.back_instant(clock.begin)
            raise EventError(
                f"--event {event.position}: {event.at:%Y-%m-%d %H:%M} is before the case starts, {begun:%F %R}"
            )
    async with simulation(clock.shift, clock.begin) as sim:
        run = await run_case(sim, clock.shift.model_forward(invoice), policy, events, approve)
        reader = Reader(sim.settings.outbox_dir, clock.shift, sim.settings.creditor, sim.penalties)
        return Simulated(reader.rows(run), run, clock)


def _timeline(invoice: InvoiceInput, policy: Policy, events: list[PlannedEvent], approve: bool, as_json: bool) -> None:
    try:
        result = asyncio.run(simulate_invoice(invoice, policy, events, approve))
    except (EventError, RatesFileError, ShiftError) as error:
        errors.print(str(error), markup=False, highlight=False)
        raise typer.Exit(1) from error
    notes = _notes(result)
    if as_json:
        print(json.dumps([row.as_json() for row in result.rows], indent=2, ensure_ascii=False))
        for note in notes:
            errors.print(note, markup=False, highlight=False)
        return
    console.print(_title(invoice, policy), markup=False, highlight=False)
    console.print(_table(result.rows), soft_wrap=True)
    for note in notes:
        console.print(note, markup=False, highlight=False)


def _table(rows: list[Row]) -> Table:
    """One line per action; on a narrow terminal only the text of what was sent is cut."""
    heads = ["date (Paris)", "step", "channel", "status", SENT_HEAD, *AMOUNTS.values(), "stage after"]
    cells = [
        [
            f"{row.at:%Y-%m-%d %a %H:%M}",
            row.step,
            row.channel,
            row.status,
            f"{row.sent.to}: {row.sent.summary}" if row.sent else row.detail or "",
            *(str(row.amounts.get(key, "")) for key in AMOUNTS),
            row.stage_after,
        ]
        for row in rows
    ]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for index, head in enumerate(heads):
        if head == SENT_HEAD:
            table.add_column(head, no_wrap=True, overflow="ellipsis", max_width=SUMMARY_WIDTH)
            continue
        widest = max([len(head), *(len(line[index]) for line in cells)])
        table.add_column(head, no_wrap=True, min_width=widest, justify="right" if head in AMOUNTS.values() else "left")
    for line in cells:
        table.add_row(*line)
    return table


def _title(invoice: InvoiceInput, policy: Policy) -> str:
    customer = invoice.customer
    return (
        f"{invoice.invoice_id}: {invoice.amount} {invoice.currency} due {invoice.due_on}"
        f" ({customer.kind.value}, {customer.segment.value}), policy {policy.version}"
    )


def _notes(result: Simulated) -> list[str]:
    status, shift = result.run.status, result.clock.shift
    notes = []
    if shift.years:
        notes.append(
            f"The test server's clock starts today: the case ran {shift.years} years later, on a calendar with the"
            " same weekdays and public holidays and the rates of the real semesters; dates shown are the invoice's"
            " (the court a hand-over names is the one of the shifted date)."
        )
    if any(row.detail and "penalties not quantified" in row.detail for row in result.rows):
        notes.append("Penalties were not quantified (no rates for a semester): `dunning rates add` adds them.")
    notice = [m for m in status.messages if m.step == NOTICE_STEP]
    if status.outcome is Outcome.LITIGATION and notice and notice[-1].letter_outcome is None:
        notes.append(
            "The outbox reports a letter posted, never presented: the hand-over ran at its ladder date, not at the"
            " notice's deadline from its presentation. `--event DATE:notice` reports one (as a postal tracker would)."
        )
    if status.outcome is not None:
        notes.append(f"Closed: {status.outcome.value} on {shift.back(status.overdue_until or status.due_on)}.")
    if result.run.waiting:
        notes.append(f"Open: the case {result.run.waiting}.")
    for event in result.run.unapplied:
        notes.append(
            f"--event {event.position} ({event.at:%Y-%m-%d} {event.kind}): not applied, the case stopped before"
        )
    return notes


# ---------------------------------------------------------------------------------------------- book


def _read_book(path: Path) -> list[InvoiceInput]:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    parse = parse_invoice_csv if path.suffix.lower() == ".csv" else parse_invoice_jsonl
    found, problems = [], []
    for line_no, item, messages in parse(lines):
        problems += [f"{path}:{line_no}: {message}" for message in messages]
        if isinstance(item, InvoiceCreated):
            found.append(item.data.to_input())
    if problems or not found:
        for problem in problems or [f"{path}: no invoice in it"]:
            errors.print(problem, markup=False, highlight=False)
        raise typer.Exit(1)
    return found


COUNTED = (Channel.EMAIL, Channel.SMS, Channel.REGISTERED_LETTER, Channel.LETTER)
COUNTED_HEADS = {
    Channel.EMAIL: "e-mails",
    Channel.SMS: "SMS",
    Channel.REGISTERED_LETTER: "registered letters",
    Channel.LETTER: "letters",
}


@dataclass(frozen=True)
class PolicyCount:
    policy: str
    cases: int
    messages: dict[str, int]
    calls: int
    formal_notices: int
    handovers: int
    settled: int
    awaiting_approval: int
    open: int

    def as_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


async def simulate_book(invoices: list[InvoiceInput], policies: list[Policy], approve: bool) -> list[PolicyCount]:
    """Every invoice under every policy, concurrently on one server: the cases of policy k are renamed
    P{k}-{n} with customers P{k}-C{m}, so that no two policies' cases share an id or a customer."""
    clock = plan_clock(invoices, policies, [], datetime.now(UTC))
    cases = [
        (_renamed(clock.shift.model_forward(invoice), k, n, invoices), policy)
        for k, policy in enumerate(policies, start=1)
        for n, invoice in enumerate(invoices, start=1)
    ]
    async with simulation(clock.shift, clock.begin) as sim:
        statuses = await run_book(sim, cases, approve)
    return [
        _count(policy, [s for s, (_, p) in zip(statuses, cases, strict=True) if p is policy]) for policy in policies
    ]


def _renamed(invoice: InvoiceInput, k: int, n: int, book: list[InvoiceInput]) -> InvoiceInput:
    customers = list(dict.fromkeys(i.customer.customer_id for i in book))
    customer = invoice.customer.model_copy(
        update={"customer_id": f"P{k}-C{customers.index(invoice.customer.customer_id) + 1}"}
    )
    return invoice.model_copy(update={"invoice_id": f"P{k}-{n}", "customer": customer})


def _count(policy: Policy, statuses: list[CaseStatus]) -> PolicyCount:
    sent = [m for s in statuses for m in s.messages if m.status in (ActionStatus.SENT, ActionStatus.UNCONFIRMED)]
    by_channel = Counter(m.channel for m in sent)
    notices = {s.name for steps in policy.ladders.values() for s in steps if s.stage is Stage.FORMAL_NOTICE}
    return PolicyCount(
        policy=policy.version,
        cases=len(statuses),
        messages={channel.value: by_channel[channel.value] for channel in COUNTED},
        calls=sum(1 for s in statuses for a in s.actions if a.channel == "call" and a.status is ActionStatus.OPEN),
        formal_notices=sum(1 for m in sent if m.step in notices),
        handovers=sum(1 for s in statuses if s.outcome is Outcome.LITIGATION),
        settled=sum(1 for s in statuses if s.outcome is Outcome.SETTLED),
        awaiting_approval=sum(1 for s in statuses if s.outcome is None and s.awaiting_approval),
        open=sum(1 for s in statuses if s.outcome is None),
    )


def _book(invoices: list[InvoiceInput], policies: list[Policy], approve: bool, as_json: bool) -> None:
    try:
        counts = asyncio.run(simulate_book(invoices, policies, approve))
    except (RatesFileError, ShiftError) as error:
        errors.print(str(error), markup=False, highlight=False)
        raise typer.Exit(1) from error
    if as_json:
        print(json.dumps([c.as_json() for c in counts], indent=2))
        return
    console.print(f"{len(invoices)} invoice(s), each under every policy:", markup=False, highlight=False)
    heads = ["policy", "cases", *COUNTED_HEADS.values(), "call tasks", "formal notices", "hand-overs", "settled"]
    table = Table(*heads, "awaiting approval", "open", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in table.columns:
        column.no_wrap = True
        column.min_width = len(str(column.header))
    table.columns[0].min_width = max(len(c.policy) for c in counts)
    for c in counts:
        table.add_row(
            c.policy,
            str(c.cases),
            *(str(c.messages[channel.value]) for channel in COUNTED),
            str(c.calls),
            str(c.formal_notices),
            str(c.handovers),
            str(c.settled),
            str(c.awaiting_approval),
            str(c.open),
        )
    console.print(table, soft_wrap=True)
