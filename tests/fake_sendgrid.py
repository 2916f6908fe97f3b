"""A local stand-in for the SendGrid v3 API: the real `sendgrid` client talks HTTP to it.

It records every request it receives (that is what "sent" means for a provider) and answers from a
script of statuses, so tests can simulate 429/5xx/4xx answers and a provider that hangs.
"""

import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fake_http import LocalServer


@dataclass
class FakeSendGrid(LocalServer):
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Statuses to answer, in order; 202 once exhausted. "hang" holds the answer until `release()`.
    script: deque[int | str] = field(default_factory=deque)

    def steps(self) -> list[str]:
        return [r["custom_args"]["step"] for r in self.requests]

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = fake.script.popleft() if fake.script else 202
                fake.requests.append(
                    {
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "custom_args": body.get("custom_args", {}),
                        "subject": body["subject"],
                        "to": body["personalizations"][0]["to"][0]["email"],
                        "text": next(c["value"] for c in body["content"] if c["type"] == "text/plain"),
                        "attachments": body.get("attachments", []),
                        "answer": answer,
                    }
                )
                if answer == "hang":
                    fake.hold()
                    answer = 202
                assert isinstance(answer, int)
                self.send_response(answer)
                if answer == 202:
                    self.send_header("X-Message-Id", uuid.uuid4().hex)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    payload = json.dumps({"errors": [{"message": f"scripted {answer}"}]}).encode()
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.serve(Handler)
