"""What every local stand-in of a provider shares: a loopback server on a free port, in a thread,
and a way to hold an answer (the "hang" scripts) until the test releases it or stops the server."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol, TypeVar


@dataclass
class LocalServer:
    _release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def release(self) -> None:
        self._release.set()

    def hold(self, seconds: float = 60) -> None:
        """Called by a handler: wait for `release()` (or the end of the test) before answering."""
        self._release.wait(timeout=seconds)

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class Startable(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


def running(server: S) -> Iterator[S]:
    """For a fixture: `yield from running(FakeX())` serves it for the test and stops it after."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
