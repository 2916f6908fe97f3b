"""What a person changes on running cases, shared by the CLI (`dunning policy apply`, `approve`,
`hold`, `segment`) and the API (`POST /cases/{invoice_id}/policy|approval|segment`).

Each reads the case first (its `status` query), refuses what cannot apply to it as it stands
(`Refused`: exit 1, HTTP 409), then sends one typed signal and reads the case again to say what
happened: a query sees every signal delivered before it. Sending the same request twice changes
nothing: a policy move carries an event id made of the policy version and the case, a segment or an
approval already in place is not sent again, a hold carries an id made of what it says.
"""

import asyncio
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from domain.models import (
    CaseStatus,
    DunningResult,
    EscalationApproved,
    EscalationHeld,
    Segment,
    SegmentChanged,
    workflow_id_for,
)
from domain.policy import Policy, PolicyChanged
from dunning import search_attributes as sa
from starter.cases import check_id, quote
from workflows.invoice_dunning import InvoiceDunning

# A case answers in milliseconds when a worker runs; without one a query waits for this deadline.
_QUERY_TIMEOUT = timedelta(seconds=5)
_PREFIX = workflow_id_for("")


class CaseNotFound(LookupError):
    pass


class NoAnswer(RuntimeError):
    """The case did not answer its query: no worker polls its task queue."""


class Refused(Exception):
    """What was asked cannot apply to the case as it stands; nothing was sent."""


def _handle(client: Client, invoice_id: str) -> WorkflowHandle[InvoiceDunning, DunningResult]:
    return client.get_workflow_handle_for(InvoiceDunning.run, workflow_id_for(check_id(invoice_id, "invoice id")))


async def read_case(client: Client, invoice_id: str) -> CaseStatus:
    try:
        return await _handle(client, invoice_id).query(InvoiceDunning.status, rpc_timeout=_QUERY_TIMEOUT)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise CaseNotFound(f"no case for invoice {invoice_id}") from error
        raise NoAnswer(f"{invoice_id} did not answer ({error.message}): is a worker running?") from error
    except WorkflowQueryFailedError as error:
        raise NoAnswer(f"{invoice_id} did not answer: {error}") from error


def _open(case: CaseStatus) -> None:
    if case.outcome is not None:
        raise Refused(f"{case.invoice_id} is closed ({case.outcome.value}): nothing to change")


@contextmanager
def _still_open(invoice_id: str) -> Iterator[None]:
    """Around a signal: a case that closed since it was read refuses it as not found."""
    try:
        yield
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        raise Refused(f"{invoice_id} closed since it was read: nothing changed") from error


# ------------------------------------------------------------------------------------------- policy


class Move(StrEnum):
    MOVED = "moved"
    UNCHANGED = "unchanged"
    WOULD_MOVE = "would move"
    CLOSED = "closed"
    MISSING = "no case"
    NO_ANSWER = "no answer"


@dataclass(frozen=True)
class PolicyMove:
    invoice_id: str
    outcome: Move
    before: str | None  # the version the case followed, when it answered
    detail: str = ""


def policy_event_id(policy: Policy, invoice_id: str) -> str:
    return f"policy:{policy.version}:{workflow_id_for(invoice_id)}"


async def move_to_policy(client: Client, invoice_id: str, policy: Policy, *, dry_run: bool = False) -> PolicyMove:
    """Move one case to `policy` from where it stands (domain.case_steering.change_policy)."""
    try:
        case = await read_case(client, invoice_id)
    except CaseNotFound:
        return PolicyMove(invoice_id, Move.MISSING, None)
    except NoAnswer as error:
        return PolicyMove(invoice_id, Move.NO_ANSWER, None, str(error))
    if case.outcome is not None:
        return PolicyMove(invoice_id, Move.CLOSED, case.policy_version, case.outcome.value)
    if case.policy_version == policy.version:
        return PolicyMove(invoice_id, Move.UNCHANGED, case.policy_version)
    if dry_run:
        return PolicyMove(invoice_id, Move.WOULD_MOVE, case.policy_version)
    change = PolicyChanged(policy=policy, event_id=policy_event_id(policy, invoice_id))
    try:
        await _handle(client, invoice_id).signal(InvoiceDunning.policy_changed, change)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return PolicyMove(invoice_id, Move.CLOSED, case.policy_version, "closed since it was read")
    after = await read_case(client, invoice_id)
    return PolicyMove(invoice_id, Move.MOVED, case.policy_version, _next(after))


