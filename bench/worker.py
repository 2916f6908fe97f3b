"""Workers of both task queues, in their own process as in production (`worker.py` apart from the CLI),
so workflow tasks and the measured client do not share one event loop and one GIL.

`python -m bench.worker ADDRESS RAW_QUEUE PRODUCT_QUEUE VAR_DIR`; prints `ready` once both poll.
"""

import asyncio
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from bench.noop import BenchNoop
from dunning.client import data_converter
from dunning.codec import CodecKeys
from dunning.settings import ChannelSettings
from worker import MAX_CONCURRENT_ACTIVITIES, build_activities, build_worker


async def main(address: str, raw_queue: str, product_queue: str, var_dir: Path) -> None:
    client = await Client.connect(address, data_converter=data_converter(CodecKeys.from_env()))
    # No provider key: the benchmark's cases are due months ahead and send nothing, and if one did
    # it must land in the outbox, never at SendGrid.
    settings = ChannelSettings(sendgrid_api_key=None, var_dir=var_dir)
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES) as executor:
        product = build_worker(client, product_queue, build_activities(settings), executor)
        raw = Worker(client, task_queue=raw_queue, workflows=[BenchNoop])
        stop = asyncio.Event()
        # SIGTERM between phases: leaving `async with` waits for the tasks in flight, so none is left
        # to time out and be retried inside the next timed phase.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with product, raw:
            print("ready", flush=True)
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])))
    # The workers are shut down and nothing is left to flush: skip the interpreter's finalization,
    # where the SDK's runtime thread can abort the process (PyGILState_Release, sdk-python #300).
    os._exit(0)
