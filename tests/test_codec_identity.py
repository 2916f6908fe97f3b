"""The codec server's production mode: it decodes for a web UI user whose own access token checks out
(signature against the provider's JWKS, issuer, audience, expiry, role) and for nobody else.

The identity provider is played by a real RSA key made here and its JWKS served on loopback."""

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from starter.codec_auth import JwtSettings
from starter.codec_server import CodecServerSettings, create_codec_app
from tests.codec_keys import TEST_CONVERTER, TEST_KEYS
from tests.fake_http import LocalServer
from tests.test_codec_server import PAYMENT, UI, decoded, sealed_body

ISSUER = "https://idp.example.fr/realms/finance"
AUDIENCE = "temporal-ui"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Jwks(LocalServer):
    """The provider's key set at /certs, as an OIDC provider publishes it."""

    def start(self) -> None:
        jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k1", "use": "sig"}
        body = json.dumps({"keys": [jwk]}).encode()

        class Handler(BaseHTTPRequestHandler):
            fetched: ClassVar[int] = 0

            def do_GET(self) -> None:
                Handler.fetched += 1
                self.send_response(200 if self.path == "/certs" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.handler = Handler
        self.serve(Handler)


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    server.start()
    yield server
    server.stop()


def token(key: rsa.RSAPrivateKey = KEY, kid: str = "k1", **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "claire.lemaire",
        "iat": now,
        "exp": now + 300,
        "realm_access": {"roles": ["credit-control", "offline_access"]},
    }
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="RS256", headers={"kid": kid})


def settings(**jwt_changes: Any) -> CodecServerSettings:
    identity = JwtSettings(
        **{
            "jwks_url": None,
            "public_key_file": None,
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "required_role": "credit-control",
            "role_claim": "realm_access.roles",
            "algorithms": ("RS256",),
            **jwt_changes,
        }
    )
    return CodecServerSettings(token="", ui_origins=(UI,), max_body_bytes=64 * 1024, jwt=identity)


@pytest.fixture
async def codec(jwks: Jwks) -> AsyncIterator[httpx.AsyncClient]:
    app = create_codec_app(TEST_KEYS, settings(jwks_url=f"{jwks.url}/certs"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as client:
        yield client


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}", "X-Namespace": "default"}


async def test_a_valid_access_token_gets_the_payloads_decoded(codec: httpx.AsyncClient) -> None:
    response = await codec.post("/decode", content=await sealed_body(), headers=bearer(token()))
    assert response.status_code == 200, response.text
    assert decoded(response) == PAYMENT
    clear = json_format.MessageToJson(Payloads(payloads=TEST_CONVERTER.payload_converter.to_payloads([PAYMENT])))
    encoded = await codec.post("/encode", content=clear, headers=bearer(token()))
    assert encoded.status_code == 200
    assert b"RF69F20260042" not in encoded.content


def _none_signed() -> str:
    return jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300}, "", algorithm="none")


def _hmac_with_public_key() -> str:
    # The algorithm-confusion forgery: HS256 keyed with the provider's public key, which anyone has.
    public = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    roles = {"roles": ["credit-control"]}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300, "realm_access": roles}
    body = jwt.utils.base64url_encode(json.dumps(claims).encode())
    signature = hmac.new(public, header + b"." + body, hashlib.sha256).digest()
    return b".".join([header, body, jwt.utils.base64url_encode(signature)]).decode()


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: token(exp=int(time.time()) - 600), 401),
        (lambda: token(aud="another-app"), 401),
        (lambda: token(iss="https://idp.example.fr/realms/other"), 401),
        (lambda: token(key=OTHER_KEY), 401),  # the right kid, the wrong key: a forged signature
        (lambda: token(kid="unknown"), 401),
        (lambda: token(exp=None), 401),  # a token that never expires is not accepted
        (_none_signed, 401),
        (_hmac_with_public_key, 401),
        (lambda: "not-a-jwt", 401),
        (lambda: token(realm_access={"roles": ["offline_access"]}), 403),
        (lambda: token(realm_access=None), 403),
    ],
    ids=[
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "wrong-signature",
        "unknown-key",
        "no-expiry",
        "alg-none",
        "hs256-with-public-key",
        "garbage",
        "missing-role",
        "no-roles-claim",
    ],
)
async def test_a_token_that_does_not_check_out_decodes_nothing(codec: httpx.AsyncClient, make: Any, code: int) -> None:
    response = await codec.post("/decode", content=await sealed_body(), headers=bearer(make()))
    assert response.status_code == code, response.text
    assert b"RF69F20260042" not in response.content
    assert b"payloads" not in response.content
    if code == 401:
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_no_token_and_no_token_in_the_path(codec: httpx.AsyncClient) -> None:
    body = await sealed_body()
    missing = await codec.post("/decode", content=body)
    assert missing.status_code == 401
    # The dev mode's token-in-the-path routes do not exist here, whatever the path says.
    for path in (f"/ui/{token()}/decode", "/ui/anything/decode"):
        response = await codec.post(path, content=body)
        assert response.status_code == 404
        assert b"RF69F20260042" not in response.content


async def test_the_jwks_is_fetched_once_and_cached(jwks: Jwks) -> None:
    app = create_codec_app(TEST_KEYS, settings(jwks_url=f"{jwks.url}/certs"))
    before = jwks.handler.fetched
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as client:
        for _ in range(3):
            response = await client.post("/decode", content=await sealed_body(), headers=bearer(token()))
            assert response.status_code == 200
    assert jwks.handler.fetched == before + 1


async def test_a_configured_public_key_instead_of_a_jwks(tmp_path: Path) -> None:
    pem = tmp_path / "idp.pem"
    pem.write_bytes(
        KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    app = create_codec_app(TEST_KEYS, settings(public_key_file=pem, required_role=None))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as client:
        good = await client.post("/decode", content=await sealed_body(), headers=bearer(token(realm_access=None)))
        assert good.status_code == 200
        assert decoded(good) == PAYMENT
        forged = await client.post("/decode", content=await sealed_body(), headers=bearer(token(key=OTHER_KEY)))
        assert forged.status_code == 401


async def test_an_unreachable_provider_is_503_and_decodes_nothing() -> None:
    gone = LocalServer()
    gone.serve(BaseHTTPRequestHandler)
    url = f"{gone.url}/certs"
    gone.stop()  # nothing listens there any more
    app = create_codec_app(TEST_KEYS, settings(jwks_url=url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as client:
        response = await client.post("/decode", content=await sealed_body(), headers=bearer(token()))
    assert response.status_code == 503
    assert b"payloads" not in response.content


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"jwks_url": "https://idp/certs", "issuer": None}, "DUNNING_CODEC_ISSUER and DUNNING_CODEC_AUDIENCE"),
        ({"jwks_url": "https://idp/certs", "audience": None}, "DUNNING_CODEC_ISSUER and DUNNING_CODEC_AUDIENCE"),
        ({"jwks_url": "https://idp/certs", "public_key_file": Path("k.pem")}, "not both"),
        ({"jwks_url": "https://idp/certs", "algorithms": ("HS256",)}, "public-key algorithms"),
        ({"public_key_file": Path("/nonexistent/k.pem")}, "cannot read"),
    ],
)
def test_a_production_mode_missing_a_check_does_not_start(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_codec_app(TEST_KEYS, settings(**changes))
