"""A CLI listing read three ways, and the check that its JSON and CSV hold the same rows."""

import csv
import io
import json
from typing import Any

from tests.ingress.conftest import invoke


def same_rows(as_json: str, as_csv: str) -> list[dict[str, Any]]:
    """The JSON rows, checked to be the CSV's too (absent: empty; lists: joined by ';')."""
    rows: list[dict[str, Any]] = json.loads(as_json)
    expected = [
        {k: "" if v is None else ";".join(v) if isinstance(v, list) else str(v) for k, v in row.items()} for row in rows
    ]
    assert list(csv.DictReader(io.StringIO(as_csv))) == expected
    return rows


async def outputs(*command: str) -> tuple[str, str, str]:
    """The table, the JSON and the CSV of one listing."""
    results = [await invoke(*command, *extra) for extra in ((), ("--output", "json"), ("-o", "csv"))]
    for code, output in results:
        assert code == 0, output
    table, as_json, as_csv = (output for _, output in results)
    return table, as_json, as_csv
