"""Payload encryption: what the Temporal server stores of a case (names, e-mails, addresses, invoice
ids, amounts) is AES-256-GCM ciphertext; only processes holding a key can read it.

Keys come from DUNNING_CODEC_KEYS, `id:base64key` entries separated by commas. The first entry
encrypts, every entry decrypts: to rotate, put a new key first and keep the old ones behind it for as
long as cases encrypted with them may still be replayed (the life of a case plus its retention).

    DUNNING_CODEC_KEYS="2026-12:<new>,2026-06:<old>"     # make one with `python -m dunning.codec`

Every client, worker, replayer and the codec server (dunning/codec_server.py) must share the keys.
Search attributes are never passed through a codec: they must stay free of personal data.
"""

import base64
import binascii
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from dunning.settings import CodecSettings

KEYS_VARIABLE = "DUNNING_CODEC_KEYS"
ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12
_KEY_BYTES = 32
_KEY_ID_FORMAT = re.compile(r"[A-Za-z0-9._-]{1,64}")


class CodecKeyError(ValueError):
    """DUNNING_CODEC_KEYS is missing or malformed: no process starts without readable keys."""


class UnknownKeyError(ValueError):
    """A payload encrypted with a key that is not (or no longer) configured."""


@dataclass(frozen=True)
class CodecKeys:
    """Key ids with their AES-256 keys, the encrypting one first."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise CodecKeyError(f"{KEYS_VARIABLE} holds no key")
        ids = [key_id for key_id, _ in self.keys]
        for index, (key_id, key) in enumerate(self.keys, start=1):
            if not _KEY_ID_FORMAT.fullmatch(key_id):
                raise CodecKeyError(
                    f"{KEYS_VARIABLE} entry {index}: key id {key_id[:64]!r} must be 1-64 of A-Z a-z 0-9 . _ -"
                )
            if len(key) != _KEY_BYTES:
                raise CodecKeyError(
                    f"{KEYS_VARIABLE} entry {index} ({key_id}): the key is {len(key)} bytes, AES-256 needs 32"
                )
            if ids.count(key_id) > 1:
                raise CodecKeyError(f"{KEYS_VARIABLE}: key id {key_id} appears twice")

    @classmethod
    def parse(cls, text: str) -> "CodecKeys":
        """From `id:base64key,id:base64key`; the error names the entry, never the key material."""
        entries = [entry.strip() for entry in text.split(",")]
        keys = []
        for index, entry in enumerate(entries, start=1):
            key_id, colon, encoded = entry.partition(":")
            if not colon:
                raise CodecKeyError(f"{KEYS_VARIABLE} entry {index}: expected id:base64key")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except binascii.Error as error:
                raise CodecKeyError(f"{KEYS_VARIABLE} entry {index} ({key_id.strip()}): not base64") from error
            keys.append((key_id.strip(), key))
        return cls(tuple(keys))

    @classmethod
    def from_env(cls) -> "CodecKeys":
        return cls.parse_setting(CodecSettings().keys)

    @classmethod
    def parse_setting(cls, text: str) -> "CodecKeys":
        """The value of DUNNING_CODEC_KEYS; refused when empty."""
        text = text.strip()
        if not text:
            raise CodecKeyError(
                f"{KEYS_VARIABLE} is not set: payloads would reach the Temporal server in clear. Set it to"
                " `python -m dunning.codec` output (the same value on every worker, API, CLI and codec server);"
                " `make run` keeps a development key in var/codec-keys"
            )
        return cls.parse(text)


def new_key_entry(key_id: str | None = None) -> str:
    """A fresh `id:base64key` entry; the default id is the month, which sorts keys by age."""
    key_id = key_id or datetime.now(UTC).strftime("%Y-%m")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode('ascii')}"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM of each whole serialized payload (data and metadata, so the encoding of a value is
    hidden too), a random 96-bit nonce per payload, the key id bound as associated data."""

    def __init__(self, keys: CodecKeys) -> None:
        super().__init__()
        self._encrypt_id, key = keys.keys[0]
        self._encryptor = AESGCM(key)
        self._decryptors = {key_id: AESGCM(key) for key_id, key in keys.keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._encrypt_id.encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._encryptor.encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        # Payloads without our encoding pass as they are: the saved histories (tests/histories) and
        # the cases started before encryption were written in clear and must still replay.
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        decryptor = self._decryptors.get(key_id)
        if decryptor is None:
            raise UnknownKeyError(
                f"payload encrypted with key {key_id[:64]!r}, which is not in {KEYS_VARIABLE}"
                f" (known: {', '.join(self._decryptors)}): keep retired keys after the current one"
            )
        try:
            clear = decryptor.decrypt(payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:], key_id.encode())
        except InvalidTag as error:
            raise ValueError(f"payload under key {key_id} fails authentication: altered or another key") from error
        return Payload.FromString(clear)


if __name__ == "__main__":
    print(new_key_entry())
