"""`dunning penalties` (what late payment adds to any invoice, or to a running case) and `dunning rates`
(the dated rates, packaged and the operator's own).

Both read the operator's rates file (DUNNING_RATES_FILE, else $DUNNING_VAR_DIR/rates.csv) when they
start, like the worker and the API; `dunning rates add` writes a row to it, used from the next start.
"""

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from temporalio.service import RPCError, RPCStatusCode

from domain.calendar import PARIS, paris_date
from domain.models import CustomerKind, PaymentMade, PenaltyStatement
from domain.penalties import Claim, Imputation, PenaltyPolicy, statement
from domain.rates import PACKAGED_ORIGIN, MissingRate, RatesFileError, make_row
from dunning.client import connect
from dunning.rates import penalty_policy, rate_table, save_row
from dunning.settings import PenaltySettings, TemporalSettings
from starter import cases
from starter.listing import Column, Listing, Output, OutputOption, Value, emit

rates_app = typer.Typer(help="Late-payment rates by semester: list them, add a semester.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def load_policy(imputation: Imputation | None = None) -> PenaltyPolicy:
    """The rates (packaged and the operator's file) and the imputation, or exit naming what is wrong."""
    try:
        settings = PenaltySettings()
        policy = penalty_policy(settings)
    except (RatesFileError, ValueError) as error:
        errors.print(str(error), markup=False, highlight=False)
        raise typer.Exit(1) from error
    return PenaltyPolicy(policy.rates, imputation or policy.imputation)


def _payment(text: str) -> PaymentMade:
    day, sep, amount = text.partition("=")
    try:
        if not sep:
            raise ValueError("expected DATE=AMOUNT")
        payment = PaymentMade(received_on=date.fromisoformat(day), amount=Decimal(amount))
    except (ValueError, InvalidOperation) as error:
        raise typer.BadParameter(f"{text!r}: {error} (e.g. 2025-07-15=4000.00)", param_hint="--payment") from error
    if payment.amount <= 0:
        raise typer.BadParameter(f"{text!r}: the amount must be positive", param_hint="--payment")
    return payment


def penalties(
    invoice_id: Annotated[str | None, typer.Argument(help="a running case's invoice id, or use --amount")] = None,
    amount: Annotated[str | None, typer.Option(help="the invoice amount due, VAT included")] = None,
    due_on: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="the invoice's due date")] = None,
    kind: Annotated[CustomerKind | None, typer.Option(help="business or consumer")] = None,
    payment: Annotated[list[str] | None, typer.Option(help="DATE=AMOUNT, the day the money reached you")] = None,
    notice_on: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="consumer: the day of the formal notice")
    ] = None,
    as_of: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="default: today (Paris)")] = None,
    imputation: Annotated[
        Imputation | None, typer.Option(help="default: DUNNING_IMPUTATION, else interest (Code civil 1343-1)")
    ] = None,
    rate: Annotated[str | None, typer.Option(help="business: the contractual rate, percent a year")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="decimal strings, for other programs")] = False,
) -> None:
    """Late penalties, indemnity and total due of an invoice (`--amount --due-on --kind`) or a case."""
    policy = load_policy(imputation)
    day = as_of.date() if as_of else paris_date(datetime.now(UTC))
    try:
        if invoice_id is not None:
            if any(v is not None for v in (amount, due_on, kind, payment, notice_on, rate)):
                raise typer.BadParameter("give either INVOICE_ID or --amount, --due-on, --kind ..., not both")
            computed = _for_case(invoice_id, policy, day)
        else:
            computed = statement(_claim(amount, due_on, kind, payment or [], notice_on, rate, day), policy)
    except MissingRate as error:
        errors.print(f"not computed: {error}", markup=False, highlight=False)
        raise typer.Exit(1) from error
    if as_json:
        print(json.dumps(computed.model_dump(mode="json"), indent=2))
    else:
        _print(computed)
    for warning in computed.warnings:
        errors.print(f"warning: {warning}", markup=False, highlight=False)


def _claim(
    amount: str | None,
    due_on: datetime | None,
    kind: CustomerKind | None,
    payments: list[str],
    notice_on: datetime | None,
    rate: str | None,
    as_of: date,
) -> Claim:
    if amount is None or due_on is None or kind is None:
        raise typer.BadParameter("without INVOICE_ID, --amount, --due-on and --kind are required")
    if kind is CustomerKind.BUSINESS and notice_on is not None:
        raise typer.BadParameter("business penalties run from the due date: --notice-on is for consumers")
    if kind is CustomerKind.CONSUMER and rate is not None:
        raise typer.BadParameter("a consumer owes the legal interest rate: --rate is for businesses")
    return Claim(
        kind=kind,
        principal=_decimal(amount, "--amount", Decimal(0), Decimal("1e12")),
        due_on=due_on.date(),
        as_of=as_of,
        payments=tuple(_payment(p) for p in payments),
        notice_on=notice_on.date() if notice_on else None,
        rate_percent=_decimal(rate, "--rate", Decimal(0), Decimal(100)) if rate is not None else None,
    )