async def move_many(
    client: Client, invoice_ids: Iterable[str], policy: Policy, *, dry_run: bool = False, concurrency: int = 16
) -> list[PolicyMove]:
    limit = asyncio.Semaphore(concurrency)

    async def one(invoice_id: str) -> PolicyMove:
        async with limit:
            return await move_to_policy(client, invoice_id, policy, dry_run=dry_run)

    return list(await asyncio.gather(*(one(i) for i in dict.fromkeys(invoice_ids))))


def selection_query(policy: Policy, *, segment: Segment | None, outdated: bool, query: str | None) -> str:
    """Running cases of a segment, not on `policy`, and/or matching the operator's own visibility query."""
    clauses = ["WorkflowType = 'InvoiceDunning'", "ExecutionStatus = 'Running'"]
    if segment is not None:
        clauses.append(f"{sa.SEGMENT.name} = {quote(segment.value)}")
    if outdated:
        # A case of the 2026-11 releases never published the attribute.
        version = sa.POLICY_VERSION.name
        clauses.append(f"({version} IS NULL OR {version} != {quote(policy.version)})")
    if query:
        clauses.append(f"({query})")
    return " AND ".join(clauses)


async def select_cases(client: Client, query: str) -> list[str]:
    return [execution.id.removeprefix(_PREFIX) async for execution in client.list_workflows(query)]


def _next(case: CaseStatus) -> str:
    if case.next_action is None:
        return f"stage {case.stage.value}, no next step"
    return f"stage {case.stage.value}, next {case.next_action.step}"


# ---------------------------------------------------------------------------------------- approvals


class Decision(StrEnum):
    APPROVE = "approve"
    HOLD = "hold"


@dataclass(frozen=True)
class Decided:
    invoice_id: str
    decision: Decision
    step: str
    outcome: str  # approved, already approved, held
    case: CaseStatus


async def decide(
    client: Client, invoice_id: str, decision: Decision, *, by: str, step: str | None, reason: str | None
) -> Decided:
    """Approve a gated step (the one the case waits on, or a named one in advance), or hold it."""
    case = await read_case(client, invoice_id)
    _open(case)
    waiting = case.awaiting_approval
    if decision is Decision.HOLD:
        if waiting is None:
            raise Refused(f"{invoice_id} is not waiting for an approval (stage {case.stage.value}): nothing to hold")
        if step is not None and step != waiting:
            raise Refused(f"{invoice_id} waits for the approval of {waiting}, not of {step}")
        if not reason:
            raise Refused("a hold needs a reason")
        digest = hashlib.sha256(f"{by}\n{reason}".encode()).hexdigest()[:16]
        held = EscalationHeld(step=waiting, by=by, reason=reason, event_id=f"hold:{waiting}:{digest}")
        with _still_open(invoice_id):
            await _handle(client, invoice_id).signal(InvoiceDunning.escalation_held, held)
        return Decided(invoice_id, decision, waiting, "held", await read_case(client, invoice_id))
    target = step or waiting
    if target is None:
        raise Refused(
            f"{invoice_id} is not waiting for an approval (stage {case.stage.value}):"
            ' name the step to approve in advance (--step, or "step")'
        )
    if _approvals(case, target):
        return Decided(invoice_id, decision, target, "already approved", case)
    approval = EscalationApproved(step=target, by=by)
    with _still_open(invoice_id):
        await _handle(client, invoice_id).signal(InvoiceDunning.escalation_approved, approval)
    after = await read_case(client, invoice_id)
    if not _approvals(after, target):
        raise Refused(f"{target} is not a step this case's ladder gates (approval = true): nothing approved")
    return Decided(invoice_id, decision, target, "approved", after)


def _approvals(case: CaseStatus, step: str) -> bool:
    """Whether the trail records an approval of `step` (domain.case_steering.approve writes it)."""
    mark = f"{step} approved by "
    return any(a.step == "escalation_approved" and (a.detail or "").startswith(mark) for a in case.actions)


# ----------------------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class SegmentMove:
    invoice_id: str
    before: Segment | None
    after: Segment
    changed: bool
    case: CaseStatus


async def change_segment(client: Client, invoice_id: str, segment: Segment, reason: str) -> SegmentMove:
    """Put the case on the ladder of `segment`, from where it stands; the reason goes on its trail."""
    case = await read_case(client, invoice_id)
    _open(case)
    if case.segment is segment:
        return SegmentMove(invoice_id, case.segment, segment, False, case)
    # No event id: a segment may go back and forth, and one already in place is not sent at all.
    with _still_open(invoice_id):
        await _handle(client, invoice_id).signal(
            InvoiceDunning.segment_changed, SegmentChanged(segment=segment, reason=reason)
        )
    return SegmentMove(invoice_id, case.segment, segment, True, await read_case(client, invoice_id))
