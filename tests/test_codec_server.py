"""The codec server decodes for whoever holds its token, and for nobody else."""

from collections.abc import AsyncIterator

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from domain.models import PaymentReceived
from dunning.codec import ENCODING
from starter.codec_server import CodecServerSettings, create_codec_app
from tests.codec_keys import TEST_CONVERTER, TEST_KEYS

TOKEN = "codec-token-0123456789abcdef"
UI = "http://127.0.0.1:8233"
PAYMENT = PaymentReceived(payment_id="P-1", amount="1200.00", received_on="2026-12-02", reference="RF69F20260042")


@pytest.fixture
async def codec_server() -> AsyncIterator[httpx.AsyncClient]:
    settings = CodecServerSettings(token=TOKEN, ui_origins=(UI,), max_body_bytes=64 * 1024)
    transport = httpx.ASGITransport(app=create_codec_app(TEST_KEYS, settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as client:
        yield client


async def sealed_body() -> str:
    payloads = await TEST_CONVERTER.encode([PAYMENT])
    assert payloads[0].metadata["encoding"] == ENCODING
    return json_format.MessageToJson(Payloads(payloads=payloads))


def decoded(response: httpx.Response) -> PaymentReceived:
    payloads = json_format.Parse(response.content, Payloads()).payloads
    [value] = TEST_CONVERTER.payload_converter.from_payloads(payloads, [PaymentReceived])
    assert isinstance(value, PaymentReceived)
    return value


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/decode", {"Authorization": f"Bearer {TOKEN}"}), (f"/ui/{TOKEN}/decode", {})],
    ids=["bearer", "ui-path"],
)
async def test_an_authorised_request_gets_the_payloads_decoded(
    codec_server: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    response = await codec_server.post(path, content=await sealed_body(), headers=headers)
    assert response.status_code == 200, response.text
    assert decoded(response) == PAYMENT


@pytest.mark.parametrize(
    ("path", "headers", "code"),
    [
        ("/decode", {}, 401),
        ("/decode", {"Authorization": "Basic Y29kZWM6dG9rZW4="}, 401),
        ("/decode", {"Authorization": f"Bearer {TOKEN[:-1]}"}, 403),
        ("/decode", {"Authorization": f"Bearer {TOKEN}x"}, 403),
        ("/ui/wrong-token/decode", {}, 403),
        ("/encode", {}, 401),
    ],
)
async def test_without_the_token_nothing_is_decoded(
    codec_server: httpx.AsyncClient, path: str, headers: dict[str, str], code: int
) -> None:
    response = await codec_server.post(path, content=await sealed_body(), headers=headers)
    assert response.status_code == code
    assert b"RF69F20260042" not in response.content
    assert b"payloads" not in response.content


async def test_encode_then_decode_round_trips(codec_server: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    clear = json_format.MessageToJson(Payloads(payloads=TEST_CONVERTER.payload_converter.to_payloads([PAYMENT])))
    encoded = await codec_server.post("/encode", content=clear, headers=auth)
    assert encoded.status_code == 200
    assert b"RF69F20260042" not in encoded.content
    assert decoded(await codec_server.post("/decode", content=encoded.content, headers=auth)) == PAYMENT


async def test_only_the_ui_origin_is_allowed_by_cors(codec_server: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    allowed = await codec_server.options(f"/ui/{TOKEN}/decode", headers={**preflight, "Origin": UI})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI
    refused = await codec_server.options(f"/ui/{TOKEN}/decode", headers={**preflight, "Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in refused.headers


async def test_a_body_that_is_not_payloads_or_too_large_is_refused_clearly(codec_server: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    garbage = await codec_server.post("/decode", content=b'{"payloads": 3}', headers=auth)
    assert garbage.status_code == 422
    assert "not a Payloads message" in garbage.json()["detail"]
    huge = await codec_server.post("/decode", content=b"x" * (64 * 1024 + 1), headers=auth)
    assert huge.status_code == 413
    assert "over 65536 bytes (DUNNING_CODEC_MAX_BODY_BYTES)" in huge.json()["detail"]


def test_the_server_does_not_start_without_a_token() -> None:
    with pytest.raises(ValueError, match="DUNNING_CODEC_TOKEN must be set"):
        create_codec_app(TEST_KEYS, CodecServerSettings(token="", ui_origins=(UI,), max_body_bytes=1024))
