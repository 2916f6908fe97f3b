"""The CLI's listings (`dunning cases`, `calls`, `bank unmatched`, `events held`, `rates list`,
`templates list`) rendered one way: `--output table` for a person, `json` or `csv` for scripts.

- table: the key columns (the ids a person copies into the next command) are shown whole on any
  terminal width, never cut nor wrapped; the other columns wrap to make room;
- json: a list of objects named by the columns' `field`s, the same whatever the terminal; amounts are
  decimal strings ("1200.00"), days and instants ISO 8601 (instants with their UTC offset), absent values
  null, lists (open calls, a call's script) JSON arrays;
- csv: a header of the same fields, then one line a row; absent values are empty, list items are joined
  with `LIST_SEPARATOR`.
"""

import csv
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from domain.calendar import PARIS

Value = str | int | Decimal | date | datetime | list[str] | None
JsonValue = str | int | list[str] | None
LIST_SEPARATOR = ";"


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


OutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="table for a person; json or csv (with a header) for scripts")
]


def text(value: Value) -> str:
    """How a value reads in a table: instants in Paris time to the minute."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value.astimezone(PARIS):%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


@dataclass(frozen=True)
class Column:
    field: str  # the name in JSON and the CSV header: scripts rely on it, keep it stable
    header: str  # what a person reads on top of the table
    key: bool = False  # an id of the row: shown whole, never cut
    show: Callable[[Value], str] = text
    justify: Literal["left", "right"] = "left"
    in_table: bool = True  # False: in JSON and CSV only (a call's script would swamp the table)


@dataclass
class Listing:
    columns: Sequence[Column]
    title: str | None = None
    rows: list[tuple[Value, ...]] = field(default_factory=list)

    def add(self, *values: Value) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"a row of {len(values)} values for {len(self.columns)} columns")
        self.rows.append(values)


def json_value(value: Value) -> JsonValue:
    if value is None or isinstance(value, int | str | list):
        return value
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    return str(value)  # Decimal: its exact digits, never a float


def csv_cell(value: Value) -> str:
    encoded = json_value(value)
    if encoded is None:
        return ""
    if isinstance(encoded, list):
        return LIST_SEPARATOR.join(encoded)
    return str(encoded)


def records(listing: Listing) -> list[dict[str, JsonValue]]:
    names = [column.field for column in listing.columns]
    return [dict(zip(names, (json_value(v) for v in row), strict=True)) for row in listing.rows]


def table(listing: Listing) -> Table:
    shown = [(i, c) for i, c in enumerate(listing.columns) if c.in_table]
    result = Table(title=listing.title)
    for index, column in shown:
        if column.key:
            # Wide enough for its longest id, and not among the columns rich narrows to fit the terminal.
            widest = max((len(column.show(row[index])) for row in listing.rows), default=0)
            result.add_column(column.header, justify=column.justify, no_wrap=True, min_width=widest)
        else:
            result.add_column(column.header, justify=column.justify, overflow="fold")
    for row in listing.rows:
        result.add_row(*(column.show(row[index]) for index, column in shown))
    return result


def emit(listing: Listing, output: Output, console: Console | None = None) -> None:
    """Print the listing on stdout in the format asked."""
    if output is Output.JSON:
        sys.stdout.write(json.dumps(records(listing), indent=2, ensure_ascii=False) + "\n")
    elif output is Output.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([column.field for column in listing.columns])
        writer.writerows([csv_cell(value) for value in row] for row in listing.rows)
    else:
        (console or Console()).print(table(listing))
