"""Read side shared by the API and the CLI: one case's status, case lists and open calls.

Lists use Temporal visibility over the search attributes of `dunning.search_attributes`; they lag a
second or so behind the cases. A single case's status is its `status` query, brought to the time of reading.

User input never reaches a visibility query raw: values are checked against the shapes the contract
allows (a `Stage`, an id of `domain.models.IdText` form) and then quoted and escaped.
"""

import asyncio
import re
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError

from domain.calendar import PARIS
from domain.calls import script_for
from domain.models import CaseStatus, DunningResult, NextAction, PenaltyStatement, Stage, workflow_id_for
from domain.penalties import PenaltyPolicy, claim_of, statement, with_penalties
from dunning import search_attributes as sa
from workflows.invoice_dunning import InvoiceDunning

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,63}$")
_PREFIX = workflow_id_for("")
DEFAULT_LIMIT = 200
# A case answers in milliseconds when a worker runs; without one a query waits for the deadline.
_QUERY_TIMEOUT = timedelta(seconds=5)


class CaseRow(BaseModel):
    invoice_id: str
    stage: str | None
    customer_id: str | None
    amount_due: float | None
    due_date: datetime | None
    next_action_at: datetime | None
    open_calls: list[str]
    running: bool


class CallRow(BaseModel):
    invoice_id: str
    customer_id: str | None
    step: str
    stage: str | None
    script: list[str]


def check_id(value: str, what: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a valid id (letters, digits and . _ / : - only)")
    return value


def quote(value: str) -> str:
    """A visibility string literal; the checks above already exclude quotes, this is the second lock."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cases_query(stage: str | None = None, customer_id: str | None = None) -> str:
    clauses = ["WorkflowType = 'InvoiceDunning'"]
    if stage is not None:
        clauses.append(f"{sa.STAGE.name} = {quote(Stage(stage).value)}")
    if customer_id is not None:
        clauses.append(f"{sa.CUSTOMER_ID.name} = {quote(check_id(customer_id, 'customer id'))}")
    return " AND ".join(clauses)


async def case_status(
    client: Client, invoice_id: str, now: datetime | None = None, *, policy: PenaltyPolicy | None = None
) -> CaseStatus:
    """The case as of `now` (default: this instant). The query answers as of the case's last workflow
    task, weeks ago for a sleeping case: its time-dependent figures are brought to the reading here,
    penalties to date included when the reader passes the `policy` it loaded at start.

    Raises temporalio RPCError NOT_FOUND for an unknown invoice."""
    handle = client.get_workflow_handle(workflow_id_for(check_id(invoice_id, "invoice id")), result_type=DunningResult)
    status = await handle.query(InvoiceDunning.status)
    read = status.read_at(now or datetime.now(UTC))
    return read if policy is None else with_penalties(read, policy, read.as_of or datetime.now(UTC))


async def case_penalties(client: Client, invoice_id: str, policy: PenaltyPolicy, as_of: date) -> PenaltyStatement:
    """A case's penalties on `as_of` (a Paris day), from its own payments, credit notes and notice.

    Raises MissingRate when a semester's rate is not known, RPCError NOT_FOUND for an unknown invoice."""
    status = await case_status(client, invoice_id, datetime.combine(as_of, time(12), PARIS))
    return statement(claim_of(status, as_of), policy)


async def list_cases(
    client: Client, *, stage: str | None = None, customer_id: str | None = None, limit: int = DEFAULT_LIMIT
) -> list[CaseRow]:
    return [_row(execution) async for execution in client.list_workflows(cases_query(stage, customer_id), limit=limit)]


async def list_calls(client: Client, *, limit: int = DEFAULT_LIMIT) -> list[CallRow]:
    """One row per open call task of a running case: the work waiting for a person."""
    query = f"WorkflowType = 'InvoiceDunning' AND ExecutionStatus = 'Running' AND {sa.OPEN_CALLS.name} IS NOT NULL"
    rows = []
    async for execution in client.list_workflows(query, limit=limit):
        case = _row(execution)
        rows += [
            CallRow(
                invoice_id=case.invoice_id,
                customer_id=case.customer_id,
                step=step,
                stage=case.stage,
                script=list(script_for(step)),
            )
            for step in case.open_calls
        ]
    return rows


async def next_actions(client: Client, rows: list[CaseRow], *, concurrency: int = 16) -> dict[str, NextAction]:
    """Invoice id -> next action of the running cases listed with one, by their `status` query:
    visibility holds when (`NextActionAt`), not which step. A case that does not answer is left out;
    after one unanswered query (no worker running) the others are not asked."""
    limit = asyncio.Semaphore(concurrency)
    unanswered = asyncio.Event()
    found: dict[str, NextAction] = {}

    async def ask(invoice_id: str) -> None:
        async with limit:
            if unanswered.is_set():
                return
            handle = client.get_workflow_handle(workflow_id_for(invoice_id))
            try:
                status: CaseStatus = await handle.query(InvoiceDunning.status, rpc_timeout=_QUERY_TIMEOUT)
            except (RPCError, WorkflowQueryFailedError):
                unanswered.set()
                return
            if status.next_action is not None:
                found[invoice_id] = status.next_action

    await asyncio.gather(*(ask(row.invoice_id) for row in rows if row.running and row.next_action_at is not None))
    return found


def _row(execution: WorkflowExecution) -> CaseRow:
    attributes = execution.typed_search_attributes
    return CaseRow(
        invoice_id=execution.id.removeprefix(_PREFIX),
        stage=attributes.get(sa.STAGE),
        customer_id=attributes.get(sa.CUSTOMER_ID),
        amount_due=attributes.get(sa.AMOUNT_DUE),
        due_date=attributes.get(sa.DUE_DATE),
        next_action_at=attributes.get(sa.NEXT_ACTION_AT),
        open_calls=list(attributes.get(sa.OPEN_CALLS) or []),
        running=execution.status == WorkflowExecutionStatus.RUNNING,
    )
