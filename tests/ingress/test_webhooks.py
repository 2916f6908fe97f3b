"""Provider webhooks through the HTTP API on the time-skipping server: a signed report becomes a
`message_event` signal in the case's history; anything unsigned, wrong or stale changes nothing."""

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from domain.ladder import Channel
from domain.tracking import MessageEvent, MessageEventKind
from dunning.tracking_ref import TrackingRefs, new_key
from starter.api import IngressSettings, create_app
from starter.webhooks import WebhookSettings
from tests.conftest import Harness, advance_to, at_step, clear_due_date, close_case, make_invoice
from tests.ingress.webhook_signing import SendGridSigner, message_events, twilio_headers
from workflows.invoice_dunning import InvoiceDunning

AUTH_TOKEN = "twilio-auth-token"
BASE_URL = "https://dunning.example.test"
MESSAGE_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def signer() -> SendGridSigner:
    return SendGridSigner()


@pytest.fixture
async def hooks(
    harness: Harness, settings: IngressSettings, signer: SendGridSigner
) -> AsyncIterator[httpx.AsyncClient]:
    webhooks = WebhookSettings(
        sendgrid_public_key=signer.public_key,
        twilio_auth_token=AUTH_TOKEN,
        base_url=BASE_URL,
        tracking_key=harness.settings.tracking_key,
    )
    app = create_app(settings.model_copy(update={"webhooks": webhooks}), harness.client)
    # No bearer token: providers cannot send one, their signature stands for it.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingress") as client:
        yield client


async def running_case(harness: Harness) -> str:
    today = await harness.today()
    handle = await harness.start(make_invoice(today + timedelta(days=40)))
    return handle.id


def sendgrid_event(ref: str, event: str, event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "event": event,
        "sg_event_id": event_id,
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "email": "compta@martin.example",
        "timestamp": 1_800_000_000,
        "case_ref": ref,
        "message_id": MESSAGE_ID,
        "step": "level1_email",
        **fields,
    }


async def post_sendgrid(
    hooks: httpx.AsyncClient, signer: SendGridSigner, events: list[dict[str, Any]], timestamp: int | None = None
) -> httpx.Response:
    body = json.dumps(events).encode()
    return await hooks.post("/webhooks/sendgrid", content=body, headers=signer.headers(body, timestamp))


async def test_signed_sendgrid_events_reach_the_case_once_each(
    harness: Harness, hooks: httpx.AsyncClient, signer: SendGridSigner
) -> None:
    workflow_id = await running_case(harness)
    ref = harness.refs.ref(workflow_id)
    events = [
        sendgrid_event(ref, "processed", "ev-processed"),
        sendgrid_event(ref, "delivered", "ev-delivered"),
        sendgrid_event(ref, "open", "ev-open"),
        sendgrid_event(ref, "bounce", "ev-bounce", status="5.1.1", reason="550 <compta@martin.example> unknown"),
        sendgrid_event(ref, "dropped", "ev-dropped", reason="Bounced Address"),
        sendgrid_event(ref, "delivered", "ev-delivered"),
    ]
    response = await post_sendgrid(hooks, signer, events)
    assert response.status_code == 200, response.text
    assert response.json() == {"signalled": 3, "ignored": 2, "duplicate": 1, "unmatched": 0, "closed": 0}
    at = datetime.fromtimestamp(1_800_000_000, UTC)
    expected = [
        ("ev-delivered", MessageEventKind.DELIVERED, "sendgrid delivered"),
        ("ev-bounce", MessageEventKind.BOUNCED, "sendgrid bounce 5.1.1"),
        ("ev-dropped", MessageEventKind.BOUNCED, "sendgrid dropped"),
    ]
    assert await message_events(harness.client, workflow_id) == [
        MessageEvent(event_id=event_id, message_id=MESSAGE_ID, channel=Channel.EMAIL, kind=kind, at=at, detail=detail)
        for event_id, kind, detail in expected
    ]


