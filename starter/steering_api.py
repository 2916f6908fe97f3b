"""`POST /cases/{invoice_id}/policy|approval|segment`: what a person changes on a running case, behind
the bearer token like every product route. 404 no case, 409 refused as the case stands (not waiting
for an approval, closed, no such gated step), 503 the case did not answer (no worker)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from domain.models import CaseStatus, Segment
from domain.policy import Policy
from starter import steering
from starter.dispatch import Dispatcher


class PolicyMoveResponse(BaseModel):
    invoice_id: str
    outcome: Literal["moved", "unchanged"]
    policy_before: str | None
    policy_version: str
    detail: str = ""


class ApprovalRequest(BaseModel):
    decision: Literal["approve", "hold"]
    step: str | None = Field(default=None, min_length=1, max_length=64, description="default: the step it waits on")
    by: str = Field(min_length=1, max_length=100, description="who decides: a user id, not a name")
    reason: str | None = Field(default=None, min_length=1, max_length=300, description="required to hold")


class ApprovalResponse(BaseModel):
    invoice_id: str
    decision: str
    step: str
    outcome: str = Field(description="approved, already approved, held")
    case: CaseStatus


class SegmentRequest(BaseModel):
    segment: Segment
    reason: str = Field(min_length=1, max_length=300, description="on the case's trail; no personal data")


class SegmentResponse(BaseModel):
    invoice_id: str
    segment_before: Segment | None
    segment: Segment
    outcome: Literal["changed", "unchanged"]
    case: CaseStatus


@asynccontextmanager
async def _answers(invoice_id: str) -> AsyncIterator[None]:
    try:
        yield
    except steering.CaseNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case for invoice {invoice_id}") from error
    except steering.Refused as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    except steering.NoAnswer as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from error
    except ValueError as error:  # a malformed invoice id
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error


def steering_router(policy: Policy, dispatcher: Callable[[], Awaitable[Dispatcher]]) -> APIRouter:
    """`policy`: the one new cases start with, read when the API started."""
    router = APIRouter()
    Services = Annotated[Dispatcher, Depends(dispatcher)]

    @router.post(
        "/cases/{invoice_id}/policy",
        response_model=PolicyMoveResponse,
        summary="Move a case to the configured policy, from where it stands (idempotent)",
    )
    async def post_policy(invoice_id: str, services: Services) -> PolicyMoveResponse:
        async with _answers(invoice_id):
            move = await steering.move_to_policy(services.client, invoice_id, policy)
            if move.outcome is steering.Move.MISSING:
                raise steering.CaseNotFound(invoice_id)
            if move.outcome is steering.Move.NO_ANSWER:
                raise steering.NoAnswer(move.detail)
            if move.outcome is steering.Move.CLOSED:
                raise steering.Refused(f"{invoice_id} is closed ({move.detail}): nothing to move")
        outcome: Literal["moved", "unchanged"] = "moved" if move.outcome is steering.Move.MOVED else "unchanged"
        return PolicyMoveResponse(
            invoice_id=invoice_id,
            outcome=outcome,
            policy_before=move.before,
            policy_version=policy.version,
            detail=move.detail,
        )

    @router.post(
        "/cases/{invoice_id}/approval",
        response_model=ApprovalResponse,
        summary="Approve or hold the gated step a case waits on (or approve a named one in advance)",
    )
    async def post_approval(invoice_id: str, request: ApprovalRequest, services: Services) -> ApprovalResponse:
        if request.decision == "hold" and request.reason is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "reason: required to hold")
        async with _answers(invoice_id):
            done = await steering.decide(
                services.client,
                invoice_id,
                steering.Decision(request.decision),
                by=request.by,
                step=request.step,
                reason=request.reason,
            )
        return ApprovalResponse(
            invoice_id=invoice_id, decision=done.decision.value, step=done.step, outcome=done.outcome, case=done.case
        )

    @router.post(
        "/cases/{invoice_id}/segment",
        response_model=SegmentResponse,
        summary="Put a case on the ladder of another segment, from where it stands",
    )
    async def post_segment(invoice_id: str, request: SegmentRequest, services: Services) -> SegmentResponse:
        async with _answers(invoice_id):
            moved = await steering.change_segment(services.client, invoice_id, request.segment, request.reason)
        return SegmentResponse(
            invoice_id=invoice_id,
            segment_before=moved.before,
            segment=moved.after,
            outcome="changed" if moved.changed else "unchanged",
            case=moved.case,
        )

    return router
