"""The worker's probes, for compose's healthcheck and Kubernetes' liveness and readiness probes, on
DUNNING_WORKER_HEALTH_ADDRESS (`host:port`; off when unset):

- `GET /healthz`: 200 while the worker polls its task queue, 503 once it has stopped (a fatal error, a
  shutdown under way): restart it;
- `GET /readyz`: 200 when Temporal also answers its health check within 2 s, 503 otherwise.

The worker has no web framework of its own (its metrics come from the Temporal runtime's exporter), and
two fixed answers need none: a few lines of asyncio on the worker's own event loop. Bodies are JSON
like the API's probes (starter/ops_api.py); nothing about cases is ever served here.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import Client

_READY_TIMEOUT = timedelta(seconds=2)
# A probe that does not send its request line within this long is dropped.
_READ_TIMEOUT_SECONDS = 5
_MAX_HEADER_LINES = 100
log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[dict[str, str] | None]]


def split_address(address: str) -> tuple[str, int]:
    """`host:port` (host may be empty for every interface); ValueError naming what is wrong."""
    host, colon, port = address.strip().rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not host:port (e.g. 0.0.0.0:8090)")
    return host.strip("[]") or "0.0.0.0", int(port)


def temporal_probe(client: Client) -> Probe:
    """None when Temporal answers, else why not (the error's type: no address or detail is served)."""

    async def probe() -> dict[str, str] | None:
        try:
            if not await client.service_client.check_health(timeout=_READY_TIMEOUT):
                return {"temporal": "not serving"}
        except Exception as error:  # whatever keeps us from Temporal makes us not ready, and says why
            log.warning("not ready: Temporal unreachable: %s", type(error).__name__)
            return {"temporal": type(error).__name__}
        return None

    return probe


async def serve_probes(address: str, live: Callable[[], bool], ready: Probe) -> asyncio.Server:
    """Listen on `address`; close the returned server to stop."""

    async def answer(path: str) -> tuple[int, dict[str, str]]:
        if path == "/healthz":
            return (200, {"status": "ok"}) if live() else (503, {"status": "stopped"})
        if path == "/readyz":
            if not live():
                return 503, {"status": "stopped"}
            problem = await ready()
            return (200, {"status": "ok"}) if problem is None else (503, {"status": "unavailable", **problem})
        return 404, {"detail": "only /healthz and /readyz here"}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT_SECONDS)
            for _ in range(_MAX_HEADER_LINES):  # the headers say nothing a probe needs
                if (await asyncio.wait_for(reader.readline(), _READ_TIMEOUT_SECONDS)).strip() == b"":
                    break
            method, path, *_ = request.decode("latin-1").split() or ["", ""]
            code, body = (await answer(path.partition("?")[0])) if method == "GET" else (405, {"detail": "GET only"})
            payload = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[code]
            writer.write(
                f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass  # a client gone or speaking something else: nothing to answer
        finally:
            writer.close()

    host, port = split_address(address)
    return await asyncio.start_server(handle, host, port)
