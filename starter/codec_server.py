"""Codec server: the Temporal web UI and CLI send it encrypted payloads and get them back readable.

    DUNNING_CODEC_KEYS=... DUNNING_CODEC_TOKEN=... python -m starter.codec_server --port 8081

The protocol is Temporal's (samples-go codec-server/protocol.md): POST `.../encode` and `.../decode`
with a Payloads message as protobuf JSON, answered in kind. Who gets an answer depends on the mode.

Token mode (the default, `make run`): only someone holding DUNNING_CODEC_TOKEN; it travels either way:

- `Authorization: Bearer <token>` for scripts and the CLI
  (`temporal workflow show --codec-endpoint http://127.0.0.1:8081 --codec-auth "Bearer $DUNNING_CODEC_TOKEN"`);
- in the path, `/ui/<token>/decode`, for the web UI: the browser can send only the UI's own login token
  (which the dev server's UI does not have), never a fixed one, and the protocol lets the endpoints sit
  at any depth. `make run` points the UI there. Anyone who can read the UI's settings learns this URL:
  fine on a loopback dev setup, not in production.

Identity mode (production; on when DUNNING_CODEC_JWKS_URL or DUNNING_CODEC_PUBLIC_KEY_FILE is set, see
`starter.codec_auth` for every variable): each request carries its user's own OIDC access token, which
is verified (signature, issuer, audience, expiry, optional role). The UI sends its login's token with
`TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true` (config `codec.passAccessToken`) and the endpoint without any
token in it (`TEMPORAL_CODEC_ENDPOINT=https://codec.example.fr`); the CLI passes the user's token with
`--codec-auth "Bearer $ACCESS_TOKEN"`. DUNNING_CODEC_TOKEN is not used and `/ui/<token>/...` is not
served. `TEMPORAL_CODEC_INCLUDE_CREDENTIALS` (cookies) is not needed.

A missing or invalid token gets 401, a valid one without the required role (or a wrong fixed token)
403, both before the body is read; 503 when the provider's keys cannot be fetched. A body over
DUNNING_CODEC_MAX_BODY_BYTES gets 413. CORS admits the UI's origins only (DUNNING_CODEC_UI_ORIGINS).
"""

import argparse
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from dunning.codec import CodecKeys, EncryptionCodec
from dunning.settings import CodecServerSettings as CodecServerSettings  # where its tests found it
from dunning.settings import Settings
from starter.body_limit import BodyLimit
from starter.codec_auth import JwtSettings, JwtVerifier, KeysUnavailable, RoleMissing, TokenRejected

TOKEN_VARIABLE = "DUNNING_CODEC_TOKEN"
ORIGINS_VARIABLE = "DUNNING_CODEC_UI_ORIGINS"
MAX_BODY_VARIABLE = "DUNNING_CODEC_MAX_BODY_BYTES"


def create_codec_app(keys: CodecKeys, settings: CodecServerSettings) -> FastAPI:
    codec = EncryptionCodec(keys)
    bearer = HTTPBearer(auto_error=False, description=f"the value of {TOKEN_VARIABLE}, or the user's access token")
    check = _identity_check(settings.jwt) if settings.jwt.enabled else _token_check(settings.token)

    def authorised(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> None:
        given = request.path_params.get("path_token") or (credentials.credentials if credentials else None)
        if given is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "missing token: Authorization: Bearer <token>", headers=_CHALLENGE
            )
        check(given)

    app = FastAPI(title="Dunning codec server", version="1", docs_url=None, redoc_url=None, openapi_url=None)

    def route(fn: Callable[[Sequence[Payload]], Awaitable[list[Payload]]]) -> Callable[[Request], Awaitable[Response]]:
        async def apply(request: Request) -> Response:
            try:
                payloads = json_format.Parse(await request.body(), Payloads())
            except json_format.ParseError as error:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT, f"body is not a Payloads message in JSON: {error}"
                ) from error
            try:
                result = Payloads(payloads=await fn(payloads.payloads))
            except ValueError as error:  # unknown key id, altered ciphertext: say which, keep the rest
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
            return Response(json_format.MessageToJson(result), media_type="application/json")

        return apply

    guarded = [Depends(authorised)]
    # The token in the path exists only for the dev setup's UI, which has no login of its own.
    for prefix in ("",) if settings.jwt.enabled else ("", "/ui/{path_token}"):
        app.add_api_route(prefix + "/encode", route(codec.encode), methods=["POST"], dependencies=guarded)
        app.add_api_route(prefix + "/decode", route(codec.decode), methods=["POST"], dependencies=guarded)
    # Outermost first: the preflight (which carries no token) is answered by CORS, then the size is checked.
    app.add_middleware(BodyLimit, limit_for=lambda _: (settings.max_body_bytes, MAX_BODY_VARIABLE))
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.ui_origins),
        allow_methods=["POST"],
        allow_headers=["content-type", "x-namespace", "authorization"],
    )
    return app


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _token_check(token: str) -> Callable[[str], None]:
    if len(token) < 16:
        raise ValueError(f"{TOKEN_VARIABLE} must be set, at least 16 characters (e.g. `openssl rand -hex 32`)")
    expected = token.encode()

    def check(given: str) -> None:
        if not secrets.compare_digest(given.encode(), expected):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong codec token")

    return check


def _identity_check(settings: JwtSettings) -> Callable[[str], None]:
    verifier = JwtVerifier(settings)

    def check(given: str) -> None:
        # Runs in FastAPI's thread pool (a sync dependency), where fetching the JWKS may block.
        try:
            verifier.verify(given)
        except TokenRejected as error:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"invalid access token: {error}",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from error
        except RoleMissing as error:
            raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from error
        except KeysUnavailable as error:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from error

    return check


def main() -> None:
    import uvicorn  # only serving needs it

    parser = argparse.ArgumentParser(description="Serve the payload codec to the Temporal web UI and CLI.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    try:
        settings = Settings.load()
        app = create_codec_app(CodecKeys.parse_setting(settings.codec.keys), settings.codec_server)
    except ValueError as error:  # SettingsError included
        raise SystemExit(f"codec server not started: {error}") from error
    # No access log: the UI's requests carry the token in their path.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
