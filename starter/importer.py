"""Bulk imports: billing events (JSONL) and open invoices (CSV or JSONL of InvoiceInput).

Callable as functions (`import_items(make_items, dispatcher, concurrency=...)`) so the CLI, the API and
benchmarks share them.

Behaviour:
- Streamed: lines are parsed one by one and handed to a fixed pool of `concurrency` workers through
  bounded queues, so memory stays flat whatever the file size.
- Order per invoice is kept: every event of one invoice goes to the same worker (crc32 of the invoice
  id), so `dispute.opened` is applied before its `dispute.resolved`. Events of different invoices run
  in parallel.
- Invalid lines are reported as `line N: field.path: message` and skipped; the valid ones are applied.
  With `strict=True` the whole input is validated first and nothing is applied if any line is invalid.
- A line that fails to apply (server unreachable, ...) is reported as failed with its line number; the
  import goes on and the file can be re-imported as is, since every event is idempotent.
- Late imports of long-overdue invoices only start cases: the workflow decides what to send on its
  first run (it does not replay a missed ladder), and the importer never sends anything itself.

Invoice CSV columns (header required, names case-insensitive, `,` or `;` delimiter, UTF-8):

| column          | InvoiceInput field               | required | notes                              |
|-----------------|----------------------------------|----------|------------------------------------|
| invoice_id      | invoice_id                       | yes      |                                    |
| amount          | amount                           | yes      | `1234.56` or `1234,56`             |
| currency        | currency                         | no       | default `EUR`                      |
| issued_on       | issued_on                        | yes      | `YYYY-MM-DD` or `DD/MM/YYYY`       |
| due_on          | due_on                           | yes      | `YYYY-MM-DD` or `DD/MM/YYYY`       |
| payment_reference | payment_reference              | no       | RF creditor reference              |
| customer_id     | customer.customer_id             | yes      |                                    |
| customer_name   | customer.name                    | yes      |                                    |
| kind            | customer.kind                    | yes      | `business` or `consumer`           |
| email           | customer.email                   | yes      |                                    |
| phone           | customer.phone                   | no       | E.164                              |
| segment         | customer.segment                 | no       | default `standard`                 |
| language        | customer.language                | no       | `fr` (default) or `en`             |
| address_line    | customer.postal_address.lines    | no       | lines separated by ` / `           |
| postcode, city, country | customer.postal_address  | no       | all of address_line, postcode, city or none |

Each row becomes an `invoice.created` event with event_id `csv:<invoice_id>`; a JSONL line of
InvoiceInput becomes one with event_id `jsonl:<invoice_id>`.
"""

import asyncio
import csv
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from starter.dispatch import Applied, Dispatcher
from starter.events import Event, InvoiceCreated, describe_errors, parse_event

# One input line: its number, and the event or the reasons it was rejected.
Item = tuple[int, Event | None, list[str]]

DEFAULT_CONCURRENCY = 16
_REQUIRED = ("invoice_id", "amount", "issued_on", "due_on", "customer_id", "customer_name", "kind", "email")
_OPTIONAL = (
    "currency",
    "payment_reference",
    "phone",
    "segment",
    "language",
    "address_line",
    "postcode",
    "city",
    "country",
)
_FRENCH_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")


@dataclass
class ImportSummary:
    started: int = 0
    signalled: int = 0
    duplicates: int = 0
    pending: int = 0
    closed: int = 0
    ignored: int = 0
    rejected: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: Applied) -> None:
        name = "duplicates" if outcome is Applied.DUPLICATE else outcome.value
        setattr(self, name, getattr(self, name) + 1)


# ------------------------------------------------------------------------------------------ parsing


def parse_event_lines(lines: Iterable[str]) -> Iterator[Item]:
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield line_no, parse_event(line), []
        except ValidationError as error:
            yield line_no, None, describe_errors(error)


def parse_invoice_jsonl(lines: Iterable[str]) -> Iterator[Item]:
    """JSONL of InvoiceInput (the billing export of open invoices, as in samples/invoices-sample.jsonl)."""
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            yield line_no, None, [f"(line): invalid JSON: {error.msg} at column {error.colno}"]
            continue
        if not isinstance(data, dict):
            yield line_no, None, ["(line): expected a JSON object with the InvoiceInput fields"]
            continue
        yield _invoice_item(line_no, data, "jsonl")


