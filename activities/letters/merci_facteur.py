"""Merci Facteur (API 1.2): registered letters printed and posted by La Poste, or sent electronically.

Why this provider: one API posts a paper LRAR and sends an electronic registered letter, and the
law requires paper for a consumer who has not consented to electronic delivery (CPCE L100). Its
status history and proofs can be fetched by polling (`getSuiviEnvoi`, `getProof`), which needs no
public URL. AR24 is electronic only and Maileva needs OAuth2 and a second API for notifications.

Paper letters go as `lrare`: the same legal value as `lrar`, but the signed receipt comes back to
Merci Facteur, which scans it and serves it through `getProof`; with `lrar` it would only reach the
creditor's letterbox and the case file could never hold it. Electronic letters go as
`ere_otp_mail` (the recipient proves who they are with a code sent to the letter's e-mail).
Caution: Merci Facteur describes its electronic letter as meeting eIDAS art. 43 ("niveau simple"),
not art. 44 (qualified). Only a qualified service is the legal equivalent of a paper LRAR (CPCE
L100), so paper, the default, is the safe choice for a formal notice.

Verified against the provider's public documentation (API page at merci-facteur.com/api/1.2 and
the MerciFacteur/Merci-facteur-API repository: README, hash-secret-key, the official PHP client v2
and its guides on sending and on proofs), never against the live service:
- `getToken`: GET with `ww-service-id`, `ww-timestamp` (Unix seconds) and `ww-service-signature`
  = lower-case hex HMAC-SHA256 of service id + timestamp keyed by the secret key (valid 5 min),
  optional `ww-authorized-ip`; answers `{"success", "token", "expire"}` (Unix seconds, 24 h).
  Every other call carries `ww-service-id` and `ww-access-token`; an expired token answers 401.
- `sendCourrier`: form-encoded POST; `adress` and `content` are JSON strings; every address key
  present, unused ones `""`; `content.letter.base64files` a list of base64 PDFs, empty parts `""`;
  `consent: 1` and an e-mail on both ends of an electronic letter; `reference` at most 30 of
  [A-Za-z0-9 _-] (printed on the receipt); `antidoublon` (<= 200 chars) refuses a second letter
  with the same value for 30 days. Answers `{"success": true, "envoi_id": ...}`; a refusal is
  `{"success": false, "error": ...}`. `getProof?trackingNumber=&document=depot|reception` answers
  base64 `document` and `format_return` (pdf or jpeg); the tracking number is La Poste's, not the
  envoi id. The status codes are those of the provider's guide (see `activities.letters.tracking`).
Inferred (the public schema gives only names and types; to confirm on a sandbox account):
- `getSuiviEnvoi?idEnvoi=` answers `suiviCourrier`, one entry per recipient, with `ref_tracking`,
  `last_state` and `historique`; we read `historique` as a list (or a JSON string of a list) of
  `{"statut_courrier": code, "date": Unix seconds}`, the names the webhooks use.
- HTTP statuses: 429 and 5xx are taken as "not processed" like any API; a refusal may come as
  HTTP 200 or 400 with `success: false`. A proof not produced yet answers `success: false`.
- Only France is mapped to a country name ("FRANCE", as in the provider's examples); other
  countries are refused until their spelling is checked against `getCountry`.

The recipient's name goes in `societe` (a required name field that takes 90 characters); the
reference printed on the receipt is the opaque message id, never an invoice number.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx

from activities.delivery import InDoubtDeliveryError, PermanentDeliveryError, Receipt, TransientDeliveryError
from activities.letters.postal import (
    Letter,
    ProofDocument,
    ProviderEvent,
    ProviderTracking,
    TrackingRefused,
    TrackingUnavailable,
)
from domain.tracking import ProofKind
from dunning.settings import Creditor

API_URL = "https://www.merci-facteur.com/api/1.2/prod/service"
# The official client allows 120 s; a letter is a few hundred KB, so 30 s leaves margin while an
# activity slot is not held for minutes (the activity's start-to-close timeout must exceed it).
HTTP_TIMEOUT_SECONDS = 30.0
# Renewed a little before it expires, so that no call leaves with a token about to die.
TOKEN_MARGIN = timedelta(minutes=5)
COUNTRIES = {"FR": "FRANCE"}
PROOF_DOCUMENTS = {ProofKind.DEPOSIT: "depot", ProofKind.RECEIPT: "reception"}
_SENDER_ADDRESS = re.compile(r"^(?P<street>.+?),\s*(?P<postcode>\d{5})\s+(?P<city>.+)$")


class PostalMode(StrEnum):
    PAPER = "paper"
    ELECTRONIC = "electronic"


class _Unreachable(Exception):
    """Failed before the request was written: the provider has certainly not received it."""


class _NoAnswer(Exception):
    """Failed after the request may have been written: it may have been received."""


class _Refusal(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"HTTP {status}: {error}")
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500


class _Malformed(Exception):
    """A success that does not say what a success must say."""


class _CredentialsRefused(Exception):
    """getToken refused the service id or the signature: nothing works until a person fixes them."""


def _address(
    name: str, lines: list[str], postcode: str, city: str, country: str, email: str, reference: str
) -> dict[str, Any]:
    pays = COUNTRIES.get(country)
    if pays is None:
        raise PermanentDeliveryError(f"no Merci Facteur country name known for {country}")
    return {
        "civilite": "",
        "nom": "",
        "prenom": "",
        "societe": name[:90],
        "adresse1": lines[0][:90] if lines else "",
        "adresse2": lines[1][:90] if len(lines) > 1 else "",
        "adresse3": " ".join(lines[2:])[:90],
        "cp": postcode,
        "ville": city[:70],
        "pays": pays,
        "phone": "",
        "email": email,
        "consent": 1 if email else 0,
        "reference": reference,
    }


class MerciFacteurLetters:
    name = "merci_facteur"

    def __init__(
        self,
        service_id: str,
        secret_key: str,
        user_id: int,
        sender: Creditor,
        mode: PostalMode = PostalMode.PAPER,
        api_url: str = API_URL,
        authorized_ip: str | None = None,
        timeout: float = HTTP_TIMEOUT_SECONDS,
    ) -> None:
        match = _SENDER_ADDRESS.match(sender.address)
        if match is None:
            raise ValueError(f"creditor address {sender.address!r} is not 'street, postcode city'")
        self._sender = sender
        self._sender_lines = [match["street"]]
        self._sender_postcode = match["postcode"]
        self._sender_city = match["city"]
        self._service_id = service_id
        self._secret_key = secret_key
        self._user_id = user_id
        self._mode = mode
        self._authorized_ip = authorized_ip
        self._http = httpx.Client(base_url=api_url.rstrip("/") + "/", timeout=timeout)
        # Activities run in a thread pool: one token shared by all, fetched by one thread at a time.
        self._token_lock = threading.Lock()
        self._token: tuple[str, datetime] | None = None

    # ---------------------------------------------------------------------------------- sending

    def send(self, message: Letter) -> Receipt:
        if not message.pdf:
            raise PermanentDeliveryError(f"{message.message_id}: no rendered PDF to post")
        electronic = self._mode is PostalMode.ELECTRONIC and message.electronic_allowed and bool(message.email)
        form = {
            "idUser": str(self._user_id),
            "modeEnvoi": ("ere_otp_mail" if electronic else "lrare") if message.registered else "normal",
            "adress": json.dumps(self._addresses(message, electronic), ensure_ascii=False),
            "content": json.dumps(
                {
                    "letter": {
                        "files": "",
                        "base64files": [base64.b64encode(message.pdf).decode("ascii")],
                        "print_sides": "recto",
                    },
                    "photo": "",
                    "card": "",
                }
            ),
            # A second letter with the same value is refused for 30 days: a last guard behind the
            # sent-ledger, should a request we took for unsent have reached the provider after all.
            "antidoublon": message.message_id,
        }
        try:
            answer = self._authorized("POST", "sendCourrier", data=form)
        except _Unreachable as err:
            raise TransientDeliveryError(f"Merci Facteur unreachable: {err}") from err
        except _CredentialsRefused as err:
            raise PermanentDeliveryError(f"Merci Facteur refused the credentials: {err}") from err
        except _NoAnswer as err:
            raise InDoubtDeliveryError(f"Merci Facteur sent no clear answer: {err}") from err
        except _Refusal as err:
            if err.retryable:
                raise TransientDeliveryError(f"Merci Facteur answered {err}") from err
            raise PermanentDeliveryError(f"Merci Facteur refused the letter ({err})") from err
        except _Malformed as err:
            raise InDoubtDeliveryError(f"Merci Facteur's answer to sendCourrier is unreadable: {err}") from err
        envoi_id = answer.get("envoi_id")
        # The older client documents a list of one id, the current one an integer.
        if isinstance(envoi_id, list) and len(envoi_id) == 1:
            envoi_id = envoi_id[0]
        if isinstance(envoi_id, bool) or not isinstance(envoi_id, int | str) or not str(envoi_id).isdigit():
            raise InDoubtDeliveryError(f"Merci Facteur accepted {message.message_id} without an envoi_id")
        return Receipt(provider=self.name, provider_message_id=str(envoi_id))

    def _addresses(self, message: Letter, electronic: bool) -> dict[str, Any]:
        sender = _address(
            self._sender.name,
            self._sender_lines,
            self._sender_postcode,
            self._sender_city,
            "FR",
            self._sender.contact_email if electronic else "",
            "",
        )
        # The sender carries no consent and no reference.
        del sender["consent"], sender["reference"]
        recipient = _address(
            message.recipient,
            message.address.lines,
            message.address.postcode,
            message.address.city,
            message.address.country,
            message.email if electronic else "",
            message.message_id[:30],
        )
        return {"exp": sender, "dest": [recipient]}

    # --------------------------------------------------------------------------------- tracking

    def track(self, provider_message_id: str) -> ProviderTracking:
        answer = self._read("getSuiviEnvoi", {"idEnvoi": provider_message_id})
        letters = answer.get("suiviCourrier")
        if not isinstance(letters, list) or len(letters) != 1 or not isinstance(letters[0], dict):
            raise TrackingRefused(f"getSuiviEnvoi {provider_message_id}: expected one letter in suiviCourrier")
        letter = letters[0]
        events = _history(letter.get("historique"))
        if not events and isinstance(letter.get("last_state"), str):
            events = [ProviderEvent(letter["last_state"], datetime.now(UTC))]
        proof_ref = letter.get("ref_tracking")
        return ProviderTracking(events, proof_ref=proof_ref if isinstance(proof_ref, str) and proof_ref else None)

    def fetch_proof(self, proof_ref: str, kind: ProofKind) -> ProofDocument | None:
        params = {"trackingNumber": proof_ref, "document": PROOF_DOCUMENTS[kind]}
        try:
            answer = self._authorized("GET", "getProof", params=params)
        except _Refusal as err:
            # `success: false` until the proof exists (a signed receipt may take weeks).
            if err.status in (200, 400, 404):
                return None
            raise _tracking_error("getProof", err) from err
        except (_Unreachable, _NoAnswer, _Malformed, _CredentialsRefused) as err:
            raise _tracking_error("getProof", err) from err
        extension = str(answer.get("format_return", "")).lower().replace("jpg", "jpeg")
        if extension not in ("pdf", "jpeg"):
            raise TrackingRefused(f"getProof: unexpected format_return {answer.get('format_return')!r}")
        try:
            content = base64.b64decode(str(answer.get("document", "")), validate=True)
        except binascii.Error as err:
            raise TrackingRefused(f"getProof: document is not base64 ({err})") from err
        if not content:
            raise TrackingRefused("getProof: empty document")
        return ProofDocument(content, extension)

    def _read(self, operation: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            return self._authorized("GET", operation, params=params)
        except (_Unreachable, _NoAnswer, _Refusal, _Malformed, _CredentialsRefused) as err:
            raise _tracking_error(operation, err) from err

    # ------------------------------------------------------------------------------------ HTTP

    def _authorized(
        self, method: str, operation: str, *, params: dict[str, str] | None = None, data: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Call with the shared token; once more with a new one if it was refused (401 means the
        request was rejected, not processed, so even a letter can be sent again)."""
        headers = {"ww-service-id": self._service_id, "ww-access-token": self._access_token(renew=False)}
        try:
            return self._call(method, operation, headers=headers, params=params, data=data)
        except _Refusal as err:
            if err.status != 401:
                raise
        headers["ww-access-token"] = self._access_token(renew=True)
        return self._call(method, operation, headers=headers, params=params, data=data)

    def _access_token(self, renew: bool) -> str:
        """Any failure here is `_Unreachable` or `_CredentialsRefused`: getToken sends no letter."""
        with self._token_lock:
            if self._token is not None and not renew and self._token[1] - TOKEN_MARGIN > datetime.now(UTC):
                return self._token[0]
            timestamp = str(int(time.time()))
            signature = hmac.new(
                self._secret_key.encode(), (self._service_id + timestamp).encode(), hashlib.sha256
            ).hexdigest()
            headers = {"ww-service-id": self._service_id, "ww-timestamp": timestamp, "ww-service-signature": signature}
            if self._authorized_ip:
                headers["ww-authorized-ip"] = self._authorized_ip
            try:
                answer = self._call("GET", "getToken", headers=headers)
            except (_NoAnswer, _Malformed) as err:
                raise _Unreachable(f"getToken: {err}") from err
            except _Refusal as err:
                if err.retryable:
                    raise _Unreachable(f"getToken: {err}") from err
                raise _CredentialsRefused(f"getToken: {err}") from err
            token, expire = answer.get("token"), answer.get("expire")
            if not isinstance(token, str) or not token or not isinstance(expire, int) or isinstance(expire, bool):
                raise _Unreachable("getToken answered without a token and its expiry")
            self._token = (token, datetime.fromtimestamp(expire, UTC))
            return token

    def _call(
        self,
        method: str,
        operation: str,
        *,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = self._http.request(method, operation, headers=headers, params=params, data=data)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
            raise _Unreachable(f"{type(err).__name__}: {err}") from err
        except httpx.TransportError as err:
            # Writing, awaiting or reading the answer: the request may have been received in full.
            raise _NoAnswer(f"{type(err).__name__}: {err}") from err
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if response.status_code == 200:
                raise _Malformed(f"{operation} answered 200 with no JSON object")
            raise _Refusal(response.status_code, response.text[:200])
        if response.status_code != 200 or body.get("success") is not True:
            raise _Refusal(response.status_code, _error_text(body))
        return body


def _tracking_error(operation: str, err: Exception) -> Exception:
    retryable = isinstance(err, _Unreachable | _NoAnswer) or (isinstance(err, _Refusal) and err.retryable)
    return (TrackingUnavailable if retryable else TrackingRefused)(f"Merci Facteur {operation}: {err}")


def _error_text(body: dict[str, Any]) -> str:
    error = body.get("error")
    if isinstance(error, dict):
        return f"{error.get('code', 'UNKNOWN_ERROR')} {error.get('text', '')}".strip()[:200]
    return str(error or "success is not true")[:200]


def _history(raw: object) -> list[ProviderEvent]:
    if isinstance(raw, str) and raw.strip():
        try:
            raw = json.loads(raw)
        except ValueError as err:
            raise TrackingRefused(f"getSuiviEnvoi: historique is not JSON ({err})") from err
    if raw is None or raw == "":
        return []
    if not isinstance(raw, list):
        raise TrackingRefused("getSuiviEnvoi: historique is not a list")
    events = []
    for entry in raw:
        code = entry.get("statut_courrier") if isinstance(entry, dict) else None
        date = entry.get("date") if isinstance(entry, dict) else None
        if not isinstance(code, str) or not isinstance(date, int) or isinstance(date, bool):
            raise TrackingRefused(f"getSuiviEnvoi: unreadable history entry {str(entry)[:100]}")
        events.append(ProviderEvent(code, datetime.fromtimestamp(date, UTC)))
    return events
