"""Bank import: parse -> open invoices with current balances -> reconcile -> journal -> signal -> report.

- Formats: camt.052/053/054 (any `.001.NN`, see `starter.bank.camt`) when the file starts with `<`,
  otherwise the simple CSV of `starter.bank.csv_format`.
- A file with errors imports nothing (`BankFileRejected`, every error named by entry and element)
  unless `partial=True`: then its valid lines are imported and the errors are returned in the result.
- Current balances come from each candidate case's `status` query (bounded concurrency), not from
  visibility: search attributes lag and the reconciler must not allocate money on a stale balance.
  Candidates are the invoices of the ingress registry (`starter.store`); a case seen closed is retired
  from it, so a payment quoting a settled and closed invoice goes to the unmatched queue for a person.
- Signals go out through the journal's outbox (see `starter.bank.journal`): recorded first, sent,
  then marked. Anything left unsent by a crash is sent by the next import or assignment. Their event
  ids derive from the bank line's payment id, so a re-send changes nothing in the workflow.
"""

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from domain.models import CaseStatus, PaymentReceived, PaymentReversed, workflow_id_for
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

DEFAULT_CONCURRENCY = 16


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
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    return parse_camt(data, source=source) if head.startswith(b"<") else parse_csv(data, source=source)


async def open_invoices(dispatcher: Dispatcher, *, concurrency: int = DEFAULT_CONCURRENCY) -> list[OpenInvoice]:
    """Registry invoices whose case runs, with the balance and due date the case has now."""
    limit = asyncio.Semaphore(concurrency)

    async def one(invoice_id: str) -> CaseStatus | None:
        async with limit:
            handle = dispatcher.client.get_workflow_handle(workflow_id_for(invoice_id))
            try:
                status: CaseStatus = await handle.query("status", result_type=CaseStatus)
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    return None  # started elsewhere and never reached the server: not a candidate
                raise
            except WorkflowQueryFailedError:
                return None
            return status

    invoices = dispatcher.store.active_invoices()
    statuses = await asyncio.gather(*(one(invoice.invoice_id) for invoice in invoices))
    found = []
    for invoice, status in zip(invoices, statuses, strict=True):
        if status is None:
            continue
        if status.outcome is not None:
            dispatcher.store.retire_invoice(invoice.invoice_id)
            continue
        found.append(
            OpenInvoice(
                invoice_id=invoice.invoice_id,
                customer_id=invoice.customer.customer_id,
                customer_name=invoice.customer.name,
                payment_reference=invoice.payment_reference,
                balance=status.balance,
                currency=status.currency,
                due_on=status.due_on,
            )
        )
    return found


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
    parsed = parse_bank_file(data, source)
    if not partial:
        parsed.raise_if_invalid()
    plan = await _plan_and_commit(parsed, dispatcher, journal, concurrency)
    delivered = await send_pending(journal, dispatcher, concurrency=concurrency)
    return BankImportResult(source=source, plan=plan, report=plan.report(), errors=parsed.errors, delivered=delivered)


async def _plan_and_commit(
    parsed: ParsedFile, dispatcher: Dispatcher, journal: Journal, concurrency: int
) -> ReconciliationPlan:
    # Another import may commit between our plan and our commit: plan again on fresh balances.
    for _ in range(3):
        invoices = await open_invoices(dispatcher, concurrency=concurrency)
        plan = reconcile(parsed.lines, invoices, journal)
        try:
            journal.commit(plan)
        except StalePlanError:
            continue
        return plan
    raise StalePlanError("the journal kept changing during this import (concurrent imports?): run it again")


async def assign_line(
    line_id: str, invoice_id: str, *, dispatcher: Dispatcher, journal: Journal
) -> tuple[Allocation, dict[str, int]]:
    """Put an unmatched line on an invoice by hand, then signal the case."""
    journal.get_unmatched(line_id)  # KeyError with a clear message before any query
    candidates = {i.invoice_id: i for i in await open_invoices(dispatcher)}
    if invoice_id not in candidates:
        raise KeyError(f"{invoice_id} has no running case known to the ingress: check the invoice id")
    allocation = journal.assign(line_id, candidates[invoice_id])
    return allocation, await send_pending(journal, dispatcher)


async def send_pending(
    journal: Journal, dispatcher: Dispatcher, *, concurrency: int = DEFAULT_CONCURRENCY
) -> dict[str, int]:
    """Send the journal's outbox: bank order per invoice, invoices in parallel."""
    by_invoice: defaultdict[str | None, list[PendingSignal]] = defaultdict(list)
    for pending in journal.pending_signals():
        by_invoice[pending.signal.invoice_id].append(pending)
    counts: defaultdict[str, int] = defaultdict(int)
    limit = asyncio.Semaphore(concurrency)

    async def one_invoice(invoice_id: str | None, signals: list[PendingSignal]) -> None:
        async with limit:
            for pending in signals:
                if invoice_id is not None:  # a reversal of a queued line pays back no invoice
                    counts[(await _send(dispatcher, invoice_id, pending)).value] += 1
                journal.mark_signalled(pending.seq)

    await asyncio.gather(*(one_invoice(invoice_id, signals) for invoice_id, signals in by_invoice.items()))
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