def parse_invoice_csv(lines: Iterable[str]) -> Iterator[Item]:
    rows = iter(lines)
    header_line = next(rows, "")
    delimiter = ";" if ";" in header_line else ","
    header = [name.strip().lower().lstrip("\ufeff") for name in next(csv.reader([header_line], delimiter=delimiter))]
    unknown = [name for name in header if name not in _REQUIRED + _OPTIONAL]
    missing = [name for name in _REQUIRED if name not in header]
    if unknown or missing:
        problems = [f"unknown column {name!r}" for name in unknown] + [f"missing column {name!r}" for name in missing]
        yield 1, None, [f"header: {'; '.join(problems)} (see the column mapping in `dunning invoices import --help`)"]
        return
    reader = csv.reader(rows, delimiter=delimiter)
    for row in reader:
        line_no = reader.line_num + 1  # the header was read apart
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield line_no, None, [f"(row): {len(row)} cells for {len(header)} columns"]
            continue
        cells = {name: value.strip() for name, value in zip(header, row, strict=True) if value.strip()}
        yield _invoice_item(line_no, _csv_invoice(cells), "csv")


def _csv_invoice(cells: dict[str, str]) -> dict[str, Any]:
    customer: dict[str, Any] = {
        "customer_id": cells.get("customer_id"),
        "name": cells.get("customer_name"),
        "kind": cells.get("kind"),
        "email": cells.get("email"),
    }
    for key in ("phone", "segment", "language"):
        if key in cells:
            customer[key] = cells[key]
    if any(key in cells for key in ("address_line", "postcode", "city", "country")):
        address: dict[str, Any] = {
            "lines": [part.strip() for part in cells.get("address_line", "").split(" / ") if part.strip()],
            "postcode": cells.get("postcode"),
            "city": cells.get("city"),
        }
        if "country" in cells:
            address["country"] = cells["country"]
        customer["postal_address"] = address
    invoice: dict[str, Any] = {
        "invoice_id": cells.get("invoice_id"),
        "amount": _csv_amount(cells.get("amount")),
        "currency": cells.get("currency", "EUR"),
        "issued_on": _csv_date(cells.get("issued_on")),
        "due_on": _csv_date(cells.get("due_on")),
        "customer": customer,
    }
    if "payment_reference" in cells:
        invoice["payment_reference"] = cells["payment_reference"]
    return invoice


def _csv_amount(text: str | None) -> str | None:
    if text is None:
        return None
    compact = text.replace(" ", "").replace("\u00a0", "")
    return compact.replace(",", ".") if "." not in compact else compact


def _csv_date(text: str | None) -> str | None:
    match = _FRENCH_DATE.fullmatch(text or "")
    if match is None:
        return text
    day, month, year = match.groups()
    return datetime(int(year), int(month), int(day)).date().isoformat() if 1 <= int(month) <= 12 else text


def _invoice_item(line_no: int, data: dict[str, Any], source: str) -> Item:
    envelope = {"event_id": f"{source}:{data.get('invoice_id')}", "type": "invoice.created", "data": data}
    try:
        return line_no, InvoiceCreated.model_validate(envelope), []
    except ValidationError as error:
        # Report the fields as the file names them: CSV columns or InvoiceInput paths, not "data.".
        return line_no, None, [message.removeprefix("data.") for message in describe_errors(error)]


# ------------------------------------------------------------------------------------------ applying


async def import_items(
    make_items: Callable[[], Iterable[Item]],
    dispatcher: Dispatcher,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Apply every valid item; `make_items` is called twice with `strict` (validate, then apply).

    `progress(n)` is called with the number of lines just handled (applied, rejected or failed).
    """
    summary = ImportSummary()
    if strict:
        for line_no, event, errors in make_items():
            if event is None:
                summary.rejected += 1
                summary.errors += [f"line {line_no}: {error}" for error in errors]
        if summary.rejected:
            return summary
    queues: list[asyncio.Queue[tuple[int, Event] | None]] = [
        asyncio.Queue(maxsize=64) for _ in range(max(1, concurrency))
    ]

    async def work(queue: asyncio.Queue[tuple[int, Event] | None]) -> None:
        while (item := await queue.get()) is not None:
            line_no, event = item
            try:
                handled = await dispatcher.apply(event)
                summary.count(handled.applied)
                if handled.detail is not None:
                    summary.errors.append(f"line {line_no}: {event.event_id} {handled.applied.value}: {handled.detail}")
            except Exception as error:  # reported per line; the rest of the file still goes in
                summary.failed += 1
                summary.errors.append(f"line {line_no}: {event.event_id} not applied: {error}")
            if progress:
                progress(1)

    workers = [asyncio.create_task(work(queue)) for queue in queues]
    try:
        for line_no, event, errors in make_items():
            if event is None:
                summary.rejected += 1
                summary.errors += [f"line {line_no}: {error}" for error in errors]
                if progress:
                    progress(1)
                continue
            await queues[zlib.crc32(event.invoice_id.encode()) % len(queues)].put((line_no, event))
        for queue in queues:
            await queue.put(None)
        await asyncio.gather(*workers)
    finally:
        for worker in workers:
            worker.cancel()
    summary.errors.sort(key=_line_number)
    return summary


def _line_number(message: str) -> int:
    match = re.match(r"line (\d+)", message)
    return int(match.group(1)) if match else 0
