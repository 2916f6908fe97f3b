"""A cap on request bodies, for the apps that take bodies from outside (the ingress API, the codec server).

Uvicorn accepts whatever a client sends and the routes read bodies whole (`await request.body()`):
without a cap one request could take the memory of the process. A body declaring a Content-Length over
the cap is refused before anything is read; one that does not (chunked) is counted as the route reads
it and refused as soon as it passes the cap, before the route has parsed or applied any of it.

Starlette's own limit (`max_body_size`) answers a bare "Content Too Large"; this one names the limit and
the setting that moves it.
"""

from collections.abc import Callable

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1024 * 1024


def _message(limit: int, variable: str) -> str:
    return f"request body over {limit} bytes ({variable}): nothing was applied; send less per request"


class BodyLimit:
    """ASGI middleware: 413 for a body over `limit_for(path)`, which gives the limit and its setting."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], tuple[int, str]]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, variable = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            response = JSONResponse({"detail": _message(limit, variable)}, status.HTTP_413_CONTENT_TOO_LARGE)
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # Raised inside the route's read: FastAPI passes an HTTPException on to its handler.
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, _message(limit, variable))
            return message

        await self.app(scope, counted, send)
