"""What an orchestrator and Prometheus ask the API: `/healthz` (the process answers) and `/readyz`
(Temporal answers too), both without the bearer token, and `/metrics`, behind it like every product route
(a scrape config sends it: `authorization: {credentials: ...}`)."""

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import APIRouter, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from starter.dispatch import Dispatcher

_READY_TIMEOUT = timedelta(seconds=2)
log = logging.getLogger(__name__)


def probes_router(dispatcher: Callable[[], Awaitable[Dispatcher]]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Temporal is reachable (503 if not)")
    async def readyz(response: Response) -> dict[str, str]:
        try:
            client = (await dispatcher()).client
            if not await client.service_client.check_health(timeout=_READY_TIMEOUT):
                raise ConnectionError("Temporal reports itself not serving")
        except Exception as error:  # whatever stops us reaching Temporal makes us not ready, and says why
            log.warning("not ready: Temporal unreachable: %s", type(error).__name__)
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            return {"status": "unavailable", "temporal": type(error).__name__}
        return {"status": "ok"}

    return router


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", summary="Prometheus metrics of this process", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
