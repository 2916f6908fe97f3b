"""Starting and reaching cases: the one place that knows the workflow id, policies and summaries."""

import os

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from domain.models import DunningResult, InvoiceInput, workflow_id_for
from dunning.contract import QUIET_HOURS_MEMO
from workflows.invoice_dunning import InvoiceDunning

QUIET_HOURS_VARIABLE = "DUNNING_QUIET_HOURS"


def quiet_hours_from_env() -> bool:
    """DUNNING_QUIET_HOURS: `on` (the default) or `off`, for the cases this process starts."""
    text = os.environ.get(QUIET_HOURS_VARIABLE, "").strip().lower() or "on"
    if text not in ("on", "off"):
        raise ValueError(f"{QUIET_HOURS_VARIABLE}={text!r}: use on (send 09:00-18:00 on business days) or off")
    return text == "on"


def summary(invoice: InvoiceInput) -> str:
    """The UI's one-line title: ids and amounts only, since summaries are not always encrypted."""
    return (
        f"{invoice.invoice_id} · {invoice.customer.customer_id} · {invoice.amount} {invoice.currency}"
        f" due {invoice.due_on}"
    )


async def start_case(
    client: Client, invoice: InvoiceInput, task_queue: str, quiet_hours: bool = True
) -> WorkflowHandle[InvoiceDunning, DunningResult]:
    """Start the case, or return the running one: a repeated `invoice.created` changes nothing.

    A closed case is never restarted under the same invoice id (REJECT_DUPLICATE): a settled or
    cancelled invoice coming back is a billing error to look at, not a new dunning run.

    No search attributes here: the workflow publishes all of them on its first task (NextActionAt
    needs its clock), so setting them at start too would write each case's visibility record twice;
    it cost about 15% of the start rate on the dev server. Until that first task (milliseconds when
    a worker runs) the case is listed, with its summary, but matches no filter.

    `quiet_hours=False` (a demo, a sandbox) is kept in the memo: the case sends what is due at any hour,
    for all its life, whatever the settings of the process that starts the next case.
    """
    return await client.start_workflow(
        InvoiceDunning.run,
        invoice,
        id=workflow_id_for(invoice.invoice_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        memo=None if quiet_hours else {QUIET_HOURS_MEMO: False},
        static_summary=summary(invoice),
        static_details=(
            f"**Invoice** {invoice.invoice_id} issued {invoice.issued_on}, due {invoice.due_on}  \n"
            f"**Amount** {invoice.amount} {invoice.currency}  \n"
            f"**Customer** {invoice.customer.customer_id} ({invoice.customer.kind.value},"
            f" {invoice.customer.segment.value})"
        ),
    )
