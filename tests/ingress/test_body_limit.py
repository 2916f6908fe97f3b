"""Oversized bodies get 413 naming the limit and its setting, whether declared or streamed, and apply nothing."""

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from dunning.settings import TemporalSettings
from dunning.tracking_ref import TWILIO_CALLBACK_PATH, new_key
from starter.api import IngressSettings, create_app
from starter.webhooks import SENDGRID_PATH, WebhookSettings
from tests.conftest import make_invoice
from tests.ingress.conftest import FIXTURES, TOKEN, created
from tests.ingress.webhook_signing import SendGridSigner

LIMIT = 8 * 1024
BANK_LIMIT = 64 * 1024


@pytest.fixture
async def small_api(dev: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # A dev server: a bank import lists the open cases, which the time-skipping server cannot.
    temporal = TemporalSettings(namespace=dev.client.namespace, task_queue="tq-body-limit")
    webhooks = WebhookSettings(
        sendgrid_public_key=SendGridSigner().public_key,
        twilio_auth_token="twilio-auth-token",
        base_url="https://dunning.example.test",
        tracking_key=new_key(),
    )
    settings = IngressSettings(
        api_token=TOKEN,
        var_dir=tmp_path,
        temporal=temporal,
        webhooks=webhooks,
        max_body_bytes=LIMIT,
        max_bank_file_bytes=BANK_LIMIT,
    )
    app = create_app(settings, dev.client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingress", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as client:
        yield client


def invoices_batch(count: int) -> tuple[list[str], bytes]:
    invoices = [make_invoice(date(2027, 3, 1) + timedelta(days=n)) for n in range(count)]
    return [i.invoice_id for i in invoices], json.dumps([created(i) for i in invoices]).encode()


async def not_started(dev: WorkflowEnvironment, invoice_id: str) -> bool:
    try:
        await dev.client.get_workflow_handle(f"invoice-{invoice_id}").describe()
    except RPCError as error:
        return error.status == RPCStatusCode.NOT_FOUND
    return False


def streamed(body: bytes) -> AsyncIterator[bytes]:
    # No Content-Length: the body arrives chunked and must be counted as it is read.
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    return chunks()


@pytest.mark.parametrize("how", ["declared", "chunked"])
async def test_an_oversized_events_batch_is_refused_and_starts_no_case(
    small_api: httpx.AsyncClient, dev: WorkflowEnvironment, how: str
) -> None:
    ids, body = invoices_batch(20)
    assert len(body) > LIMIT
    content = body if how == "declared" else streamed(body)
    response = await small_api.post("/events", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["detail"].startswith(f"request body over {LIMIT} bytes (DUNNING_MAX_BODY_BYTES)")
    assert [await not_started(dev, invoice_id) for invoice_id in ids] == [True] * len(ids)


async def test_a_batch_under_the_limit_still_goes_through(small_api: httpx.AsyncClient) -> None:
    _, body = invoices_batch(2)
    assert len(body) < LIMIT
    response = await small_api.post("/events", content=streamed(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert [r["outcome"] for r in response.json()["results"]] == ["started", "started"]


async def test_bank_files_have_their_own_larger_limit(small_api: httpx.AsyncClient) -> None:
    sample = (FIXTURES / "camt053-sample.xml").read_bytes()
    # Over the general limit, under the bank limit: read and parsed (and rejected for what it is), not cut off.
    truncated = sample[: len(sample) // 2] + b" " * LIMIT
    assert LIMIT < len(truncated) < BANK_LIMIT
    response = await small_api.post("/bank-statements", content=truncated, params={"filename": "cut.xml"})
    assert response.status_code == 422
    assert "not well-formed XML" in response.json()["detail"]["errors"][0]
    huge = await small_api.post("/bank-statements", content=sample + b" " * BANK_LIMIT)
    assert huge.status_code == 413
    assert f"over {BANK_LIMIT} bytes (DUNNING_MAX_BANK_FILE_BYTES)" in huge.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (SENDGRID_PATH, json.dumps([{"event": "delivered", "sg_event_id": "x" * 100}] * 100).encode()),
        (TWILIO_CALLBACK_PATH, b"MessageStatus=delivered&Body=" + b"x" * LIMIT),
    ],
    ids=["sendgrid", "twilio"],
)
async def test_an_oversized_webhook_is_refused_before_its_signature_is_checked(
    small_api: httpx.AsyncClient, path: str, body: bytes
) -> None:
    assert len(body) > LIMIT
    response = await small_api.post(path, content=streamed(body))
    assert response.status_code == 413
    assert "DUNNING_MAX_BODY_BYTES" in response.json()["detail"]
