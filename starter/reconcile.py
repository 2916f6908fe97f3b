"""Bank import: parse -> open invoices with current balances -> reconcile -> journal -> signal -> report.

- Formats: camt.052/053/054 (any `.001.NN`, see `starter.bank.camt`) when the file starts with `<`,
  otherwise the simple CSV of `starter.bank.csv_format`.
- A file with errors imports nothing (`BankFileRejected`, every error named by entry and element)
  unless `partial=True`: then its valid lines are imported and the errors are returned in the result.
- Current balances come from what changed since the last read (see `open_invoices`): the cases'
  `status` query where the ingress itself signalled them, visibility (`AmountDue`, `DueDate`,
  `BalanceChangedAt`) for changes made by others, the store's snapshot for the rest. The reconciler
  never allocates money on a balance older than a signal it sent. Candidates are the invoices of the
  ingress registry (`starter.store`); a case seen closed is retired from it, so a payment quoting a
  settled and closed invoice goes to the unmatched queue for a person.
- Signals go out through the journal's outbox (see `starter.bank.journal`): recorded first, sent,
  then marked. Anything left unsent by a crash is sent by the next import or assignment. Their event
  ids derive from the bank line's payment id, so a re-send changes nothing in the workflow.
"""

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from domain.models import CaseStatus, InvoiceInput, PaymentReceived, PaymentReversed, workflow_id_for
from domain.money import CENT
from dunning import search_attributes as sa
from starter.bank import (
    Allocation,
    BankFileError,
    Journal,
    OpenInvoice,
    ParsedFile,
    ReconciliationPlan,
    ReconciliationReport,
    StalePlanError,
    parse_camt,
    parse_csv,
    reconcile,
)
from starter.bank.journal import PendingSignal
from starter.dispatch import Applied, Dispatcher
from workflows.invoice_dunning import InvoiceDunning

DEFAULT_CONCURRENCY = 16
# Signals confirmed sent per journal commit: a crash re-sends at most this many, which the cases ignore.
_MARK_BATCH = 500
_PREFIX = workflow_id_for("")
# How far behind a case its visibility record may be: a read also takes the changes dated this long
# before the previous read. An hour is far above the dev server's milliseconds and a loaded cluster's
# seconds, and costs only re-reading the cases changed in that hour.
VISIBILITY_LAG = timedelta(hours=1)


@dataclass
class BankImportResult:
    source: str
    plan: ReconciliationPlan
    report: ReconciliationReport
    errors: list[BankFileError]
    delivered: dict[str, int] = field(default_factory=dict)  # Applied value -> count


def journal_path(var_dir: Path) -> Path:
    var_dir.mkdir(parents=True, exist_ok=True)
    return var_dir / "bank-journal.sqlite3"


def parse_bank_file(data: bytes, source: str) -> ParsedFile:
    """camt or CSV by the content, whatever the file is called; anything else is one error, never echoed."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return parse_camt(data, source=source)
    problem = _not_text(data)
    if problem is not None:
        error = BankFileError(source=source, line_no=None, entry=None, element=None, message=problem)
        return ParsedFile(source=source, lines=[], errors=[error])
    return parse_csv(data, source=source)


def _not_text(data: bytes) -> str | None:
    """Why `data` cannot be a CSV text file, or None."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text: save the file as UTF-8 CSV"
    control = data.translate(None, _TEXT_BYTES)
    if not control:
        return None
    offset = data.index(control[:1])
    return (
        f"binary content (byte 0x{control[0]:02x} at offset {offset}): neither camt XML (starts with '<')"
        " nor CSV text; is it the right file?"
    )


# Bytes a UTF-8 or Windows-1252 CSV may hold: printable ASCII, tab, line breaks, and every byte >= 0x80.
_TEXT_BYTES = bytes([9, 10, 12, 13, *range(32, 127), *range(128, 256)])


