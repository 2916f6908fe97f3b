"""`dunning report`: the aging report of the whole book, as tables, CSV, the JSON of GET /reports/aging, or
a PNG chart (starter/aging_chart.py)."""

import asyncio
import csv
import sys
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dunning.client import connect
from starter.aging import AgingReport, BookReport
from starter.api import IngressSettings
from starter.reports import book_report


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PNG = "png"


def report(
    as_of: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="the day ages are counted on; default today (Paris)")
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="table, csv, json or png")] = Format.TABLE,
    out: Annotated[
        Path | None, typer.Option(dir_okay=False, help="png: the file to write; default aging-AS_OF.png")
    ] = None,
) -> None:
    """Open amounts by stage and age, DSO, recovery rate and days to pay per reminder step, litigation."""
    if out is not None and output is not Format.PNG:
        raise typer.BadParameter("only with --format png", param_hint="--out")

    async def work() -> AgingReport:
        return await book_report(await connect(IngressSettings().temporal), as_of.date() if as_of else None)

    aging = asyncio.run(work())
    if output is Format.PNG:
        from starter.aging_chart import write_png  # matplotlib: only this format pays its import

        path = out or Path(f"aging-{aging.as_of}.png")
        write_png(aging, path)
        typer.echo(f"aging chart written to {path}")
    elif output is Format.JSON:
        sys.stdout.write(aging.model_dump_json(indent=2) + "\n")
    elif output is Format.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["currency", "section", "key", "value"])
        writer.writerows(csv_rows(aging))
    else:
        console = Console()
        console.print(f"Book as of {aging.as_of}")
        for book in aging.books:
            for table in _tables(book):
                console.print(table)


def csv_rows(aging: AgingReport) -> Iterator[list[str]]:
    """One figure a row (currency, section, key, value): easy to pivot in a spreadsheet."""
    for book in aging.books:
        c = book.currency
        yield from (
            [c, "book", key, str(value)]
            for key, value in (
                ("cases", book.cases),
                ("outstanding_cases", book.outstanding_cases),
                ("outstanding", book.outstanding),
                ("dso_days", "" if book.dso_days is None else book.dso_days),
                ("in_litigation", book.in_litigation),
                ("litigation_cases", book.litigation_cases),
            )
        )
        yield from ([c, "stage", stage, str(amount)] for stage, amount in book.by_stage.items())
        yield from ([c, "age", bucket, str(amount)] for bucket, amount in book.by_age.items())
        for step in book.steps:
            for key in ("sent", "recovered", "recovered_amount", "recovery_rate", "average_days_to_pay"):
                value = getattr(step, key)
                yield [c, f"step:{step.step}", key, "" if value is None else str(value)]


def _tables(book: BookReport) -> list[Table]:
    head = Table(show_header=False, title=f"Book in {book.currency}")
    head.add_row("cases", str(book.cases))
    head.add_row("outstanding", f"{book.outstanding} ({book.outstanding_cases} cases)")
    head.add_row("DSO", f"{book.dso_days} days" if book.dso_days is not None else "no invoice due in the window")
    head.add_row("in litigation", f"{book.in_litigation} ({book.litigation_cases} cases)")
    stages = Table("stage", "outstanding", title="By stage")
    for stage, amount in book.by_stage.items():
        stages.add_row(stage, str(amount))
    ages = Table("days overdue", "outstanding", title="By age")
    for bucket, amount in book.by_age.items():
        ages.add_row(bucket.replace("_", " "), str(amount))
    steps = Table("step", "sent", "paid after it", "amount", "recovery rate", "avg days to pay", title="By step")
    for s in book.steps:
        rate = f"{s.recovery_rate * 100:.1f} %" if s.recovery_rate is not None else ""
        days = str(s.average_days_to_pay) if s.average_days_to_pay is not None else ""
        steps.add_row(s.step, str(s.sent), str(s.recovered), str(s.recovered_amount), rate, days)
    return [head, stages, ages, steps]
