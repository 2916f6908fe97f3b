"""starter/listing.py on its own: the values as scripts get them, and ids kept whole in a narrow table."""

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from rich.console import Console

from starter.listing import Column, Listing, Output, emit, table

LONG_ID = "F-2026-000000012345-AVOIR"


def sample() -> Listing:
    listing = Listing(
        [
            Column("invoice_id", "invoice", key=True),
            Column("amount", "amount", justify="right"),
            Column("due_on", "due"),
            Column("next_at", "next (Paris)"),
            Column("calls", "open calls"),
            Column("note", "a rather long heading for a note column"),
        ]
    )
    listing.add(LONG_ID, Decimal("1200.50"), date(2026, 3, 1), datetime(2026, 3, 2, 8, tzinfo=UTC), ["a", "b"], None)
    listing.add("F-1", Decimal("0.10"), None, None, [], "x " * 40)
    return listing


def shown(width: int) -> str:
    out = io.StringIO()
    Console(width=width, file=out).print(table(sample()))
    return out.getvalue()


@pytest.mark.parametrize("width", [40, 80])
def test_a_key_column_is_never_cut_nor_wrapped(width: int) -> None:
    text = shown(width)
    assert LONG_ID in text
    assert all(len(line) <= width for line in text.splitlines())


def test_a_table_shows_instants_in_paris_time() -> None:
    assert "2026-03-02 09:00" in shown(200)


def test_json_and_csv_carry_exact_amounts_iso_dates_and_the_same_rows(capsys: pytest.CaptureFixture[str]) -> None:
    emit(sample(), Output.JSON)
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {
        "invoice_id": LONG_ID,
        "amount": "1200.50",
        "due_on": "2026-03-01",
        "next_at": "2026-03-02T08:00:00+00:00",
        "calls": ["a", "b"],
        "note": None,
    }
    assert rows[1]["amount"] == "0.10"
    emit(sample(), Output.CSV)
    lines = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert lines == [
        {k: "" if v is None else ";".join(v) if isinstance(v, list) else str(v) for k, v in row.items()} for row in rows
    ]


def test_a_row_must_fill_every_column() -> None:
    with pytest.raises(ValueError, match="a row of 2 values for 6 columns"):
        sample().add("F-2", Decimal(1))
