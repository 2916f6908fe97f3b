"""The worker's probes (dunning/health.py): the answers themselves, then a real `worker.py` on a dev
server answering them, and compose's healthcheck command passing against it."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from dunning.health import Probe, serve_probes, split_address, temporal_probe
from tests.ports import free_ports

ROOT = Path(__file__).parent.parent


async def get(port: int, path: str, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
        return await client.request(method, path)


async def test_the_probes_say_live_and_ready_or_why_not() -> None:
    (port,) = free_ports(1)
    state = {"live": True, "temporal_down": False}

    async def ready() -> dict[str, str] | None:
        return {"temporal": "ConnectError"} if state["temporal_down"] else None

    server = await serve_probes(f"127.0.0.1:{port}", lambda: state["live"], ready)
    try:
        assert (await get(port, "/healthz")).status_code == 200
        assert (await get(port, "/readyz")).json() == {"status": "ok"}
        state["temporal_down"] = True
        answer = await get(port, "/readyz")
        assert (answer.status_code, answer.json()) == (503, {"status": "unavailable", "temporal": "ConnectError"})
        assert (await get(port, "/healthz")).status_code == 200  # Temporal away: wait, do not restart
        state["live"] = False
        assert ((await get(port, "/healthz")).status_code, (await get(port, "/readyz")).status_code) == (503, 503)
        assert (await get(port, "/metrics")).status_code == 404
        assert (await get(port, "/healthz", "POST")).status_code == 405
    finally:
        server.close()
        await server.wait_closed()


async def test_readiness_asks_temporal(dev: WorkflowEnvironment) -> None:
    up: Probe = temporal_probe(dev.client)
    assert await up() is None
    (closed,) = free_ports(1)
    nowhere = await Client.connect(f"127.0.0.1:{closed}", lazy=True)
    problem = await temporal_probe(nowhere)()
    assert problem is not None
    assert set(problem) == {"temporal"}


@pytest.mark.parametrize("address", ["8090", "host:", "0.0.0.0:70000", "x:http"])
def test_an_address_must_be_host_and_port(address: str) -> None:
    with pytest.raises(ValueError, match="is not host:port"):
        split_address(address)
    assert split_address(":8090") == ("0.0.0.0", 8090)


async def test_a_running_worker_passes_the_compose_healthcheck(dev: WorkflowEnvironment, tmp_path: Path) -> None:
    (port,) = free_ports(1)
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev.client.service_client.config.target_host,
        "DUNNING_TASK_QUEUE": "health-check",
        "DUNNING_VAR_DIR": str(tmp_path),
        "DUNNING_WORKER_HEALTH_ADDRESS": f"127.0.0.1:{port}",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", cwd=ROOT, env=env, stderr=subprocess.PIPE
    )
    try:
        for _ in range(300):  # bounded wait for the worker to start, not a timed assertion
            try:
                if (await get(port, "/healthz")).status_code == 200:
                    break
            except httpx.ConnectError:
                assert worker.returncode is None, "the worker exited"
            await asyncio.sleep(0.1)
        assert (await get(port, "/readyz")).json() == {"status": "ok"}
        compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]["worker"]
        command = [part.replace(":8090/", f":{port}/") for part in compose["healthcheck"]["test"][1:]]
        check = await asyncio.create_subprocess_exec(*command, cwd=ROOT)
        assert await check.wait() == 0
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = await worker.communicate()
    assert worker.returncode == 0, stderr.decode()
    assert b"probes on http://" in stderr
