"""A local stand-in for the Twilio Messages API: the real `twilio` client talks HTTP to it.

The client has no host setting, so `FakeTwilio.http_client()` gives it an HTTP client that sends
what it would send to https://api.twilio.com to this server instead. Like FakeSendGrid it records
every request and answers from a script of statuses ("hang" holds the answer until `release()`).
"""

import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from tests.fake_http import LocalServer

TWILIO_API = "https://api.twilio.com"


class RedirectedHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no type hints
    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        response: Response = super().request(method, url.replace(TWILIO_API, self._base_url), *args, **kwargs)
        return response


@dataclass
class FakeTwilio(LocalServer):
    requests: list[dict[str, str]] = field(default_factory=list)
    script: deque[int | str] = field(default_factory=deque)

    def http_client(self, timeout: float = 10.0) -> RedirectedHttpClient:
        return RedirectedHttpClient(self.url, timeout)

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = dict(parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                answer = fake.script.popleft() if fake.script else 201
                fake.requests.append({"path": self.path, "authorization": self.headers["Authorization"], **form})
                if answer == "hang":
                    fake.hold()
                    answer = 201
                assert isinstance(answer, int)
                if answer == 201:
                    payload: dict[str, Any] = {"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": form["To"]}
                else:
                    payload = {"code": 20001, "message": f"scripted {answer}", "more_info": "", "status": answer}
                data = json.dumps(payload).encode()
                self.send_response(answer)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.serve(Handler)