async def open_invoices(dispatcher: Dispatcher, *, concurrency: int = DEFAULT_CONCURRENCY) -> list[OpenInvoice]:
    """Registry invoices whose case runs, with the balance and due date the case has now.

    Balances only move on a signal. The store keeps each case's balance as last read (or as started)
    and when the cases were last read; this read then takes, in that order:
    - a `status` query for the cases signalled by the ingress since they were last read (`unconfirmed`:
      the worker may not have applied the signal, so visibility may not show it yet);
    - visibility for the running cases whose `BalanceChangedAt` is after the last read, less
      `VISIBILITY_LAG` (signals sent by others, a payment keyed in the web UI), one page per 1,000;
    - visibility again for the cases closed since then, which are retired from the registry;
    - the store's snapshot for the rest.
    A store that never read the cases (new, or rebuilt) lists every running case instead, and asks a
    case it does not find by query (just started, or closed).
    """
    store = dispatcher.store
    registry = {invoice.invoice_id: invoice for invoice in store.active_invoices()}
    unconfirmed = store.unconfirmed()
    snapshots = store.snapshots()
    last_read = store.read_at()
    read_at = datetime.now(UTC)
    if last_read is None:
        listed = await _running_cases(dispatcher.client, "")
        closed: set[str] = set()
    else:
        since = (last_read - VISIBILITY_LAG).isoformat()
        listed = await _running_cases(dispatcher.client, f" AND {sa.BALANCE_CHANGED_AT.name} >= '{since}'")
        closed = await _closed_cases(dispatcher.client, since)

    current: dict[str, tuple[Decimal, date]] = {}
    to_query: list[str] = []
    for invoice_id in registry:
        if invoice_id in unconfirmed:
            to_query.append(invoice_id)
        elif invoice_id in listed:
            current[invoice_id] = listed[invoice_id]
        elif invoice_id in closed:
            store.retire_invoice(invoice_id)
        elif last_read is None or invoice_id not in snapshots:
            to_query.append(invoice_id)
        else:
            current[invoice_id] = snapshots[invoice_id]

    statuses = await _ask(dispatcher.client, to_query, concurrency)
    confirmed: dict[str, int] = {}
    for invoice_id, status in zip(to_query, statuses, strict=True):
        if status is None:
            continue  # not started yet: its marks stay for the signals flushed when it starts
        if invoice_id in unconfirmed:
            confirmed[invoice_id] = unconfirmed[invoice_id]
        if status.outcome is not None:
            store.retire_invoice(invoice_id)
            continue
        current[invoice_id] = (status.balance, status.due_on)
    store.confirm(confirmed)
    store.save_snapshots(current, read_at)
    return [
        as_open_invoice(registry[invoice_id], *current[invoice_id]) for invoice_id in registry if invoice_id in current
    ]


async def _ask(client: Client, invoice_ids: list[str], concurrency: int) -> list[CaseStatus | None]:
    """The `status` of each case; None for one the server does not know."""
    limit = asyncio.Semaphore(concurrency)

    async def one(invoice_id: str) -> CaseStatus | None:
        async with limit:
            handle = client.get_workflow_handle(workflow_id_for(invoice_id))
            try:
                status: CaseStatus = await handle.query(InvoiceDunning.status)
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    return None  # started elsewhere and never reached the server: not a candidate
                raise
            except WorkflowQueryFailedError:
                return None
            return status

    return await asyncio.gather(*(one(invoice_id) for invoice_id in invoice_ids))


async def _running_cases(client: Client, condition: str) -> dict[str, tuple[Decimal, date]]:
    """Invoice id -> (AmountDue, DueDate) of the running cases meeting `condition`, from visibility."""
    rows: dict[str, tuple[Decimal, date]] = {}
    query = f"WorkflowType = 'InvoiceDunning' AND ExecutionStatus = 'Running'{condition}"
    async for execution in client.list_workflows(query, page_size=1000):
        attributes = execution.typed_search_attributes
        amount, due = attributes.get(sa.AMOUNT_DUE), attributes.get(sa.DUE_DATE)
        if amount is None or due is None or not execution.id.startswith(_PREFIX):
            continue  # first task not run yet, or not a case of `start_case`: the query will tell
        # A float of two-decimal amounts: its shortest repr is the decimal the case published.
        rows[execution.id.removeprefix(_PREFIX)] = (Decimal(repr(amount)).quantize(CENT), due.date())
    return rows


async def _closed_cases(client: Client, since: str) -> set[str]:
    query = f"WorkflowType = 'InvoiceDunning' AND ExecutionStatus != 'Running' AND CloseTime >= '{since}'"
    return {execution.id.removeprefix(_PREFIX) async for execution in client.list_workflows(query, page_size=1000)}


def as_open_invoice(invoice: InvoiceInput, balance: Decimal, due_on: date) -> OpenInvoice:
    """A matching candidate: the invoice's facts with the balance and due date its case has now."""
    return OpenInvoice(
        invoice_id=invoice.invoice_id,
        customer_id=invoice.customer.customer_id,
        customer_name=invoice.customer.name,
        payment_reference=invoice.payment_reference,
        balance=balance,
        currency=invoice.currency,
        due_on=due_on,
    )


