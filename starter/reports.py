"""The book as of a day, read from Temporal for `dunning report` and `GET /reports/aging`: every case from
visibility (it lags a second or so), then each one's `status` query for its trail."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.calendar import PARIS, paris_date
from domain.models import CaseStatus
from starter import cases
from starter.aging import AgingReport, aging_report
from starter.dispatch import Dispatcher

# Enough for a year of a mid-sized business's invoices; a bigger book wants a warehouse, not this.
MAX_CASES = 100_000


async def book_statuses(client: Client, as_of: date, *, concurrency: int = 16) -> list[CaseStatus]:
    """Every case's status read at noon (Paris) on `as_of`; a case gone since it was listed is left out."""
    rows = await cases.list_cases(client, limit=MAX_CASES)
    reading = datetime.combine(as_of, time(12), PARIS)
    limit = asyncio.Semaphore(concurrency)

    async def read(invoice_id: str) -> CaseStatus | None:
        async with limit:
            try:
                return await cases.case_status(client, invoice_id, reading)
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    return None
                raise

    found = await asyncio.gather(*(read(row.invoice_id) for row in rows))
    return [status for status in found if status is not None]


async def book_report(client: Client, as_of: date | None = None) -> AgingReport:
    day = as_of or paris_date(datetime.now(UTC))
    return aging_report(await book_statuses(client, day), day)


def reports_router(dispatcher: Callable[[], Awaitable[Dispatcher]]) -> APIRouter:
    router = APIRouter()

    @router.get("/reports/aging", response_model=AgingReport, summary="Open amounts by stage and age, DSO, recovery")
    async def get_aging(
        services: Annotated[Dispatcher, Depends(dispatcher)],
        as_of: Annotated[date | None, Query(description="the day ages are counted on (Paris); default today")] = None,
    ) -> AgingReport:
        return await book_report(services.client, as_of)

    return router
