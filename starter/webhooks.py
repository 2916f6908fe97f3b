"""Provider webhooks: what SendGrid and Twilio report about the e-mails and SMS the worker sent.

Each report is verified by the provider's signature (these routes take no bearer token: the
providers cannot send one), mapped to the vocabulary of domain.tracking, and signalled to its case as
`message_event`. A wrong or missing signature gets 401 before anything is read.

The case is found through the opaque reference the worker gave the provider (dunning/tracking_ref.py),
so no database is shared with the worker. Duplicates (SendGrid retries for 24 h and may deliver an
event twice) are left to the case, which ignores a repeated `event_id` (the provider's event id):
a table here would have to be written after the signal anyway, and SendGrid's retry of a batch cut
short by Temporal must re-signal the events that did get through. Only delivered and bounced reports
are signalled, so a duplicate costs at most one more history event.

The answer is 200 with counts, including for reports naming no case of ours or a closed one: any
other answer makes the provider retry, which helps only when Temporal is unreachable (503).
"""

import binascii
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Request, status
from pydantic import BaseModel, ValidationError
from sendgrid.helpers.eventwebhook import EventWebhook
from temporalio.service import RPCError, RPCStatusCode
from twilio.request_validator import RequestValidator

from domain.ladder import Channel
from domain.tracking import MessageEvent, MessageEventKind
from dunning.contract import SignalName
from dunning.settings import WebhookSettings as WebhookSettings  # where the API and its tests found it
from dunning.tracking_ref import CASE_REF_ARG, KEY_VARIABLE, TWILIO_CALLBACK_PATH, InvalidReference, TrackingRefs
from starter.dispatch import Dispatcher

logger = logging.getLogger(__name__)

SENDGRID_PATH = "/webhooks/sendgrid"
SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
SENDGRID_KINDS = {
    "delivered": MessageEventKind.DELIVERED,
    "bounce": MessageEventKind.BOUNCED,
    "dropped": MessageEventKind.BOUNCED,
}
TWILIO_KINDS = {
    "delivered": MessageEventKind.DELIVERED,
    "undelivered": MessageEventKind.BOUNCED,
    "failed": MessageEventKind.BOUNCED,
}


class WebhookResult(BaseModel):
    signalled: int = 0
    ignored: int = 0  # reports the case has no use for (processed, open, click; queued, sent)
    duplicate: int = 0  # the same event id twice in one request
    unmatched: int = 0  # no valid case reference or message id: not a message of this service
    closed: int = 0  # the case is closed or unknown to Temporal


def router(settings: WebhookSettings, dispatcher: Callable[[], Awaitable[Dispatcher]]) -> APIRouter:
    refs = TrackingRefs(settings.tracking_key) if settings.tracking_key else None
    sendgrid = _sendgrid_verifier(settings.sendgrid_public_key)
    twilio = RequestValidator(settings.twilio_auth_token) if settings.twilio_auth_token else None
    routes = APIRouter(tags=["provider webhooks"])

    @routes.post(SENDGRID_PATH, response_model=WebhookResult, summary="SendGrid Event Webhook (signed)")
    async def sendgrid_events(
        request: Request,
        signature: Annotated[str, Header(alias=SENDGRID_SIGNATURE)] = "",
        timestamp: Annotated[str, Header(alias=SENDGRID_TIMESTAMP)] = "",
    ) -> WebhookResult:
        if sendgrid is None or refs is None:
            raise _not_configured("SENDGRID_WEBHOOK_PUBLIC_KEY", KEY_VARIABLE)
        body = await request.body()
        if not _signed_by_sendgrid(sendgrid, body, signature, timestamp, settings.max_age):
            raise _unauthorised(f"missing, wrong or stale {SENDGRID_SIGNATURE} / {SENDGRID_TIMESTAMP}")
        try:
            events: Any = json.loads(body)
        except ValueError as error:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "body: not JSON") from error
        if not isinstance(events, list):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "body: not a JSON array of events")
        # Connected only now: an unsigned request opens nothing.
        services = await dispatcher()
        result = WebhookResult()
        seen: set[str] = set()
        for item in events:
            kind = SENDGRID_KINDS.get(str(item.get("event"))) if isinstance(item, dict) else None
            if kind is None:
                result.ignored += 1
                continue
            found = _sendgrid_event(refs, item, kind)
            if found is None:
                result.unmatched += 1
            elif found[1].event_id in seen:
                result.duplicate += 1
            else:
                seen.add(str(found[1].event_id))
                await _signal(services, *found, result)
        logger.info("SendGrid webhook: %s", result.model_dump())
        return result

    @routes.post(TWILIO_CALLBACK_PATH, response_model=WebhookResult, summary="Twilio message status callback (signed)")
    async def twilio_status(
        request: Request,
        signature: Annotated[str, Header(alias="X-Twilio-Signature")] = "",
    ) -> WebhookResult:
        if twilio is None or refs is None or settings.base_url is None:
            raise _not_configured("TWILIO_AUTH_TOKEN", "DUNNING_WEBHOOK_BASE_URL", KEY_VARIABLE)
        body = await request.body()
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        query = request.url.query
        url = settings.base_url.rstrip("/") + TWILIO_CALLBACK_PATH + (f"?{query}" if query else "")
        if not signature or not twilio.validate(url, params, signature):
            raise _unauthorised("missing or wrong X-Twilio-Signature")
        result = WebhookResult()
        kind = TWILIO_KINDS.get(params.get("MessageStatus", ""))
        if kind is None:
            result.ignored += 1
            return result
        found = _twilio_event(refs, request.query_params.get("ref"), request.query_params.get("message"), params, kind)
        if found is None:
            result.unmatched += 1
        else:
            await _signal(await dispatcher(), *found, result)
        logger.info("Twilio status callback: %s", result.model_dump())
        return result

    return routes


