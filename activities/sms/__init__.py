"""SMS reminders: render the step's template, deliver once through Twilio or the outbox."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import requests
from temporalio import activity
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import MaxRetryError, NewConnectionError

from activities.delivery import (
    ChannelAdapter,
    InDoubtDeliveryError,
    PermanentDeliveryError,
    Receipt,
    TransientDeliveryError,
    deliver_once,
)
from activities.ledger import Ledger
from activities.outbox import Outbox
from activities.rendering import build_context, channel_overrides, template_environment
from domain.delivery import Delivery, MessageRequest
from dunning.contract import ActivityName
from dunning.settings import Creditor
from dunning.tracking_ref import TWILIO_CALLBACK_PATH, TrackingRefs

PACKAGE = Path(__file__).parent
TEMPLATES = PACKAGE / "templates"
HTTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Sms:
    message_id: str
    # Ours only: Twilio gets the opaque case reference in the callback URL instead.
    workflow_id: str
    to: str
    text: str
    notes: tuple[str, ...] = field(default=())

    @property
    def sent_to(self) -> str:
        return self.to

    @property
    def sent_content(self) -> bytes:
        return self.text.encode()

    @property
    def document(self) -> None:
        return None


class OutboxSms:
    name = "outbox"

    def __init__(self, root: Path) -> None:
        self._outbox = Outbox(root, "sms")

    def send(self, message: Sms) -> Receipt:
        self._outbox.write(
            message.message_id,
            {"message_id": message.message_id, "to": message.to},
            {"body.txt": message.text},
        )
        return Receipt(provider=self.name, provider_message_id=message.message_id)


class TwilioSms:
    """Twilio Programmable Messaging; its delivery reports come back to the ingress (starter/webhooks.py)."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        callback_base_url: str,
        refs: TrackingRefs,
        http_client: TwilioHttpClient | None = None,
    ) -> None:
        self._sender = sender
        self._callback = callback_base_url.rstrip("/") + TWILIO_CALLBACK_PATH
        self._refs = refs
        # The library sets no timeout and would hold the activity slot on a stuck connection.
        self._client = Client(
            account_sid, auth_token, http_client=http_client or TwilioHttpClient(timeout=HTTP_TIMEOUT_SECONDS)
        )

    def _status_callback(self, message: Sms) -> str:
        query = urlencode({"ref": self._refs.ref(message.workflow_id), "message": message.message_id})
        return f"{self._callback}?{query}"

    def send(self, message: Sms) -> Receipt:
        try:
            created = self._client.messages.create(
                to=message.to, from_=self._sender, body=message.text, status_callback=self._status_callback(message)
            )
        except (TwilioRestException, TwilioServiceException) as err:
            if err.status == 429 or err.status >= 500:
                raise TransientDeliveryError(f"Twilio answered {err.status}: {err}") from err
            raise PermanentDeliveryError(f"Twilio refused the message ({err.status}): {err}") from err
        except requests.ConnectTimeout as err:
            raise TransientDeliveryError(f"Twilio unreachable: {err}") from err
        except requests.ConnectionError as err:
            # requests wraps both a failed connection (nothing sent) and a connection lost after the
            # request went out (urllib3's ProtocolError) in ConnectionError: only the first is certain.
            cause = err.args[0] if err.args else None
            if isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError):
                raise TransientDeliveryError(f"Twilio unreachable: {cause.reason}") from err
            raise InDoubtDeliveryError(f"Twilio sent no clear answer ({type(err).__name__}: {err})") from err
        except (requests.RequestException, json.JSONDecodeError) as err:
            # A read timeout, a garbled or cut answer: Twilio may have queued the message.
            raise InDoubtDeliveryError(f"Twilio sent no clear answer ({type(err).__name__}: {err})") from err
        return Receipt(provider=self.name, provider_message_id=created.sid)


class SmsRenderer:
    def __init__(self, creditor: Creditor, template_dir: Path | None = None) -> None:
        self._creditor = creditor
        self._templates = template_environment(TEMPLATES, channel_overrides(template_dir, PACKAGE))

    def render(self, request: MessageRequest) -> Sms:
        if request.customer.phone is None:
            raise ValueError(f"{request.message_id}: no phone number (the workflow skips SMS steps without one)")
        context = build_context(request, self._creditor)
        template = self._templates.get_template(f"{request.customer.language}/{request.template_name}.txt")
        text = " ".join(template.render(m=context.values).split())
        return Sms(
            message_id=request.message_id,
            workflow_id=request.workflow_id,
            to=request.customer.phone,
            text=text,
            notes=context.notes,
        )


class SmsActivities:
    def __init__(
        self, ledger: Ledger, adapter: ChannelAdapter[Sms], creditor: Creditor, template_dir: Path | None = None
    ) -> None:
        self._ledger = ledger
        self._adapter = adapter
        self.render = SmsRenderer(creditor, template_dir).render

    @activity.defn(name=ActivityName.SEND_SMS)
    def send_sms(self, request: MessageRequest) -> Delivery:
        return deliver_once(self._ledger, request, self.render, self._adapter)
