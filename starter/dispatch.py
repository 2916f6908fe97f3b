"""Apply one billing event to its case: start it, or signal it, never losing an event.

- `invoice.created` starts the case with `dunning.cases.start_case` (USE_EXISTING + REJECT_DUPLICATE),
  records the invoice facts, then flushes the signals that arrived before it, in arrival order.
- Any other event is signalled to `invoice-<invoice_id>` with the envelope's event_id in the signal,
  which the workflow deduplicates on.
- Case unknown (NOT_FOUND, and describe finds no run): the signal is kept in the pending store.
  Signal-with-start is not possible since only `invoice.created` carries the workflow input.
- Case closed (signal refused, describe finds a closed run; or `invoice.created` refused by
  REJECT_DUPLICATE): kept in the closed store for a person and reported, never dropped. So is an
  event for a case the closure register knows (`starter.closures`) and the server has forgotten
  since (namespace retention): a case never runs twice.
- `call.logged` for a case settled since (running while it watches for a reversal, its call tasks
  closed): ignored, and the reason returned; the event id stays unused, so the same event applies
  if sent again once a reversal reopens the case.

Within one process a lock per invoice serialises start and signals of that invoice. Across processes,
a signal stored as pending while another process started the case is caught by re-checking the case
after storing it and flushing if it now runs; a flush sent twice is harmless (event ids deduplicate).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Literal

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.models import CaseStatus, InvoiceCancelled, InvoiceInput, InvoiceUpdated, Signal, workflow_id_for
from domain.policy import Policy
from dunning.cases import start_case
from starter.events import CallLoggedEvent, Event, InvoiceCreated, SignalEvent
from starter.store import IngressStore
from workflows.invoice_dunning import InvoiceDunning

SIGNAL_MODELS: dict[str, type[Signal]] = {cls.signal_name: cls.signal_model for cls in SignalEvent.__subclasses__()}


class Applied(StrEnum):
    STARTED = "started"
    SIGNALLED = "signalled"
    DUPLICATE = "duplicate"
    PENDING = "pending"
    CLOSED = "closed"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Handled:
    applied: Applied
    detail: str | None = None  # why an ignored event was ignored


CaseState = Literal["missing", "running", "closed"]
# A case answers its query in milliseconds when a worker runs; without one the query would wait for
# the server's deadline, and the call is then signalled as any event is.
_QUERY_TIMEOUT = timedelta(seconds=5)


class Dispatcher:
    def __init__(self, client: Client, store: IngressStore, task_queue: str, policy: Policy) -> None:
        self.client = client
        self.store = store
        self.task_queue = task_queue
        # What new cases start with (dunning.policy_source); running ones keep theirs.
        self.policy = policy
        # invoice id -> (lock, number of holders and waiters); dropped when unused so a long-running
        # API does not keep a lock per invoice ever seen.
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def apply(self, event: Event) -> Handled:
        if self.store.was_applied(event.event_id):
            return Handled(Applied.DUPLICATE)
        async with self._invoice_lock(event.invoice_id):
            if isinstance(event, InvoiceCreated):
                outcome = await self.start(event.data.to_input(), event.event_id)
            else:
                if isinstance(event, CallLoggedEvent):
                    reason = await self._nothing_to_complete(event)
                    if reason is not None:
                        return Handled(Applied.IGNORED, reason)
                self.store.mark_unconfirmed([event.invoice_id])
                outcome = await self.send(event.invoice_id, event.signal_name, event.signal())
        self.store.mark_applied(event.event_id, outcome.value)
        return Handled(outcome)

    async def _nothing_to_complete(self, event: CallLoggedEvent) -> str | None:
        """Why a call logged on a settled case is not signalled, or None to signal it.

        A case records every call it is told of and acts on its outcome, which is right for a call
        made while money is owed, task or not. Once settled, the case's call tasks are closed and a
        call would read as done on its trail although nobody was to be called.
        """
        handle = self.client.get_workflow_handle(workflow_id_for(event.invoice_id))
        try:
            status: CaseStatus = await handle.query(InvoiceDunning.status, rpc_timeout=_QUERY_TIMEOUT)
        except (RPCError, WorkflowQueryFailedError):
            return None  # no case, or no worker to answer: `send` keeps or delivers it as for any event
        step = event.data.step
        if status.outcome is not None or status.balance > 0 or step in status.open_calls:
            return None
        return (
            f"{event.invoice_id} has no open call task for step {step}: the case is settled (balance"
            f" {status.balance} {status.currency}) and nobody is to be called. Nothing recorded on the case"
        )

    @asynccontextmanager
    async def _invoice_lock(self, invoice_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(invoice_id, (asyncio.Lock(), 0))
        self._locks[invoice_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[invoice_id]
            if users == 1:
                del self._locks[invoice_id]
            else:
                self._locks[invoice_id] = (lock, users - 1)

    async def start(self, invoice: InvoiceInput, event_id: str) -> Applied:
        # The register remembers a closed case after the server has forgotten it.
        closed = self.store.closures.get(workflow_id_for(invoice.invoice_id)) is not None
        if not closed:
            try:
                await start_case(self.client, invoice, self.task_queue, self.policy)
            except WorkflowAlreadyStartedError:
                closed = True
        if closed:
            self.store.add_closed(
                event_id,
                invoice.invoice_id,
                "invoice.created",
                invoice.model_dump_json(),
                "the case of this invoice is closed and is never restarted: check the billing system",
            )
            return Applied.CLOSED
        self.store.record_invoice(invoice)
        await self.flush(invoice.invoice_id)
        return Applied.STARTED

    async def send(self, invoice_id: str, name: str, signal: Signal) -> Applied:
        """Signal the case, or keep the signal (pending or closed store); never raises NOT_FOUND."""
        if await self._try_signal(invoice_id, name, signal):
            return Applied.SIGNALLED
        state = await self.case_state(invoice_id)
        if state == "running" and await self._try_signal(invoice_id, name, signal):
            return Applied.SIGNALLED  # started between the refused signal and the check
        if state != "missing":
            self._keep_closed(invoice_id, name, signal)
            return Applied.CLOSED
        self.store.add_pending(_event_id(signal, name), invoice_id, name, signal.model_dump_json())
        if await self.case_state(invoice_id) == "running":
            await self.flush(invoice_id)  # another process started it meanwhile
        return Applied.PENDING

    async def flush(self, invoice_id: str) -> int:
        """Deliver the pending signals of a case that now exists, in arrival order."""
        delivered = 0
        for pending in self.store.pending_for(invoice_id):
            signal = SIGNAL_MODELS[pending.signal_name].model_validate_json(pending.body)
            if not await self._try_signal(invoice_id, pending.signal_name, signal):
                self._keep_closed(invoice_id, pending.signal_name, signal)
            self.store.remove_pending(pending.seq)
            delivered += 1
        return delivered

    async def case_state(self, invoice_id: str) -> CaseState:
        # The raw call, not handle.describe(): only the status is needed, and describe() also decodes
        # every search attribute (the test server returns datetimes it cannot parse).
        request = DescribeWorkflowExecutionRequest(
            namespace=self.client.namespace, execution=WorkflowExecution(workflow_id=workflow_id_for(invoice_id))
        )
        try:
            response = await self.client.workflow_service.describe_workflow_execution(request)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return "closed" if self.store.closures.get(workflow_id_for(invoice_id)) else "missing"
            raise
        running = response.workflow_execution_info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
        return "running" if running else "closed"

    async def _try_signal(self, invoice_id: str, name: str, signal: Signal) -> bool:
        """True once delivered; False if the server has no running case of that id."""
        try:
            await self.client.get_workflow_handle(workflow_id_for(invoice_id)).signal(name, signal)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        self._after_delivery(invoice_id, signal)
        return True

    def _after_delivery(self, invoice_id: str, signal: Signal) -> None:
        # The registry mirrors the facts bank matching reads; the workflow stays the source of truth.
        if isinstance(signal, InvoiceUpdated):
            changes = {
                key: str(value) for key, value in (("amount", signal.amount), ("due_on", signal.due_on)) if value
            }
            self.store.update_invoice(invoice_id, changes)
        elif isinstance(signal, InvoiceCancelled):
            self.store.retire_invoice(invoice_id)

    def _keep_closed(self, invoice_id: str, name: str, signal: Signal) -> None:
        self.store.add_closed(
            _event_id(signal, name),
            invoice_id,
            name,
            signal.model_dump_json(),
            "the case is closed and takes no more signals: handle by hand (refund, reopen in billing)",
        )


def _event_id(signal: Signal, name: str) -> str:
    # Every ingress signal carries an event id; the fallback only keeps the stores' keys non-empty.
    return signal.event_id or f"{name}:{signal.model_dump_json()}"
