"""Listings as a person sees them on an 80-column terminal (the ids whole) and as scripts read them
(`--output json` and `--output csv`: the same rows). `dunning bank unmatched` is in test_bank_ingress.py
(its server has visibility), `dunning cases` and `calls` in test_visibility.py."""

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import Harness
from tests.ingress.conftest import event, invoke
from tests.ingress.listings import outputs, same_rows

INVOICE = "F-2026-000000012345"
EVENT = "evt-2026-11-30-payment-000000042"


@pytest.mark.usefixtures("cli_env")
async def test_held_events_keep_their_ids_whole_and_read_back_as_json_and_csv(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = await harness.today()
    path = tmp_path / "events.jsonl"
    pay = event(EVENT, "payment.received", INVOICE, payment_id="P1", amount="10.00", received_on=str(today))
    path.write_text(json.dumps(pay) + "\n")
    assert (await invoke("events", "import", str(path)))[0] == 0
    monkeypatch.setenv("COLUMNS", "80")

    table, as_json, as_csv = await outputs("events", "held")
    assert INVOICE in table
    assert EVENT in table
    assert max(len(line) for line in table.splitlines()) <= 80
    [row] = same_rows(as_json, as_csv)
    assert row.keys() == {"kept_as", "invoice_id", "event_id", "signal", "since", "reason"}
    assert (row["kept_as"], row["invoice_id"], row["event_id"]) == ("pending", INVOICE, EVENT)
    assert datetime.fromisoformat(row["since"]).utcoffset() is not None
