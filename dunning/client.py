"""One way to reach Temporal: the Pydantic converter with the payload codec, shared by every client,
worker and replayer (a case encrypted by one must be readable by all the others), and one way to
reach a secured server (Temporal Cloud, or a self-hosted one behind TLS): the CLI's profiles."""

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConnectConfig

from dunning.codec import CodecKeys, EncryptionCodec
from dunning.settings import TemporalSettings, temporal_profile


def data_converter(keys: CodecKeys) -> DataConverter:
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keys))


async def connect(settings: TemporalSettings | None = None, keys: CodecKeys | None = None) -> Client:
    """Raises CodecKeyError, naming DUNNING_CODEC_KEYS, before connecting if the keys are missing or bad."""
    converter = data_converter(keys or CodecKeys.from_env())
    config = connect_config(settings or TemporalSettings())
    return await Client.connect(**config, data_converter=converter)


def connect_config(settings: TemporalSettings) -> ClientConnectConfig:
    """What `connect` gives `Client.connect`: the settings' address and namespace (whose defaults are
    the profile's), and the profile's API key, TLS (server CA and name, client certificate and key
    for mTLS) and gRPC metadata. An API key alone turns TLS on, as Temporal Cloud requires."""
    config = temporal_profile().to_client_connect_config()
    config["target_host"] = settings.address
    config["namespace"] = settings.namespace
    return config