def _decimal(text: str, option: str, low: Decimal, high: Decimal) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as error:
        raise typer.BadParameter(f"{text!r} is not a number", param_hint=option) from error
    if not (value.is_finite() and low < value <= high):
        raise typer.BadParameter(f"{text} is not above {low} and at most {high}", param_hint=option)
    return value


def _for_case(invoice_id: str, policy: PenaltyPolicy, as_of: date) -> PenaltyStatement:
    async def work() -> PenaltyStatement:
        client = await connect(TemporalSettings())
        return await cases.case_penalties(client, invoice_id, policy, as_of)

    try:
        return asyncio.run(work())
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        errors.print(f"no case for invoice {invoice_id}: check the id, or import the invoice first")
        raise typer.Exit(1) from error


def _print(computed: PenaltyStatement) -> None:
    table = Table("from", "to", "days", "principal", "rate %", "interest", title=f"Penalties on {computed.as_of}")
    for column in table.columns[2:]:
        column.justify = "right"
    for s in computed.segments:
        table.add_row(
            str(s.first_day), str(s.last_day), str(s.days), str(s.principal), str(s.rate_percent), str(s.interest)
        )
    console.print(table)
    summary = Table(show_header=False)
    summary.add_column(justify="left")
    summary.add_column(justify="right")
    for label, value in (
        ("total interest", computed.interest),
        ("of which paid", computed.interest_paid),
        ("indemnity", computed.indemnity),
        ("principal due", computed.principal_due),
        ("total due", computed.total_due),
    ):
        summary.add_row(label, str(value))
    console.print(summary)
    console.print(f"rate: {computed.rate}; imputation: {computed.imputation}", markup=False, highlight=False)
    for source in computed.sources:
        console.print(f"source: {source}", markup=False, highlight=False, soft_wrap=True)


@rates_app.command("list")
def rates_list(output: OutputOption = Output.TABLE) -> None:
    """Every semester's rates, with their source and whether they are packaged or the operator's."""
    policy = load_policy()
    listing = Listing(
        [
            Column("semester", "semester", key=True),
            Column("starts_on", "from", in_table=False),
            Column("mro_percent", "MRO %", justify="right"),
            Column("b2b_default_percent", "B2B default %", justify="right"),
            Column("legal_private_percent", "legal private %", show=_cell, justify="right"),
            Column("legal_other_percent", "legal other %", show=_cell, justify="right"),
            Column("floor_percent", "3 x other %", show=_cell, justify="right"),
            Column("origin", "origin"),
            Column("source", "source", in_table=False),
        ]
    )
    for row in policy.rates.rows:
        listing.add(
            row.label,
            row.starts_on,
            row.ecb_mro,
            row.b2b_default,
            row.legal_private,
            row.legal_other,
            row.floor,
            "packaged" if row.origin == PACKAGED_ORIGIN else "operator",
            row.source,
        )
    emit(listing, output, console)
    if output is Output.TABLE:
        for row in policy.rates.rows:
            console.print(f"{row.label}: {row.source}", markup=False, highlight=False, soft_wrap=True)
    for warning in policy.rates.warnings(paris_date(datetime.now(PARIS))):
        errors.print(f"warning: {warning}", markup=False, highlight=False)


def _cell(value: Value) -> str:
    return "missing" if value is None else str(value)


@rates_app.command("add")
def rates_add(
    semester_start: Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="1 January or 1 July")],
    mro: Annotated[str, typer.Option(help="the ECB main refinancing rate in force that day, percent")],
    source: Annotated[str, typer.Option(help="where the rates come from (URLs, arrêté)")],
    legal_private: Annotated[str | None, typer.Option(help="legal rate, private-person creditor")] = None,
    legal_other: Annotated[str | None, typer.Option(help="legal rate, other cases")] = None,
) -> None:
    """Add (or replace) a semester in the operator's rates file; the B2B default is MRO + 10 points."""
    settings = PenaltySettings()
    try:
        row = make_row(
            semester_start.date(),
            _number(mro, "--mro"),
            _number(legal_private, "--legal-private") if legal_private is not None else None,
            _number(legal_other, "--legal-other") if legal_other is not None else None,
            source,
            str(settings.rates_file),
        )
        rate_table(settings)  # refuse to add to a file that is already malformed
        replaced = save_row(settings, row)
    except (ValueError, RatesFileError) as error:
        errors.print(f"not added: {error}", markup=False, highlight=False)
        raise typer.Exit(1) from error
    verb = "replaced" if replaced else "added"
    console.print(
        f"{row.label} {verb} in {settings.rates_file}: MRO {row.ecb_mro} %, B2B default {row.b2b_default} %,"
        f" legal private {_cell(row.legal_private)}, legal other {_cell(row.legal_other)};"
        " used from the next start of the worker and the API",
        markup=False,
        highlight=False,
    )
    if row.legal_other is None:
        errors.print(f"warning: {row.label} has no legal rates: consumer interest is not computed for it")


def _number(text: str, option: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as error:
        raise ValueError(f"{option}: {text!r} is not a number") from error
