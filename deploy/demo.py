"""`make demo`: what `make run` starts (deploy/local.py), then a sample book at every stage.

The service runs on its own database, var/demo/ (DUNNING_VAR_DIR), made afresh at each start so the book's
dates fit today; the cases of `make run` in var/ are left alone. Its cases follow the demo policy
(samples/policies/demo.toml, DUNNING_POLICY_FILE): the default ladders sending at any hour of any day,
so a late case runs what is due at once instead of waiting for 09:00-18:00 on a business day. Their
messages land in var/demo/outbox/. The book itself is deploy/demo_book.py; it goes in through the
ingress API, as billing and the bank send it. Ctrl-C stops everything, as with `make run`.
"""

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx

from deploy import demo_book
from deploy.demo_book import DEMO_POLICY_FILE
from deploy.local import HOST, ROOT
from domain.calendar import PARIS, paris_date
from domain.models import CaseStatus
from dunning.settings import Settings, SettingsError

DEMO_DIR = ROOT / "var" / "demo"
# A hang guard: the dev server, the worker and the API start in seconds on an idle machine.
READY_SECONDS = 180


def _wait_ready(api_url: str, service: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise SystemExit(f"`make run` stopped (code {service.returncode}): see its output above")
        try:
            if httpx.get(f"{api_url}/readyz", timeout=2).status_code == httpx.codes.OK:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the ingress API at {api_url} was not ready after {READY_SECONDS}s: see the output above")


async def _load(api_url: str, token: str, book: Sequence[demo_book.DemoCase]) -> dict[str, CaseStatus]:
    async with httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
        await demo_book.load(api, book, paris_date(datetime.now(UTC)))
        return await demo_book.wait_for(api, {c.invoice_id: c.stage for c in book}, 10)


def _paris(instant: datetime | None) -> str:
    return instant.astimezone(PARIS).strftime("%a %d %b %H:%M") if instant else "-"


def _summary(book: Sequence[demo_book.DemoCase], statuses: dict[str, CaseStatus], ui_url: str, seconds: float) -> str:
    lines = [f"\n  Demo book loaded, every case at its stage, {seconds:.0f}s after `make demo` started:\n"]
    lines.append(f"  {'invoice':<12} {'customer':<7} {'stage':<17} {'balance':>10}  next action (Paris)")
    for case in book:
        status = statuses[case.invoice_id]
        upcoming = f"{status.next_action.step} {_paris(status.next_action.at)}" if status.next_action else "-"
        lines.append(
            f"  {case.invoice_id:<12} {status.customer_id:<7} {status.stage.value:<17} {status.balance:>10}  {upcoming}"
        )
    notices = urllib.parse.quote('DunningStage="formal_notice"')
    lines += [
        "",
        "  F-2026-1112 is handed over to litigation on the morning shown: never on the day of its formal notice.",
        f"  Formal notices in the web UI: {ui_url}/namespaces/default/workflows?query={notices}",
        '  A tour of the UI and the CLI: README.md, "Demo".\n',
    ]
    return "\n".join(lines)


def main() -> None:
    started = time.monotonic()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        local = Settings.load().local
    except SettingsError as error:
        raise SystemExit(f"demo not started: {error}") from None
    api_port, ui_port = local.api_port, local.ui_port
    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    token = local.api_token or secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "DUNNING_VAR_DIR": str(DEMO_DIR),
        "DUNNING_API_TOKEN": token,
        "DUNNING_POLICY_FILE": str(DEMO_POLICY_FILE),
    }
    service = subprocess.Popen([sys.executable, "-m", "deploy.local"], cwd=ROOT, env=env)
    try:
        api_url = f"http://{HOST}:{api_port}"
        _wait_ready(api_url, service)
        book = demo_book.plan(datetime.now(UTC))
        try:
            statuses = asyncio.run(_load(api_url, token, book))
        except (RuntimeError, httpx.HTTPError) as error:
            raise SystemExit(f"the demo book did not load: {error}") from error
        print(_summary(book, statuses, f"http://{HOST}:{ui_port}", time.monotonic() - started), flush=True)
        service.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if service.poll() is None:
            service.send_signal(signal.SIGINT)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()


if __name__ == "__main__":
    main()
