"""A local stand-in for the Merci Facteur API 1.2: the adapter's real HTTP client talks to it.

It checks the getToken signature and every access token, records each letter it accepts (that is
what "posted" means for a provider), keeps a status history and proofs per letter that a test
writes, and answers from scripts so tests can simulate 401/429/5xx, refusals, a malformed answer
and a provider that takes the letter and then hangs.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_http import LocalServer

SERVICE_ID = "service-test"
SECRET_KEY = "secret-test"


@dataclass
class FakeMerciFacteur(LocalServer):
    token_lifetime_seconds: int = 86_400
    # Every accepted sendCourrier: mode, addresses, the decoded PDF, antidoublon, envoi id.
    letters: list[dict[str, Any]] = field(default_factory=list)
    # Every request received, as (operation, HTTP status answered).
    requests: list[tuple[str, int]] = field(default_factory=list)
    tokens_issued: list[str] = field(default_factory=list)
    # Answers to sendCourrier, in order, before the normal one: an HTTP status, "refuse" (200 with
    # success false), "malformed" (accepted, then garbage) or "hang" (accepted, then no answer).
    send_script: deque[int | str] = field(default_factory=deque)
    # Answers to getSuiviEnvoi before the normal one: an HTTP status, or "garbled" (a bad history).
    track_script: deque[int | str] = field(default_factory=deque)
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    proofs: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    _valid_tokens: dict[str, int] = field(default_factory=dict)
    _antidoublons: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{super().url}/api/1.2/prod/service"

    def tracking_number(self, envoi_id: str) -> str:
        return f"2C{int(envoi_id):09d}"

    def advance(self, envoi_id: str, code: str, at: int) -> None:
        self.histories[envoi_id].append({"statut_courrier": code, "date": at})

    def add_proof(self, envoi_id: str, document: str, content: bytes, fmt: str) -> None:
        self.proofs[(self.tracking_number(envoi_id), document)] = (content, fmt)

    def expire_tokens(self) -> None:
        """The provider forgets every token it gave out: the next call with one answers 401."""
        self._valid_tokens.clear()

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._dispatch()

            def do_POST(self) -> None:
                self._dispatch()

            def _dispatch(self) -> None:
                parts = urlsplit(self.path)
                operation = parts.path.rsplit("/", 1)[-1]
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if operation == "getToken":
                    self._get_token()
                elif not self._authorized():
                    self._json(401, {"success": False, "error": {"code": "INVALID_TOKEN", "text": "token"}})
                elif operation == "sendCourrier":
                    length = int(self.headers.get("Content-Length", "0"))
                    form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                    self._send_courrier(form)
                elif operation == "getSuiviEnvoi":
                    self._get_suivi(query["idEnvoi"])
                elif operation == "getProof":
                    self._get_proof(query["trackingNumber"], query["document"])
                else:
                    self._json(404, {"success": False, "error": {"code": "UNKNOWN_OPERATION"}})

            def _get_token(self) -> None:
                timestamp = self.headers.get("ww-timestamp", "")
                expected = hmac.new(SECRET_KEY.encode(), (SERVICE_ID + timestamp).encode(), hashlib.sha256)
                fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
                if (
                    self.headers.get("ww-service-id") != SERVICE_ID
                    or not fresh
                    or not hmac.compare_digest(expected.hexdigest(), self.headers.get("ww-service-signature", ""))
                ):
                    self._json(401, {"success": False, "error": {"code": "INVALID_SIGNATURE", "text": "hash"}})
                    return
                token = uuid.uuid4().hex
                expire = int(time.time()) + fake.token_lifetime_seconds
                fake._valid_tokens[token] = expire
                fake.tokens_issued.append(token)
                self._json(200, {"success": True, "token": token, "expire": expire})

            def _authorized(self) -> bool:
                expire = fake._valid_tokens.get(self.headers.get("ww-access-token", ""))
                return self.headers.get("ww-service-id") == SERVICE_ID and expire is not None and expire > time.time()

            def _send_courrier(self, form: dict[str, str]) -> None:
                answer = fake.send_script.popleft() if fake.send_script else "ok"
                if isinstance(answer, int):
                    self._json(answer, {"success": False, "error": {"code": "SCRIPTED", "text": str(answer)}})
                    return
                if answer == "refuse" or form.get("antidoublon") in fake._antidoublons:
                    self._json(200, {"success": False, "error": {"code": "INFO_ADDRESS_MISSING", "text": "adresse"}})
                    return
                content = json.loads(form["content"])
                with fake._lock:
                    envoi_id = str(1000 + len(fake.letters))
                    fake.letters.append(
                        {
                            "envoi_id": envoi_id,
                            "user": form["idUser"],
                            "mode": form["modeEnvoi"],
                            "adress": json.loads(form["adress"]),
                            "pdf": base64.b64decode(content["letter"]["base64files"][0]),
                            "content": content,
                            "antidoublon": form.get("antidoublon"),
                        }
                    )
                    fake._antidoublons.add(form.get("antidoublon", ""))
                    fake.histories[envoi_id] = [{"statut_courrier": "wait", "date": int(time.time())}]
                if answer == "hang":
                    fake.hold()
                if answer == "malformed":
                    self._raw(200, b"<html>Service momentanement indisponible</html>")
                    return
                self._json(200, {"success": True, "envoi_id": int(envoi_id), "resume": {"nb_dest": 1}})

            def _get_suivi(self, envoi_id: str) -> None:
                answer = fake.track_script.popleft() if fake.track_script else "ok"
                if isinstance(answer, int):
                    self._json(answer, {"success": False, "error": {"code": "SCRIPTED"}})
                    return
                history: Any = "<table>historique</table>" if answer == "garbled" else fake.histories[envoi_id]
                letter = fake.letters[int(envoi_id) - 1000]
                self._json(
                    200,
                    {
                        "success": True,
                        "statutPrintEnvoi": "imprime",
                        "suiviCourrier": [
                            {
                                "dest": "withheld",
                                "ref_courrier": f"{envoi_id}-1",
                                "ref_tracking": fake.tracking_number(envoi_id),
                                "mode_envoi": letter["mode"],
                                "last_state": fake.histories[envoi_id][-1]["statut_courrier"],
                                "historique": history,
                                "pnd": "0",
                            }
                        ],
                    },
                )

            def _get_proof(self, tracking_number: str, document: str) -> None:
                proof = fake.proofs.get((tracking_number, document))
                if proof is None:
                    self._json(200, {"success": False, "error": {"code": "PROOF_NOT_AVAILABLE"}})
                    return
                content, fmt = proof
                self._json(200, {"success": True, "format_return": fmt, "document": base64.b64encode(content).decode()})

            def _json(self, status: int, body: dict[str, Any]) -> None:
                self._raw(status, json.dumps(body).encode())

            def _raw(self, status: int, payload: bytes) -> None:
                fake.requests.append((urlsplit(self.path).path.rsplit("/", 1)[-1], status))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    # The client gave up waiting (the "hang" script): nobody reads this answer.
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.serve(Handler)