@pytest.mark.parametrize(
    "tamper",
    ["unsigned", "signed by another key", "body changed", "stale", "from the future"],
)
async def test_a_sendgrid_request_not_signed_now_by_sendgrid_gets_401_and_changes_nothing(
    harness: Harness, hooks: httpx.AsyncClient, signer: SendGridSigner, tamper: str
) -> None:
    workflow_id = await running_case(harness)
    body = json.dumps([sendgrid_event(harness.refs.ref(workflow_id), "bounce", "ev-1")]).encode()
    now = int(time.time())
    headers = {
        "unsigned": {"Content-Type": "application/json"},
        "signed by another key": SendGridSigner().headers(body),
        "body changed": signer.headers(body.replace(b"bounce", b"open")),
        "stale": signer.headers(body, timestamp=now - 11 * 60),
        "from the future": signer.headers(body, timestamp=now + 11 * 60),
    }[tamper]
    response = await hooks.post("/webhooks/sendgrid", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert await message_events(harness.client, workflow_id) == []


async def test_events_of_closed_unknown_or_foreign_cases_do_not_fail_the_batch(
    harness: Harness, hooks: httpx.AsyncClient, signer: SendGridSigner
) -> None:
    running, closed = await running_case(harness), await running_case(harness)
    handle = harness.client.get_workflow_handle(closed)
    await handle.terminate("test over")
    events = [
        sendgrid_event(harness.refs.ref(closed), "bounce", "ev-closed"),
        sendgrid_event(harness.refs.ref("invoice-never-started"), "bounce", "ev-unknown"),
        sendgrid_event(TrackingRefs(new_key()).ref(running), "bounce", "ev-foreign-key"),
        sendgrid_event(running, "bounce", "ev-plain-workflow-id"),
        {k: v for k, v in sendgrid_event(harness.refs.ref(running), "bounce", "ev-no-ref").items() if k != "case_ref"},
        sendgrid_event(harness.refs.ref(running), "bounce", "ev-running"),
    ]
    response = await post_sendgrid(hooks, signer, events)
    assert response.status_code == 200, response.text
    assert response.json() == {"signalled": 1, "ignored": 0, "duplicate": 0, "unmatched": 3, "closed": 2}
    assert [e.event_id for e in await message_events(harness.client, running)] == ["ev-running"]


async def test_a_signed_body_that_is_not_an_array_of_events_gets_400(
    hooks: httpx.AsyncClient, signer: SendGridSigner
) -> None:
    for body in (b"{not json", b'{"event": "bounce"}'):
        response = await hooks.post("/webhooks/sendgrid", content=body, headers=signer.headers(body))
        assert response.status_code == 400, response.text


def twilio_callback(harness: Harness, workflow_id: str, status: str, **extra: str) -> tuple[str, dict[str, str]]:
    path = "/webhooks/twilio?" + urlencode({"ref": harness.refs.ref(workflow_id), "message": MESSAGE_ID})
    params = {"MessageSid": "SM" + "1" * 32, "MessageStatus": status, "AccountSid": "AC" + "0" * 32, **extra}
    return path, params


@pytest.mark.parametrize(
    ("status", "kind", "detail"),
    [
        ("undelivered", MessageEventKind.BOUNCED, "twilio undelivered, error 30003"),
        ("failed", MessageEventKind.BOUNCED, "twilio failed, error 30003"),
        ("delivered", MessageEventKind.DELIVERED, "twilio delivered"),
    ],
)
async def test_a_signed_twilio_status_reaches_the_case(
    harness: Harness, hooks: httpx.AsyncClient, status: str, kind: MessageEventKind, detail: str
) -> None:
    workflow_id = await running_case(harness)
    extra = {} if status == "delivered" else {"ErrorCode": "30003"}
    path, params = twilio_callback(harness, workflow_id, status, **extra)
    # Twilio signs the public URL it was given, whatever host this server sees.
    response = await hooks.post(path, data=params, headers=twilio_headers(AUTH_TOKEN, BASE_URL + path, params))
    assert response.status_code == 200, response.text
    assert response.json()["signalled"] == 1
    [event] = await message_events(harness.client, workflow_id)
    assert event.model_dump(exclude={"at"}) == {
        "event_id": f"SM{'1' * 32}:{status}",
        "message_id": MESSAGE_ID,
        "channel": Channel.SMS,
        "kind": kind,
        "detail": detail,
    }


async def test_a_twilio_status_the_case_has_no_use_for_is_ignored(harness: Harness, hooks: httpx.AsyncClient) -> None:
    workflow_id = await running_case(harness)
    for status in ("queued", "sent"):
        path, params = twilio_callback(harness, workflow_id, status)
        response = await hooks.post(path, data=params, headers=twilio_headers(AUTH_TOKEN, BASE_URL + path, params))
        assert response.json()["ignored"] == 1
    assert await message_events(harness.client, workflow_id) == []


@pytest.mark.parametrize("tamper", ["unsigned", "wrong token", "other case in the URL", "status changed"])
async def test_a_twilio_callback_not_signed_by_twilio_gets_401_and_changes_nothing(
    harness: Harness, hooks: httpx.AsyncClient, tamper: str
) -> None:
    workflow_id, other = await running_case(harness), await running_case(harness)
    path, params = twilio_callback(harness, workflow_id, "undelivered")
    signed = twilio_headers(AUTH_TOKEN, BASE_URL + path, params)
    if tamper == "unsigned":
        signed.pop("X-Twilio-Signature")
    elif tamper == "wrong token":
        signed = twilio_headers("another-token", BASE_URL + path, params)
    elif tamper == "other case in the URL":
        path = twilio_callback(harness, other, "undelivered")[0]
    else:
        params = {**params, "MessageStatus": "delivered"}
    response = await hooks.post(path, data=params, headers=signed)
    assert response.status_code == 401, response.text
    for case in (workflow_id, other):
        assert await message_events(harness.client, case) == []


async def test_webhooks_without_their_settings_answer_503_naming_them(
    harness: Harness, settings: IngressSettings
) -> None:
    app = create_app(settings.model_copy(update={"webhooks": WebhookSettings.model_construct()}), harness.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingress") as client:
        sendgrid = await client.post("/webhooks/sendgrid", content=b"[]")
        twilio = await client.post("/webhooks/twilio", data={"MessageStatus": "failed"})
    assert sendgrid.status_code == twilio.status_code == 503
    assert "SENDGRID_WEBHOOK_PUBLIC_KEY" in sendgrid.json()["detail"]
    assert "TWILIO_AUTH_TOKEN" in twilio.json()["detail"]


async def test_a_signed_bounce_sends_the_next_email_step_by_sms_and_opens_a_task(
    harness: Harness, hooks: httpx.AsyncClient, signer: SendGridSigner
) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, -15))
        [preventive] = harness.sendgrid.requests
        args = preventive["custom_args"]
        ref, message_id = args["case_ref"], args["message_id"]
        bounce = sendgrid_event(ref, "bounce", "ev-bounce-1", message_id=message_id, status="5.1.1")
        response = await post_sendgrid(hooks, signer, [bounce])
        bounced = await handle.query(InvoiceDunning.status)
        await advance_to(harness, at_step(due, 1))
        later = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    assert response.json()["signalled"] == 1
    assert "email_bounced" in bounced.open_calls
    assert bounced.unusable_channels == ["email"]
    [message] = [m for m in bounced.messages if m.message_id == message_id]
    assert message.delivery == "bounced"
    # No e-mail after the bounce: level 1 went by SMS, saying the same as its e-mail would.
    assert harness.sendgrid.steps() == ["preventive_email"]
    level1 = [a for a in later.actions if a.step == "level1_email"]
    assert [(a.channel, a.status) for a in level1] == [("sms", "sent")]
    assert level1[0].detail is not None
    assert level1[0].detail.startswith("by SMS: the e-mail address bounced")
    assert any(s["to"] == "+33612345678" for s in harness.outbox("sms"))
