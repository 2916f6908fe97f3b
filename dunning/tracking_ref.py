"""The opaque case reference providers carry for us: SendGrid `custom_args`, the Twilio callback URL.

Providers keep what they carry long after the case (SendGrid keeps custom args forever), so they get
no workflow id (it holds the invoice number), only `ref(workflow_id)`: the workflow id encrypted with
AES-SIV under DUNNING_TRACKING_KEY, base64url. Only the holders of the key (the worker, which writes
it, and the ingress, which turns a provider event back into a case) can read it, without any shared
database. AES-SIV is deterministic, so every retry of a message carries the same reference, and
authenticated, so a reference we did not make is refused instead of naming some other case.
"""

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

KEY_VARIABLE = "DUNNING_TRACKING_KEY"
# Where each provider carries the reference: a SendGrid custom arg (back as a field of every event),
# and the query of the Twilio status callback URL (`?ref=<ref>&message=<message id>`).
CASE_REF_ARG = "case_ref"
TWILIO_CALLBACK_PATH = "/webhooks/twilio"
# Binds a reference to its purpose: the same key used for anything else makes no valid reference.
_CONTEXT = [b"dunning case ref v1"]
_KEY_BYTES = 64  # AES-256-SIV


class InvalidReference(ValueError):
    """Not a reference made with this key (forged, garbled, or made with another key)."""


def new_key() -> str:
    return _b64encode(secrets.token_bytes(_KEY_BYTES))


class TrackingRefs:
    def __init__(self, key: str) -> None:
        try:
            raw = _b64decode(key)
        except ValueError as error:
            raise ValueError(f"{KEY_VARIABLE} is not base64url text: generate one with new_key()") from error
        if len(raw) != _KEY_BYTES:
            raise ValueError(
                f"{KEY_VARIABLE} must hold {_KEY_BYTES} bytes, not {len(raw)}: generate one with new_key()"
            )
        self._siv = AESSIV(raw)

    def ref(self, workflow_id: str) -> str:
        return _b64encode(self._siv.encrypt(workflow_id.encode(), _CONTEXT))

    def workflow_id(self, ref: str) -> str:
        try:
            return self._siv.decrypt(_b64decode(ref), _CONTEXT).decode()
        except (ValueError, InvalidTag) as error:
            raise InvalidReference("not a case reference of this service") from error


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    # Raises ValueError (binascii.Error, or non-ASCII text) on what is not base64.
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