def _sendgrid_verifier(public_key: str | None) -> EventWebhook | None:
    if not public_key:
        return None
    try:
        return EventWebhook(public_key)
    except ValueError as error:
        raise ValueError(
            "SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key: copy the verification key SendGrid shows"
            " for the signed Event Webhook"
        ) from error


def _signed_by_sendgrid(
    verifier: EventWebhook, body: bytes, signature: str, timestamp: str, max_age: timedelta
) -> bool:
    try:
        age = time.time() - int(timestamp)
        signed = bool(verifier.verify_signature(body.decode("utf-8"), signature, timestamp))
    except (ValueError, binascii.Error):
        # No timestamp, a signature that is not base64, a body that is not UTF-8: not SendGrid's.
        return False
    return signed and abs(age) <= max_age.total_seconds()


def _sendgrid_event(
    refs: TrackingRefs, item: dict[str, Any], kind: MessageEventKind
) -> tuple[str, MessageEvent] | None:
    """The case and the signal for one event, or None if it names no message of this service."""
    try:
        workflow_id = refs.workflow_id(str(item.get(CASE_REF_ARG, "")))
        # `status` is the SMTP code of a bounce (5.1.1); SendGrid's `reason` may quote the address.
        detail = " ".join(str(part) for part in ("sendgrid", item["event"], item.get("status")) if part)[:500]
        event = MessageEvent(
            event_id=item["sg_event_id"],
            message_id=item["message_id"],
            channel=Channel.EMAIL,
            kind=kind,
            at=datetime.fromtimestamp(int(item["timestamp"]), UTC),
            detail=detail,
        )
    except (InvalidReference, KeyError, TypeError, ValueError, OverflowError, ValidationError):
        return None
    return workflow_id, event


def _twilio_event(
    refs: TrackingRefs, ref: str | None, message_id: str | None, params: dict[str, str], kind: MessageEventKind
) -> tuple[str, MessageEvent] | None:
    sid, reported = params.get("MessageSid"), params["MessageStatus"]
    if not (ref and message_id and sid):
        return None
    error_code = params.get("ErrorCode")
    try:
        workflow_id = refs.workflow_id(ref)
        event = MessageEvent(
            event_id=f"{sid}:{reported}",
            message_id=message_id,
            channel=Channel.SMS,
            kind=kind,
            # Twilio's callback carries no time of its own: it is posted as the status changes.
            at=datetime.now(UTC),
            detail=f"twilio {reported}" + (f", error {error_code}" if error_code else ""),
        )
    except (InvalidReference, ValidationError):
        return None
    return workflow_id, event


async def _signal(dispatcher: Dispatcher, workflow_id: str, event: MessageEvent, result: WebhookResult) -> None:
    try:
        await dispatcher.client.get_workflow_handle(workflow_id).signal(SignalName.MESSAGE_EVENT, event)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            result.closed += 1
            return
        # The provider retries the whole request later; what was signalled already is de-duplicated.
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal did not take the event: retry") from error
    result.signalled += 1


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail)


def _not_configured(*names: str) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"webhook not configured: set {', '.join(names)}")
