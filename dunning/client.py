"""One way to reach Temporal: the Pydantic converter with the payload codec, shared by every client,
worker and replayer (a case encrypted by one must be readable by all the others)."""

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from dunning.codec import CodecKeys, EncryptionCodec
from dunning.settings import TemporalSettings


def data_converter(keys: CodecKeys) -> DataConverter:
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keys))


async def connect(settings: TemporalSettings | None = None, keys: CodecKeys | None = None) -> Client:
    """Raises CodecKeyError, naming DUNNING_CODEC_KEYS, before connecting if the keys are missing or bad."""
    converter = data_converter(keys or CodecKeys.from_env())
    settings = settings or TemporalSettings()
    return await Client.connect(settings.address, namespace=settings.namespace, data_converter=converter)
