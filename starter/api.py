"""HTTP API of the ingress: billing events in, bank statements in, cases out.

`create_app(settings, client)` builds the app; tests pass the test server's client, `dunning serve`
passes none and the app connects with `dunning.client.connect()` at its first request. Every route
but the docs (`/docs`, `/openapi.json`) requires `Authorization: Bearer $DUNNING_API_TOKEN`; a wrong or
missing token gets 401 before anything is read or applied. The provider webhooks (starter/webhooks.py)
are checked by the provider's signature instead. Bodies are capped (starter/body_limit.py): bank files at
DUNNING_MAX_BANK_FILE_BYTES, everything else at DUNNING_MAX_BODY_BYTES; over it, 413 and nothing applied.

Resources (Temporal client, SQLite stores) are opened lazily inside the serving event loop, since the
stores are SQLite connections bound to the thread that opened them.
"""

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.models import CaseStatus, Stage
from dunning.client import connect
from dunning.codec import CodecKeys
from dunning.rates import penalty_policy
from dunning.settings import IngressSettings as IngressSettings  # where the API and its callers found it
from dunning.settings import PenaltySettings
from starter import cases, metrics
from starter.bank import BankFileRejected, Journal, LineReason, ReconciliationReport
from starter.body_limit import BodyLimit
from starter.call_log import CallLog, log_call
from starter.dispatch import Dispatcher
from starter.events import EVENT, EVENT_BATCH, Event, describe_errors
from starter.ops_api import metrics_router, probes_router
from starter.penalties_api import penalties_router
from starter.reconcile import AlreadySettled, assign_line, import_bank_file, journal_path
from starter.reports import reports_router
from starter.store import IngressStore
from starter.webhooks import router as webhook_router

_MAX_BATCH = 1000
BANK_STATEMENTS_PATH = "/bank-statements"


class EventResult(BaseModel):
    event_id: str
    outcome: str
    detail: str | None = Field(default=None, description="why an `ignored` event was ignored")


class EventsResponse(BaseModel):
    results: list[EventResult]


class BankImportResponse(BaseModel):
    source: str
    report: ReconciliationReport
    errors: list[str]
    unmatched: list[LineReason]
    delivered: dict[str, int]


class Assignment(BaseModel):
    line_id: str
    invoice_id: str
    force: bool = Field(default=False, description="apply even if the case is already settled or overpaid")


class AssignmentResponse(BaseModel):
    payment_id: str
    invoice_id: str
    amount: str
    outcome: str
    balance: str = Field(description="the case's balance after this payment; negative when overpaid")
    delivered: dict[str, int]


class _Services:
    def __init__(self, settings: IngressSettings, client: Client | None) -> None:
        self.settings = settings
        self._client = client
        self._dispatcher: Dispatcher | None = None
        self._journal: Journal | None = None

    async def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            client = self._client or await connect(self.settings.temporal)
            store = IngressStore.in_dir(self.settings.var_dir)
            self._dispatcher = Dispatcher(client, store, self.settings.temporal.task_queue, self.settings.policy)
        return self._dispatcher

    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(journal_path(self.settings.var_dir))
        return self._journal

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
        if self._dispatcher is not None:
            self._dispatcher.store.close()