async def import_bank_file(
    data: bytes,
    source: str,
    *,
    dispatcher: Dispatcher,
    journal: Journal,
    partial: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> BankImportResult:
    """Import one statement; raises `BankFileRejected` for a file with errors unless `partial`."""
    # Parsing is CPU in this process while reading the open cases mostly waits on the server: overlap
    # them (about 5% of a 10,000-entry import). A rejected file has then cost a read, and no change.
    parsed, invoices = await asyncio.gather(
        asyncio.to_thread(parse_bank_file, data, source), open_invoices(dispatcher, concurrency=concurrency)
    )
    if partial:
        parsed.raise_if_nothing_valid()
    else:
        parsed.raise_if_invalid()
    plan = await _plan_and_commit(parsed, invoices, dispatcher, journal, concurrency)
    delivered = await send_pending(journal, dispatcher, concurrency=concurrency)
    return BankImportResult(source=source, plan=plan, report=plan.report(), errors=parsed.errors, delivered=delivered)


async def _plan_and_commit(
    parsed: ParsedFile, invoices: list[OpenInvoice], dispatcher: Dispatcher, journal: Journal, concurrency: int
) -> ReconciliationPlan:
    # Another import may commit between our plan and our commit: plan again on fresh balances.
    for _ in range(3):
        plan = reconcile(parsed.lines, invoices, journal)
        try:
            journal.commit(plan)
        except StalePlanError:
            invoices = await open_invoices(dispatcher, concurrency=concurrency)
            continue
        return plan
    raise StalePlanError("the journal kept changing during this import (concurrent imports?): run it again")


class AlreadySettled(ValueError):
    """A manual assignment onto a case that owes nothing: only applied when forced."""


@dataclass(frozen=True)
class Assigned:
    allocation: Allocation
    balance_before: Decimal
    delivered: dict[str, int]  # Applied value -> count

    @property
    def balance_after(self) -> Decimal:
        return self.balance_before - self.allocation.amount


async def assign_line(
    line_id: str, invoice_id: str, *, dispatcher: Dispatcher, journal: Journal, force: bool = False
) -> Assigned:
    """Put an unmatched line on an invoice by hand, then signal the case.

    A case already settled or overpaid (balance <= 0, still running while it watches for a reversal)
    raises `AlreadySettled` unless `force`: the money would only be owed back to the customer.
    """
    line = journal.get_unmatched(line_id).line  # KeyError with a clear message before any query
    candidates = {i.invoice_id: i for i in await open_invoices(dispatcher)}
    if invoice_id not in candidates:
        raise KeyError(f"{invoice_id} has no running case known to the ingress: check the invoice id")
    invoice = candidates[invoice_id]
    if invoice.balance <= 0 and line.currency == invoice.currency and not force:
        currency = invoice.currency
        owed = "settled" if invoice.balance == 0 else f"overpaid by {-invoice.balance} {currency}"
        raise AlreadySettled(
            f"{invoice_id} is already {owed} (balance {invoice.balance} {currency}): {line.amount} {currency}"
            f" on it would leave it overpaid by {line.amount - invoice.balance} {currency}. Nothing applied;"
            f" {line_id} stays in the unmatched queue."
        )
    allocation = journal.assign(line_id, invoice)
    return Assigned(allocation, invoice.balance, await send_pending(journal, dispatcher))


async def send_pending(
    journal: Journal, dispatcher: Dispatcher, *, concurrency: int = DEFAULT_CONCURRENCY
) -> dict[str, int]:
    """Send the journal's outbox: bank order per invoice, invoices in parallel."""
    by_invoice: defaultdict[str | None, list[PendingSignal]] = defaultdict(list)
    for pending in journal.pending_signals():
        by_invoice[pending.signal.invoice_id].append(pending)
    dispatcher.store.mark_unconfirmed(invoice_id for invoice_id in by_invoice if invoice_id is not None)
    counts: defaultdict[str, int] = defaultdict(int)
    sent: list[int] = []
    limit = asyncio.Semaphore(concurrency)

    async def one_invoice(invoice_id: str | None, signals: list[PendingSignal]) -> None:
        async with limit:
            for pending in signals:
                if invoice_id is not None:  # a reversal of a queued line pays back no invoice
                    counts[(await _send(dispatcher, invoice_id, pending)).value] += 1
                sent.append(pending.seq)
                if len(sent) >= _MARK_BATCH:
                    journal.mark_signalled(sent)
                    sent.clear()

    try:
        await asyncio.gather(*(one_invoice(invoice_id, signals) for invoice_id, signals in by_invoice.items()))
    finally:
        journal.mark_signalled(sent)  # what a failure leaves unmarked is sent again, harmlessly
    return dict(counts)


async def _send(dispatcher: Dispatcher, invoice_id: str, pending: PendingSignal) -> Applied:
    signal = pending.signal
    if isinstance(signal, Allocation):
        payment = PaymentReceived(
            event_id=f"bank:{signal.payment_id}",
            payment_id=signal.payment_id,
            amount=signal.amount,
            received_on=signal.received_on,
            reference=signal.reference or None,
        )
        return await dispatcher.send(invoice_id, "payment_received", payment)
    reversal = PaymentReversed(
        event_id=f"bank-reversal:{signal.payment_id}", payment_id=signal.payment_id, reason=signal.reason
    )
    return await dispatcher.send(invoice_id, "payment_reversed", reversal)
