"""The codec server's production mode: each request carries the web UI user's own access token.

With `TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true` (UI config `codec.passAccessToken`) the Temporal web UI
sends the access token of its OIDC login as `Authorization: Bearer <JWT>` with every encode/decode
request. This module verifies that token as the identity provider issued it: the signature against
the provider's keys (a JWKS URL, or one public key in a PEM file), the issuer, the audience, the expiry,
and optionally a role or group claim; a token for another application, a stale one or a forged one
decodes nothing.

    DUNNING_CODEC_JWKS_URL         https://idp.example.fr/realms/x/protocol/openid-connect/certs
    DUNNING_CODEC_PUBLIC_KEY_FILE  or a PEM public key instead of the JWKS
    DUNNING_CODEC_ISSUER           the `iss` the provider puts in its tokens (required)
    DUNNING_CODEC_AUDIENCE         the `aud` the UI's tokens are minted for (required)
    DUNNING_CODEC_REQUIRED_ROLE    optional: a value the role claim must hold
    DUNNING_CODEC_ROLE_CLAIM       where the roles are, dotted for nested claims (default `roles`;
                                   Keycloak `realm_access.roles`, Okta and Entra groups `groups`)
    DUNNING_CODEC_JWT_ALGORITHMS   accepted signature algorithms (default RS256)

The provider must issue JWT access tokens (some, like Google's, are opaque: those cannot be checked here).
"""

from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from dunning.settings import JwtSettings as JwtSettings  # where its callers found it

JWKS_URL_VARIABLE = "DUNNING_CODEC_JWKS_URL"
PUBLIC_KEY_VARIABLE = "DUNNING_CODEC_PUBLIC_KEY_FILE"
ISSUER_VARIABLE = "DUNNING_CODEC_ISSUER"
AUDIENCE_VARIABLE = "DUNNING_CODEC_AUDIENCE"
ROLE_VARIABLE = "DUNNING_CODEC_REQUIRED_ROLE"
ROLE_CLAIM_VARIABLE = "DUNNING_CODEC_ROLE_CLAIM"
ALGORITHMS_VARIABLE = "DUNNING_CODEC_JWT_ALGORITHMS"
# Asymmetric only: with an HMAC algorithm the public key itself would sign valid tokens.
_ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
# The provider's clock and this host's may disagree by some seconds; more would extend stolen tokens.
_LEEWAY_SECONDS = 30


class TokenRejected(Exception):
    """Not a valid token of the configured provider and audience (answered 401)."""


class RoleMissing(Exception):
    """A valid token whose user lacks the required role (answered 403)."""


class KeysUnavailable(Exception):
    """The provider's keys could not be fetched, so no token can be checked (answered 503)."""


class JwtVerifier:
    def __init__(self, settings: JwtSettings) -> None:
        if bool(settings.jwks_url) == bool(settings.public_key_file):
            raise ValueError(f"set one of {JWKS_URL_VARIABLE} and {PUBLIC_KEY_VARIABLE}, not both")
        if not settings.issuer or not settings.audience:
            # Without them a token the same provider minted for any other application would do.
            raise ValueError(f"{ISSUER_VARIABLE} and {AUDIENCE_VARIABLE} are required with {JWKS_URL_VARIABLE}")
        unsafe = [a for a in settings.algorithms if a not in _ALLOWED_ALGORITHMS]
        if unsafe or not settings.algorithms:
            raise ValueError(
                f"{ALGORITHMS_VARIABLE}: {', '.join(unsafe) or 'none given'}; use public-key algorithms"
                f" ({', '.join(sorted(_ALLOWED_ALGORITHMS))})"
            )
        self._settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url, lifespan=300, timeout=5) if settings.jwks_url else None
        self._key: Any = None
        if settings.public_key_file is not None:
            try:
                pem = settings.public_key_file.read_bytes()
            except OSError as error:
                raise ValueError(f"{PUBLIC_KEY_VARIABLE}: cannot read {settings.public_key_file}: {error}") from error
            try:
                self._key = load_pem_public_key(pem)
            except ValueError as error:
                raise ValueError(f"{PUBLIC_KEY_VARIABLE} is not a PEM public key: {error}") from error

    def verify(self, token: str) -> Mapping[str, Any]:
        """The token's claims. Raises TokenRejected, RoleMissing or KeysUnavailable."""
        settings = self._settings
        try:
            key = self._signing_key(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(settings.algorithms),
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWKClientConnectionError as error:
            raise KeysUnavailable(f"the identity provider's keys cannot be fetched: {error}") from error
        except (jwt.PyJWTError, ValueError) as error:
            raise TokenRejected(str(error)) from error
        if settings.required_role is not None and settings.required_role not in _roles(claims, settings.role_claim):
            raise RoleMissing(f"the token's {settings.role_claim} claim lacks {settings.required_role}")
        return claims

    def _signing_key(self, token: str) -> Any:
        if self._jwks is None:
            return self._key
        # A `kid` unknown to the cached set makes the client fetch the set again (key rotation).
        return self._jwks.get_signing_key_from_jwt(token).key


def _roles(claims: Mapping[str, Any], path: str) -> set[str]:
    """The values at a dotted claim path: a list of strings, or one space-separated string (`scope`)."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, list):
        return {item for item in value if isinstance(item, str)}
    return set()