def create_app(settings: IngressSettings, client: Client | None = None) -> FastAPI:
    if not settings.api_token:
        raise ValueError("DUNNING_API_TOKEN is empty: set it (e.g. `openssl rand -hex 32`) before serving the API")
    if client is None:
        # The client comes at the first request; bad codec keys must stop `dunning serve` now instead.
        CodecKeys.from_env()
    services = _Services(settings, client)
    # The operator's rates file is read once, here: a malformed one stops the API from starting.
    policy = penalty_policy(PenaltySettings(var_dir=settings.var_dir))
    bearer = HTTPBearer(auto_error=False, description="the value of DUNNING_API_TOKEN")

    def authorised(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), settings.api_token.encode()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or wrong bearer token (Authorization: Bearer $DUNNING_API_TOKEN)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    router = APIRouter(dependencies=[Depends(authorised)])
    Services = Annotated[Dispatcher, Depends(services.dispatcher)]

    @router.post(
        "/events",
        response_model=EventsResponse,
        response_model_exclude_none=True,  # `detail` only on the events that have one
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": EVENT_BATCH.json_schema(ref_template="#/$defs/{model}")}},
            }
        },
        summary="Apply one billing event or a batch (all or nothing on validation)",
    )
    async def post_events(request: Request, dispatcher: Services) -> EventsResponse:
        results = []
        for event in _parse_events(await request.body()):
            handled = await dispatcher.apply(event)
            metrics.count_event(handled.applied.value)
            results.append(EventResult(event_id=event.event_id, outcome=handled.applied.value, detail=handled.detail))
        return EventsResponse(results=results)

    @router.post(
        BANK_STATEMENTS_PATH,
        response_model=BankImportResponse,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/xml": {"schema": {"type": "string"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        },
        summary="Import a camt.052/053/054 or CSV bank file (raw body)",
    )
    async def post_bank_statement(
        request: Request,
        dispatcher: Services,
        filename: Annotated[str, Query(description="name shown in reports and errors")] = "upload",
        partial: Annotated[bool, Query(description="import the valid entries of a file with errors")] = False,
    ) -> BankImportResponse:
        try:
            result = await import_bank_file(
                await request.body(),
                filename,
                dispatcher=dispatcher,
                journal=services.journal(),
                partial=partial,
                concurrency=settings.concurrency,
            )
        except BankFileRejected as rejected:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                {
                    "message": "file rejected, nothing imported; "
                    + ("fix it or send partial=true" if rejected.valid else "it has no valid line, fix it"),
                    "errors": [str(e) for e in rejected.errors],
                },
            ) from rejected
        metrics.count_bank_import(result.report)
        return BankImportResponse(
            source=result.source,
            report=result.report,
            errors=[str(error) for error in result.errors],
            unmatched=result.plan.unmatched,
            delivered=result.delivered,
        )

    @router.get("/bank/unmatched", response_model=list[LineReason], summary="The unmatched bank lines")
    async def get_unmatched() -> list[LineReason]:
        return services.journal().unmatched()

    @router.post("/bank/assignments", response_model=AssignmentResponse, summary="Put an unmatched line on an invoice")
    async def post_assignment(assignment: Assignment, dispatcher: Services) -> AssignmentResponse:
        try:
            done = await assign_line(
                assignment.line_id,
                assignment.invoice_id,
                dispatcher=dispatcher,
                journal=services.journal(),
                force=assignment.force,
            )
        except KeyError as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error.args[0])) from error
        except AlreadySettled as error:
            raise HTTPException(status.HTTP_409_CONFLICT, f"{error} Send force=true to apply it anyway.") from error
        except ValueError as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        return AssignmentResponse(
            payment_id=done.allocation.payment_id,
            invoice_id=done.allocation.invoice_id,
            amount=str(done.allocation.amount),
            outcome=done.allocation.outcome,
            balance=str(done.balance_after),
            delivered=done.delivered,
        )

    @router.get("/cases/{invoice_id}", response_model=CaseStatus, summary="One case's status (always current)")
    async def get_case(invoice_id: str, dispatcher: Services) -> CaseStatus:
        try:
            return await cases.case_status(dispatcher.client, invoice_id, policy=policy)
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case for invoice {invoice_id}") from error
            raise

    @router.get("/cases", response_model=list[cases.CaseRow], summary="Cases by stage and customer (lags ~1 s)")
    async def get_cases(
        dispatcher: Services,
        stage: Stage | None = None,
        customer_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = cases.DEFAULT_LIMIT,
    ) -> list[cases.CaseRow]:
        try:
            return await cases.list_cases(
                dispatcher.client, stage=stage.value if stage else None, customer_id=customer_id, limit=limit
            )
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error

    @router.get("/calls", response_model=list[cases.CallRow], summary="Open call tasks (lags ~1 s)")
    async def get_calls(dispatcher: Services) -> list[cases.CallRow]:
        return await cases.list_calls(dispatcher.client)

    @router.post("/calls/{invoice_id}/{step}", response_model=EventResult, summary="Log a call and close its task")
    async def post_call(invoice_id: str, step: str, log: CallLog, dispatcher: Services) -> EventResult:
        try:
            event_id, handled = await log_call(dispatcher, invoice_id, step, log)
        except ValidationError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, describe_errors(error)) from error
        return EventResult(event_id=event_id, outcome=handled.applied.value, detail=handled.detail)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    app = FastAPI(
        title="Dunning ingress",
        version="1",
        description="Billing events and bank statements in, dunning cases out. Bearer token: DUNNING_API_TOKEN.",
        lifespan=lifespan,
    )
    router.include_router(penalties_router(policy, services.dispatcher))
    router.include_router(reports_router(services.dispatcher))
    router.include_router(metrics_router())
    app.include_router(router)
    app.include_router(probes_router(services.dispatcher))  # no bearer token: asked by orchestrators
    app.include_router(webhook_router(settings.webhooks, services.dispatcher))  # signed, no bearer token
    app.add_middleware(
        BodyLimit,
        limit_for=lambda path: (
            (settings.max_bank_file_bytes, "DUNNING_MAX_BANK_FILE_BYTES")
            if path == BANK_STATEMENTS_PATH
            else (settings.max_body_bytes, "DUNNING_MAX_BODY_BYTES")
        ),
    )
    return app


def _parse_events(body: bytes) -> list[Event]:
    """All events of the request or a 422 naming each bad one: a batch is applied only if all are valid."""
    try:
        payload: Any = json.loads(body)
    except json.JSONDecodeError as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"errors": [f"body: invalid JSON: {error.msg} at line {error.lineno}"]},
        ) from error
    batch = payload if isinstance(payload, list) else [payload]
    if len(batch) > _MAX_BATCH:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"at most {_MAX_BATCH} events per request")
    events: list[Event] = []
    errors: list[str] = []
    for index, item in enumerate(batch):
        try:
            events.append(EVENT.validate_python(item))
        except ValidationError as error:
            where = f"event {index}: " if isinstance(payload, list) else ""
            errors += [where + message for message in describe_errors(error)]
    if errors:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {"errors": errors})
    return events
