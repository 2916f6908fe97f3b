"""One way to reach Temporal, with the Pydantic converter every client, worker and replayer must share."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from dunning.settings import TemporalSettings

DATA_CONVERTER = pydantic_data_converter


async def connect(settings: TemporalSettings | None = None) -> Client:
    settings = settings or TemporalSettings()
    return await Client.connect(settings.address, namespace=settings.namespace, data_converter=DATA_CONVERTER)
