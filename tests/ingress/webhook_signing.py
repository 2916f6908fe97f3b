"""What a provider does to a webhook: sign it as SendGrid (ECDSA P-256) or Twilio (HMAC) would, and
read back the `message_event` signals a case received."""

import base64
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from temporalio.client import Client
from twilio.request_validator import RequestValidator

from domain.tracking import MessageEvent
from dunning.contract import SignalName
from starter.webhooks import SENDGRID_SIGNATURE, SENDGRID_TIMESTAMP


class SendGridSigner:
    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key(self) -> str:
        """As SendGrid shows it: the base64 of the DER public key, without PEM armour."""
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            SENDGRID_SIGNATURE: base64.b64encode(signature).decode(),
            SENDGRID_TIMESTAMP: stamp,
            "Content-Type": "application/json",
        }


def twilio_headers(auth_token: str, url: str, params: dict[str, str]) -> dict[str, str]:
    return {
        "X-Twilio-Signature": RequestValidator(auth_token).compute_signature(url, params),
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def message_events(client: Client, workflow_id: str) -> list[MessageEvent]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    events: list[MessageEvent] = []
    for event in history.events:
        if not event.HasField("workflow_execution_signaled_event_attributes"):
            continue
        signalled = event.workflow_execution_signaled_event_attributes
        assert signalled.signal_name == SignalName.MESSAGE_EVENT
        [payload] = await client.data_converter.decode(signalled.input.payloads, [MessageEvent])
        events.append(payload)
    return events
