"""Starting and reaching cases: the one place that knows the workflow id, policies and summaries."""

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from domain.models import DunningResult, InvoiceInput, Signal, workflow_id_for
from domain.policy import CaseStart, Policy
from dunning.contract import SignalName
from workflows.invoice_dunning import InvoiceDunning


def summary(invoice: InvoiceInput) -> str:
    """The UI's one-line title: ids and amounts only, since summaries are not always encrypted."""
    return (
        f"{invoice.invoice_id} · {invoice.customer.customer_id} · {invoice.amount} {invoice.currency}"
        f" due {invoice.due_on}"
    )


async def start_case(
    client: Client,
    invoice: InvoiceInput,
    task_queue: str,
    policy: Policy,
    start_signal: tuple[SignalName, Signal] | None = None,
) -> WorkflowHandle[InvoiceDunning, DunningResult]:
    """Start the case under `policy`, or return the running one: a repeated `invoice.created`
    changes nothing (the running case keeps its own policy).

    `start_signal` is delivered with the start (signal-with-start), before the case's first step:
    the segment the ingress derived, with its reason on the trail. A running case gets it too, so it
    needs an event id for a repeated start to change nothing.

    A closed case is never restarted under the same invoice id (REJECT_DUPLICATE): a settled or
    cancelled invoice coming back is a billing error to look at, not a new dunning run.

    No search attributes here: the workflow publishes all of them on its first task (NextActionAt
    needs its clock), so setting them at start too would write each case's visibility record twice;
    it cost about 15% of the start rate on the dev server. Until that first task (milliseconds when
    a worker runs) the case is listed, with its summary, but matches no filter.
    """
    return await client.start_workflow(
        InvoiceDunning.run,
        CaseStart(invoice=invoice, policy=policy),
        id=workflow_id_for(invoice.invoice_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        start_signal=start_signal[0] if start_signal else None,
        start_signal_args=[start_signal[1]] if start_signal else [],
        static_summary=summary(invoice),
        static_details=(
            f"**Invoice** {invoice.invoice_id} issued {invoice.issued_on}, due {invoice.due_on}  \n"
            f"**Amount** {invoice.amount} {invoice.currency}  \n"
            f"**Customer** {invoice.customer.customer_id} ({invoice.customer.kind.value},"
            f" {invoice.customer.segment.value})"
        ),
    )
