"""`make bench` on a loaded machine: its progress polls ride out a server that drops calls, and a run
that fails late keeps the figures of the phases it finished. Sizes here are tiny: these check what the
bench survives and writes, never how fast anything is."""

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from bench.__main__ import drain
from bench.polls import Polls
from dunning.binaries import venv_binary

ROOT = Path(__file__).resolve().parent.parent


class Flaky:
    """A read that fails `times` times with `status`, as a loaded server's answer would, then answers."""

    def __init__(self, times: int, status: RPCStatusCode) -> None:
        self.left = times
        self.status = status
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise RPCError("operation was canceled", self.status, b"")
        return "answer"


async def test_a_poll_retries_a_cancelled_call_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    polls = Polls(first_pause=0.01)
    read = Flaky(3, RPCStatusCode.CANCELLED)
    assert await polls.read("drain q", read) == "answer"
    assert read.calls == 4
    assert polls.retries["drain q"] == 3
    logged = capsys.readouterr().err.splitlines()
    assert len(logged) == 3
    assert logged[0].startswith("drain q: CANCELLED (operation was canceled), attempt 1 of 8; retrying in 0.0")


async def test_a_poll_gives_up_after_its_bound() -> None:
    polls = Polls(attempts=3, first_pause=0.01)
    read = Flaky(10, RPCStatusCode.UNAVAILABLE)
    with pytest.raises(RPCError) as raised:
        await polls.read("count", read)
    assert raised.value.status is RPCStatusCode.UNAVAILABLE
    assert read.calls == 3


async def test_a_poll_does_not_retry_a_wrong_request() -> None:
    polls = Polls(first_pause=0.01)
    read = Flaky(1, RPCStatusCode.INVALID_ARGUMENT)
    with pytest.raises(RPCError):
        await polls.read("count", read)
    assert read.calls == 1
    assert not polls.retries


async def test_the_drain_poll_rides_out_a_server_stopped_and_restarted() -> None:
    server = await WorkflowEnvironment.start_local(dev_server_existing_path=venv_binary("temporal"), ui=False)
    address = server.client.service_client.config.target_host
    client = await Client.connect(address)
    await server.shutdown()
    polls = Polls(first_pause=0.2)
    # An empty queue is drained at once: only the stopped server stands in the way.
    draining = asyncio.create_task(drain(client, "bench-test", polls))
    await asyncio.sleep(1.0)
    assert not draining.done()
    # The same port again, so the client's address still holds; it was free a moment ago.
    restarted = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"), ui=False, port=int(address.rsplit(":", 1)[1])
    )
    try:
        await asyncio.wait_for(draining, timeout=60)
    finally:
        await restarted.shutdown()
    assert polls.retries["drain bench-test"] >= 1


def test_a_failure_in_the_last_phase_keeps_the_earlier_phases_figures(tmp_path: Path) -> None:
    output = tmp_path / "BENCHMARKS.md"
    # One worker polling throughout (--worker-during): no worker start per phase, so a tiny run is quick.
    command = [sys.executable, "-m", "bench", "--cases", "10", "--entries", "10", "--worker-during"]
    run = subprocess.run(
        [*command, "--fail-in", "bank import", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode != 0
    assert "phase 'bank import' failed: InjectedFailure" in run.stderr

    results = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
    assert results["status"] == "failed"
    assert results["failed"]["phase"] == "bank import"
    assert [phase["phase"] for phase in results["phases_done"]] == [
        "dev server start",
        "warm-up",
        "raw before the events import",
        "events import",
        "raw after the events import",
        "bank cases",
        "camt.053 parsing",
        "raw before the bank import",
    ]
    assert all(phase["load_average_1min"] >= 0 for phase in results["phases_done"])
    figures = results["figures"]
    for measured in (
        "raw_start_seconds",
        "raw_after_start_seconds",
        "import_seconds",
        "raw_bank_signal_seconds",
        "parse_seconds",
    ):
        assert figures[measured] > 0, measured
    measures = {row["measure"]: row for row in results["measures"]}
    assert measures["cases started/s, `dunning events import`"]["ratio_to_raw"] > 0

    markdown = output.read_text(encoding="utf-8")
    assert "**Incomplete run: phase `bank import` failed**" in markdown
    assert "| cases started/s, `dunning events import` | " in markdown
