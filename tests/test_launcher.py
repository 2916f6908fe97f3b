"""`make run` (deploy/local.py), really launched: on free ports, and next to another copy holding one."""

import asyncio
import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from dunning.binaries import venv_binary
from dunning.client import data_converter
from dunning.codec import KEYS_VARIABLE, CodecKeys
from tests.ports import free_ports, held_port

ROOT = Path(__file__).resolve().parent.parent
VARIABLES = ("TEMPORAL_PORT", "TEMPORAL_UI_PORT", "DUNNING_API_PORT", "DUNNING_CODEC_PORT")
# A hang guard only: a dev server, a worker and the API start in seconds on an idle machine.
STARTUP_LIMIT = 180


def launcher_env(ports: dict[str, int], var_dir: Path) -> dict[str, str]:
    # Without the test run's codec keys: the launcher makes its own development key.
    env = {key: value for key, value in os.environ.items() if key not in ("DUNNING_API_TOKEN", KEYS_VARIABLE)}
    return {**env, **{name: str(port) for name, port in ports.items()}, "DUNNING_VAR_DIR": str(var_dir)}


def launch(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "deploy.local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def refused_launch(ports: dict[str, int], var: Path) -> subprocess.CompletedProcess[str]:
    """`make run`'s launcher, expected to stop before it starts anything."""
    return subprocess.run(
        [sys.executable, "-m", "deploy.local"],
        cwd=ROOT,
        env=launcher_env(ports, var),
        capture_output=True,
        text=True,
        timeout=STARTUP_LIMIT,
    )


@pytest.mark.parametrize("taken", VARIABLES)
def test_a_port_held_by_another_instance_stops_the_launch_before_anything_starts(taken: str, tmp_path: Path) -> None:
    with held_port() as busy:
        ports = dict(zip(VARIABLES, free_ports(len(VARIABLES)), strict=True)) | {taken: busy}
        run = refused_launch(ports, tmp_path / "var")
    assert run.returncode == 1
    assert f"port {busy} " in run.stderr
    assert f"{taken}=<free port> make run" in run.stderr
    assert "nothing was started" in run.stderr
    assert "DUNNING_API_TOKEN" not in run.stdout + run.stderr  # no banner, no token
    assert not (tmp_path / "var" / "temporal.db").exists()
    assert not any(listening(port) for name, port in ports.items() if name != taken)


def test_the_same_port_twice_is_refused(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    ports = dict(zip(VARIABLES, free_ports(len(VARIABLES)), strict=True)) | {
        "TEMPORAL_UI_PORT": port,
        "DUNNING_API_PORT": port,
    }
    run = refused_launch(ports, tmp_path / "var")
    assert run.returncode == 1
    assert f"TEMPORAL_UI_PORT and DUNNING_API_PORT are both {port}" in run.stderr


def test_launch_prints_the_exports_that_reach_this_instance(tmp_path: Path) -> None:
    ports = dict(zip(VARIABLES, free_ports(len(VARIABLES)), strict=True))
    process = launch(launcher_env(ports, tmp_path / "var"))
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    output: list[str] = []
    try:
        while not any("Ctrl-C stops everything" in line for line in output):
            line = lines.get(timeout=STARTUP_LIMIT)
            assert line is not None, "".join(output)
            output.append(line)
        banner = "".join(output)
        exports = next(line for line in output if "export " in line).split("export ", 1)[1]
        env = dict(part.split("=", 1) for part in shlex.split(exports))
        assert env["TEMPORAL_ADDRESS"] == f"127.0.0.1:{ports['TEMPORAL_PORT']}"
        assert env["DUNNING_VAR_DIR"] == str((tmp_path / "var").resolve())
        assert env["DUNNING_API_URL"] == f"http://127.0.0.1:{ports['DUNNING_API_PORT']}"
        assert f"http://127.0.0.1:{ports['TEMPORAL_UI_PORT']}/namespaces/default/workflows" in banner
        assert f"http://127.0.0.1:{ports['DUNNING_API_PORT']}/docs" in banner

        # The token printed is the one this instance's API takes.
        calls = f"{env['DUNNING_API_URL']}/calls"
        request = urllib.request.Request(calls, headers={"Authorization": f"Bearer {env['DUNNING_API_TOKEN']}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(calls, timeout=30)
        assert refused.value.code == 401

        # The UI is pointed at this instance's codec server, which decodes with the key kept in var/.
        keys = tmp_path / "var" / "codec-keys"
        assert keys.stat().st_mode & 0o777 == 0o600
        assert env[KEYS_VARIABLE] == keys.read_text().strip()
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['TEMPORAL_UI_PORT']}/api/v1/settings", timeout=30) as r:
            endpoint = json.load(r)["Codec"]["Endpoint"]
        assert endpoint.startswith(f"http://127.0.0.1:{ports['DUNNING_CODEC_PORT']}/")
        assert f"http://127.0.0.1:{ports['DUNNING_CODEC_PORT']}" in banner
        converter = data_converter(CodecKeys.parse(env[KEYS_VARIABLE]))
        sealed = asyncio.run(converter.encode(["F-2026-0042"]))
        request = urllib.request.Request(
            f"{endpoint}/decode",
            data=json_format.MessageToJson(Payloads(payloads=sealed)).encode(),
            headers={"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{ports['TEMPORAL_UI_PORT']}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payloads = json_format.Parse(response.read(), Payloads()).payloads
        assert converter.payload_converter.from_payloads(payloads) == ["F-2026-0042"]

        # Closed cases stay on the server 30 days, as in the deployments, not the dev server's one.
        describe = ["operator", "namespace", "describe", "--namespace", "default", "--output", "json"]
        described = subprocess.run(
            [venv_binary("temporal"), *describe, "--address", env["TEMPORAL_ADDRESS"]],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert json.loads(described.stdout)["config"]["workflowExecutionRetentionTtl"] == f"{30 * 24 * 3600}s"

        # The CLI with the exports talks to this instance's server.
        cli = subprocess.run(
            [venv_binary("dunning"), "cases"],
            env={**os.environ, **env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert "Cases" in cli.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0
    assert not any(listening(port) for port in ports.values())
