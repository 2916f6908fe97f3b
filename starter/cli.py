"""`dunning`: the ingress CLI (billing events, invoices, bank files, cases, the HTTP API).

Settings come from the environment (`dunning.settings`, all checked before any command runs):
TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / DUNNING_TASK_QUEUE, DUNNING_VAR_DIR for the local stores,
DUNNING_API_TOKEN for `dunning serve`.
Exit codes: 0 done, 1 input rejected or partly failed, 2 usage error.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.service import RPCError, RPCStatusCode

from domain.calendar import PARIS
from domain.calls import script_for
from domain.models import CallOutcome, CaseStatus, NextAction, NonPaymentReason, Stage
from dunning.client import connect
from dunning.codec import CodecKeyError
from dunning.logs import configure_logging
from dunning.settings import Settings, SettingsError
from starter import cases, penalties_cli, purge_cli, report_cli
from starter.api import IngressSettings, create_app
from starter.bank import BankFileRejected, Journal, ReconciliationReport
from starter.call_log import CallLog, log_call
from starter.dispatch import Dispatcher, Handled
from starter.events import describe_errors
from starter.importer import (
    DEFAULT_CONCURRENCY,
    ImportSummary,
    Item,
    import_items,
    parse_event_lines,
    parse_invoice_csv,
    parse_invoice_jsonl,
)
from starter.listing import Column, Listing, Output, OutputOption, emit
from starter.reconcile import AlreadySettled, assign_line, import_bank_file, journal_path
from starter.store import IngressStore
from starter.templates_cli import templates_app

app = typer.Typer(help="Invoice dunning: ingress of billing events and bank statements.", no_args_is_help=True)
events_app = typer.Typer(help="Billing events.", no_args_is_help=True)
invoices_app = typer.Typer(help="Open invoices exported by billing.", no_args_is_help=True)
bank_app = typer.Typer(help="Bank statements and the unmatched queue.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(invoices_app, name="invoices")
app.add_typer(bank_app, name="bank")
calls_app = typer.Typer(help="Call tasks: the work waiting for a person.")
app.add_typer(calls_app, name="calls")
app.add_typer(templates_app, name="templates")
app.command("penalties")(penalties_cli.penalties)
app.add_typer(penalties_cli.rates_app, name="rates")
app.command("report")(report_cli.report)
app.add_typer(purge_cli.purge_app, name="purge")

console = Console()
errors = Console(stderr=True)
_T = TypeVar("_T")


@app.callback()
def _settings_first() -> None:
    # Each command reads its own section; a bad value anywhere stops every command, naming it.
    try:
        Settings.load()
    except SettingsError as error:
        errors.print(f"not started: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from error


Concurrency = Annotated[int, typer.Option(min=1, max=256, help="cases started or signalled in parallel")]
ExistingFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


@asynccontextmanager
async def _dispatcher() -> AsyncIterator[Dispatcher]:
    settings = IngressSettings()
    client = await connect(settings.temporal)
    with IngressStore.in_dir(settings.var_dir) as store:
        yield Dispatcher(client, store, settings.temporal.task_queue, settings.policy)


def _run(work: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(work)
    except CodecKeyError as error:
        errors.print(str(error), markup=False)
        raise typer.Exit(2) from error
    except RuntimeError as error:
        if "Failed client connect" in str(error):
            errors.print(f"[red]cannot reach Temporal ({IngressSettings().temporal.address}): {error}[/]")
            errors.print("Start it with `make run` or set TEMPORAL_ADDRESS.")
            raise typer.Exit(1) from error
        raise


# ------------------------------------------------------------------------------------------ imports


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8-sig") as handle:
        yield from handle


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _import(make_items: Callable[[], Iterable[Item]], total: int, concurrency: int, strict: bool) -> None:
    async def work() -> ImportSummary:
        async with _dispatcher() as dispatcher:
            with Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=errors,
            ) as bar:
                task = bar.add_task("importing", total=total)
                return await import_items(
                    make_items,
                    dispatcher,
                    concurrency=concurrency,
                    strict=strict,
                    progress=lambda n: bar.advance(task, n),
                )

    summary = _run(work())
    table = Table(title="Import summary")
    columns = ("started", "signalled", "duplicates", "pending", "closed", "ignored", "rejected", "failed")
    for name in columns:
        table.add_column(name, justify="right")
    table.add_row(*(str(getattr(summary, name)) for name in columns))
    console.print(table)
    for message in summary.errors:
        errors.print(message, markup=False, highlight=False)
    if strict and summary.rejected:
        errors.print("[red]--strict: nothing applied; fix the lines above and import again[/]")
    if summary.rejected or summary.failed:
        raise typer.Exit(1)


@events_app.command("import")
def events_import(
    file: ExistingFile,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
    strict: Annotated[bool, typer.Option(help="apply nothing if any line is invalid")] = False,
) -> None:
    """Apply a JSONL file of billing events (see starter/events.py for the envelope).

    Invalid lines are reported (`line N: field: message`) and skipped unless --strict.
    """
    _import(lambda: parse_event_lines(_lines(file)), _count_lines(file), concurrency, strict)


@events_app.command("held")
def events_held(output: OutputOption = Output.TABLE) -> None:
    """Events waiting for their invoice (pending) or refused by a closed case (closed)."""
    listing = Listing(
        [
            Column("kept_as", "kept as"),
            Column("invoice_id", "invoice", key=True),
            Column("event_id", "event", key=True),
            Column("signal", "signal"),
            Column("since", "since (Paris)"),
            Column("reason", "reason"),
        ]
    )
    with IngressStore.in_dir(IngressSettings().var_dir) as store:
        for pending in store.all_pending():
            listing.add(
                "pending",
                pending.invoice_id,
                pending.event_id,
                pending.signal_name,
                datetime.fromisoformat(pending.received_at),
                "no case yet: applied when its invoice.created arrives",
            )
        for closed in store.closed_events():
            listing.add(
                "closed",
                closed.invoice_id,
                closed.event_id,
                closed.name,
                datetime.fromisoformat(closed.received_at),
                closed.reason,
            )
    emit(listing, output, console)


def _paris(instant: datetime) -> str:
    return f"{instant.astimezone(PARIS):%Y-%m-%d %H:%M}"


@invoices_app.command("import")
def invoices_import(
    file: ExistingFile,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
    strict: Annotated[bool, typer.Option(help="apply nothing if any row is invalid")] = False,
) -> None:
    """Start a case per open invoice of a CSV export (or JSONL of InvoiceInput, by extension .jsonl).

    CSV columns: invoice_id, amount, currency, issued_on, due_on, payment_reference, customer_id,
    customer_name, kind, email, phone, segment, language, address_line, postcode, city, country
    (mapping in starter/importer.py). Event ids are `csv:<invoice_id>`: importing twice changes nothing.
    """
    parse = parse_invoice_jsonl if file.suffix.lower() in (".jsonl", ".ndjson") else parse_invoice_csv
    header = 0 if parse is parse_invoice_jsonl else 1
    _import(lambda: parse(_lines(file)), _count_lines(file) - header, concurrency, strict)


@bank_app.command("import")
def bank_import(
    file: ExistingFile,
    partial: Annotated[bool, typer.Option(help="import the valid entries of a file with errors")] = False,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
) -> None:
    """Reconcile a camt.052/053/054 (XML) or CSV (date,amount,reference,payer) bank file."""
    settings = IngressSettings()

    async def work() -> None:
        async with _dispatcher() as dispatcher:
            with Journal(journal_path(settings.var_dir)) as journal:
                result = await import_bank_file(
                    file.read_bytes(),
                    file.name,
                    dispatcher=dispatcher,
                    journal=journal,
                    partial=partial,
                    concurrency=concurrency,
                )
        console.print(_report_table(result.report, title=f"Reconciliation of {file.name}"))
        for item in result.plan.unmatched:
            console.print(f"unmatched {item.line.payment_id}: {item.line.amount} {item.line.currency}: {item.reason}")
        if result.delivered.get("closed"):
            errors.print(
                f"[yellow]{result.delivered['closed']} payment(s) for closed cases: see `dunning events held`[/]"
            )
        for error in result.errors:
            errors.print(f"skipped: {error}", markup=False)

    try:
        _run(work())
    except BankFileRejected as rejected:
        errors.print(str(rejected), markup=False, highlight=False)
        errors.print(rejected.advice, markup=False, highlight=False)
        raise typer.Exit(1) from rejected


@bank_app.command("unmatched")
def bank_unmatched(output: OutputOption = Output.TABLE) -> None:
    """The bank lines no rule could place, with their line ids for `dunning bank assign`."""
    listing = Listing(
        [
            Column("line_id", "line id", key=True),
            Column("booked", "booked"),
            Column("amount", "amount", justify="right"),
            Column("currency", "cur."),
            Column("payer", "payer"),
            Column("text", "text"),
            Column("reason", "reason"),
        ]
    )
    with Journal(journal_path(IngressSettings().var_dir)) as journal:
        for item in journal.unmatched():
            line = item.line
            listing.add(
                line.payment_id,
                line.booking_date,
                line.amount,
                line.currency,
                line.payer_name,
                line.structured_reference or line.remittance_text,
                item.reason,
            )
    emit(listing, output, console)
    if output is Output.TABLE:
        for line_id, *_ in listing.rows:
            console.print(f"dunning bank assign -- {line_id} INVOICE_ID", soft_wrap=True, highlight=False)


@bank_app.command("assign")
def bank_assign(
    line_id: str,
    invoice_id: str,
    force: Annotated[bool, typer.Option(help="apply even if the case is already settled or overpaid")] = False,
) -> None:
    """Put an unmatched bank line on an invoice (its whole amount) and signal the case.

    Line ids are listed by `dunning bank unmatched`; one starting with `-` (a CSV line without account
    IBAN) needs `--` first: `dunning bank assign -- -/K-3 F-2026-0042`.
    """
    settings = IngressSettings()

    async def work() -> None:
        async with _dispatcher() as dispatcher:
            with Journal(journal_path(settings.var_dir)) as journal:
                done = await assign_line(line_id, invoice_id, dispatcher=dispatcher, journal=journal, force=force)
        allocation, after = done.allocation, done.balance_after
        currency = allocation.currency
        console.print(
            f"{allocation.amount} {currency} put on {allocation.invoice_id}: {allocation.outcome};"
            f" balance {done.balance_before} -> {after} {currency}",
            markup=False,
            highlight=False,
        )
        if after < 0:
            errors.print(
                f"{allocation.invoice_id} is overpaid by {-after} {currency}: refund it or carry it over by hand",
                markup=False,
                highlight=False,
            )

    try:
        _run(work())
    except AlreadySettled as error:
        errors.print(f"{error} Add --force to apply it anyway.", markup=False, highlight=False)
        raise typer.Exit(1) from error
    except (KeyError, ValueError) as error:
        errors.print(str(error.args[0]), markup=False)
        raise typer.Exit(1) from error


# --------------------------------------------------------------------------------------- read side


@app.command("status")
def status(invoice_id: str) -> None:
    """One case: stage, amounts, next action and history."""

    async def work() -> None:
        client = await connect(IngressSettings().temporal)
        case = await cases.case_status(client, invoice_id, policy=penalties_cli.load_policy())
        head = Table(show_header=False, title=f"Invoice {case.invoice_id}")
        for label, value in (
            ("customer", case.customer_id),
            ("stage", case.stage.value),
            ("amount", f"{case.amount} {case.currency}"),
            ("paid", str(case.paid)),
            ("credited", str(case.credited)),
            ("balance", str(case.balance)),
            ("due on", f"{case.due_on} ({case.days_overdue} days overdue)"),
            (
                "next action",
                f"{case.next_action.step} at {_paris(case.next_action.at)} Paris" if case.next_action else "none",
            ),
            ("open calls", ", ".join(case.open_calls) or "none"),
            ("outcome", case.outcome.value if case.outcome else "open"),
            ("contact", case.contact or "none noted"),
            ("time-barred on", str(case.limitation_on) if case.limitation_on else "unknown"),
            ("unusable", ", ".join(case.unusable_channels) or "none"),
            ("penalties", _penalties_line(case)),
        ):
            head.add_row(label, value)
        if case.sending is not None:
            # The provider is failing and being retried: an outage is visible here, not only in the UI.
            head.add_row("sending", f"{case.sending.step} since {_paris(case.sending.at)} Paris (retrying)")
        console.print(head)
        messages = Table(
            "sent (Paris)", "step", "channel", "provider id", "delivery", "proofs", "sha256", title="Messages"
        )
        for m in case.messages:
            delivery = m.letter_outcome.value if m.letter_outcome else (m.delivery or m.status.value)
            messages.add_row(
                _paris(m.sent_at),
                m.step,
                m.channel,
                m.provider_message_id or "",
                delivery,
                ", ".join(p.kind.value for p in m.proofs),
                (m.content_sha256 or "")[:12],
            )
        console.print(messages)
        actions = Table("at (Paris)", "step", "channel", "status", "detail", title="Actions")
        for action in case.actions:
            actions.add_row(_paris(action.at), action.step, action.channel, action.status.value, action.detail or "")
        console.print(actions)

    try:
        _run(work())
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        errors.print(f"no case for invoice {invoice_id}: check the id, or import the invoice first")
        raise typer.Exit(1) from error
    except ValueError as error:
        errors.print(str(error), markup=False)
        raise typer.Exit(2) from error


def _penalties_line(case: CaseStatus) -> str:
    p = case.penalties
    if p is None:
        return f"not computed: {case.penalties_unavailable}"
    return f"{p.interest} + indemnity {p.indemnity}, total due {p.total_due} (`dunning penalties {case.invoice_id}`)"


@app.command("cases")
def list_cases_command(
    stage: Annotated[Stage | None, typer.Option(help="e.g. formal_notice")] = None,
    customer_id: Annotated[str | None, typer.Option("--customer-id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = cases.DEFAULT_LIMIT,
    output: OutputOption = Output.TABLE,
) -> None:
    """Cases by stage and customer (Temporal visibility: lags a second or so)."""

    async def work() -> tuple[list[cases.CaseRow], dict[str, NextAction]]:
        client = await connect(IngressSettings().temporal)
        rows = await cases.list_cases(
            client, stage=stage.value if stage else None, customer_id=customer_id, limit=limit
        )
        return rows, await cases.next_actions(client, rows)

    try:
        rows, next_actions = _run(work())
    except ValueError as error:
        errors.print(str(error), markup=False)
        raise typer.Exit(2) from error
    listing = Listing(
        [
            Column("invoice_id", "invoice", key=True),
            Column("stage", "stage"),
            Column("customer_id", "customer"),
            Column("amount_due", "amount due", justify="right"),
            Column("due_date", "due"),
            Column("next_step", "next action"),
            Column("next_action_at", "at (Paris)"),
            Column("open_calls", "open calls"),
        ],
        title="Cases",
    )
    for row in rows:
        known = next_actions.get(row.invoice_id)
        listing.add(
            row.invoice_id,
            row.stage,
            row.customer_id,
            # A search attribute is a float: back to the cents it was published from.
            Decimal(f"{row.amount_due:.2f}") if row.amount_due is not None else None,
            row.due_date.date() if row.due_date else None,
            known.step if known else None,
            # A case that did not answer: when, from visibility, without the step.
            known.at if known else row.next_action_at,
            row.open_calls,
        )
    emit(listing, output, console)


@calls_app.callback(invoke_without_command=True)
def list_calls_command(
    ctx: typer.Context,
    scripts: Annotated[bool, typer.Option("--scripts", help="print what to ask on each call")] = False,
    output: OutputOption = Output.TABLE,
) -> None:
    """Open call tasks waiting for a person; `dunning calls log` closes one."""
    if ctx.invoked_subcommand is not None:
        return

    async def work() -> list[cases.CallRow]:
        return await cases.list_calls(await connect(IngressSettings().temporal))

    rows = _run(work())
    listing = Listing(
        [
            Column("invoice_id", "invoice", key=True),
            Column("customer_id", "customer"),
            Column("step", "call"),
            Column("stage", "stage"),
            Column("script", "script", in_table=False),
        ],
        title="Open calls",
    )
    for row in rows:
        listing.add(row.invoice_id, row.customer_id, row.step, row.stage, row.script)
    emit(listing, output, console)
    for step in sorted({row.step for row in rows}) if scripts and output is Output.TABLE else []:
        console.print(f"[bold]{step}[/]")
        for line in script_for(step):
            console.print(f"  - {line}", markup=False)


@calls_app.command("log")
def log_call_command(
    step: str,
    invoice_id: str,
    outcome: Annotated[CallOutcome, typer.Option(help="what the call gave")],
    note: Annotated[str | None, typer.Option()] = None,
    promised_on: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="with --outcome promised: the date promised")
    ] = None,
    promised_amount: Annotated[str | None, typer.Option(help="with --promised-on: the amount promised")] = None,
    reason: Annotated[NonPaymentReason | None, typer.Option(help="why it is unpaid")] = None,
    contact: Annotated[str | None, typer.Option(help="the right person to talk to, if new")] = None,
) -> None:
    """Log a call made for STEP of INVOICE_ID and close its task (a promise date records a promise)."""
    try:
        log = CallLog(
            outcome=outcome,
            note=note,
            promised_on=promised_on.date() if promised_on else None,
            promised_amount=Decimal(promised_amount) if promised_amount else None,
            reason=reason,
            contact=contact,
        )
    except (ValidationError, ArithmeticError) as error:
        errors.print(f"call not logged: {error}", markup=False)
        raise typer.Exit(1) from error

    async def work() -> tuple[str, Handled]:
        async with _dispatcher() as dispatcher:
            return await log_call(dispatcher, invoice_id, step, log)

    try:
        event_id, handled = _run(work())
    except ValidationError as error:
        errors.print("call not logged: " + "; ".join(describe_errors(error)), markup=False)
        raise typer.Exit(1) from error
    why = f": {handled.detail}" if handled.detail else ""
    console.print(f"{step} on {invoice_id}: {handled.applied.value}{why} (event {event_id})", markup=False)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Serve the HTTP API (docs at /docs); requires DUNNING_API_TOKEN."""
    import uvicorn  # only this command needs the server

    try:
        api = create_app(IngressSettings())
    except ValueError as error:
        errors.print(str(error), markup=False)
        raise typer.Exit(2) from error
    configure_logging()
    # Ours, not uvicorn's; no access log: request paths carry invoice numbers.
    uvicorn.run(api, host=host, port=port, log_config=None, access_log=False)


def _report_table(report: ReconciliationReport, title: str) -> Table:
    table = Table("outcome", "lines", "total", title=title)
    for name in ("paid", "partially_paid", "overpaid", "reversed", "unmatched", "ignored", "duplicates"):
        tally = getattr(report, name)
        totals = ", ".join(f"{amount} {currency}" for currency, amount in sorted(tally.total.items()))
        table.add_row(name.replace("_", " "), str(tally.count), totals)
        if name == "overpaid" and report.excess:
            table.add_row("  of which excess", "", ", ".join(f"{a} {c}" for c, a in sorted(report.excess.items())))
    if report.id_collisions:
        table.add_row("id collisions to check", str(report.id_collisions), "")
    return table
