"""`GET /cases/{invoice_id}/penalties`: a running case's penalties to date (or to `as_of`), computed
when read from the case's payments, credit notes and formal notice, with the rates the API loaded at start."""

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from temporalio.service import RPCError, RPCStatusCode

from domain.calendar import paris_date
from domain.models import PenaltyStatement
from domain.penalties import PenaltyPolicy
from domain.rates import MissingRate
from starter import cases
from starter.dispatch import Dispatcher


def penalties_router(policy: PenaltyPolicy, dispatcher: Callable[[], Awaitable[Dispatcher]]) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/cases/{invoice_id}/penalties",
        response_model=PenaltyStatement,
        summary="A case's late penalties, indemnity and total due (409 when a rate is not known)",
    )
    async def get_penalties(
        invoice_id: str,
        services: Annotated[Dispatcher, Depends(dispatcher)],
        as_of: Annotated[date | None, Query(description="a Paris day; default today")] = None,
    ) -> PenaltyStatement:
        day = as_of or paris_date(datetime.now(UTC))
        try:
            return await cases.case_penalties(services.client, invoice_id, policy, day)
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
        except MissingRate as error:
            # Never a guessed amount: the operator adds the semester (`dunning rates add`).
            raise HTTPException(status.HTTP_409_CONFLICT, f"not computed: {error}") from error
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case for invoice {invoice_id}") from error
            raise

    return router
