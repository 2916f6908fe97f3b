"""`python -m bench [--cases N] [--entries N] [--concurrency N] [--workflow-cache N] [--worker-during]`.

Each phase's figures are written as soon as it ends (`--output`, and a .json beside it), so a run that
fails later keeps them and names the phase that failed.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import ParamSpec, TypeVar
from unittest import mock

from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import starter.reconcile as reconcile_module
from bench import inputs
from bench.polls import Polls
from bench.report import Figures, Results, machine, print_table
from domain.models import CaseStatus, Stage, workflow_id_for
from domain.policy_file import DEFAULT, packaged
from dunning import search_attributes
from dunning.binaries import venv_binary
from dunning.client import data_converter
from dunning.codec import KEYS_VARIABLE, CodecKeys, new_key_entry
from starter.bank import Journal, parse_camt
from starter.bank.synth import make_camt053
from starter.cli import _lines  # the CLI's own reader of an events file, so parsing is measured as run
from starter.dispatch import Dispatcher
from starter.importer import DEFAULT_CONCURRENCY, import_items, parse_event_lines
from starter.reconcile import import_bank_file, journal_path, open_invoices
from starter.store import IngressStore
from workflows.invoice_dunning import InvoiceDunning

RAW_QUEUE = "bench-raw"
PRODUCT_QUEUE = "bench-dunning"
WARM_UP = 200  # enough for connections, caches and the sandbox's first imports to be in place
POLL_TIMEOUT = timedelta(seconds=30)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def bounded(concurrency: int, calls: list[Callable[[], Awaitable[object]]]) -> float:
    """Seconds to run every call with at most `concurrency` in flight."""
    limit = asyncio.Semaphore(concurrency)

    async def one(call: Callable[[], Awaitable[object]]) -> None:
        async with limit:
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(one(call) for call in calls))
    return time.perf_counter() - started


async def raw_ceiling(
    client: Client, prefix: str, count: int, concurrency: int, workers: "Workers", polls: Polls
) -> tuple[float, float]:
    """Seconds to start `count` BenchNoop runs, then to signal each once (which ends it).

    Between the two, the runs take their first workflow task, so they are signalled as the product's
    cases are: waiting on a signal, not with a first task still pending (which a signal only joins)."""
    ids = [f"{prefix}-{i}" for i in range(count)]

    async def start(workflow_id: str) -> None:
        await client.start_workflow("BenchNoop", id=workflow_id, task_queue=RAW_QUEUE)

    async def signal(workflow_id: str) -> None:
        await client.get_workflow_handle(workflow_id).signal("go")

    starts = await bounded(concurrency, [partial(start, workflow_id) for workflow_id in ids])
    async with workers.catching_up():
        await drain(client, RAW_QUEUE, polls)
    signals = await bounded(concurrency, [partial(signal, workflow_id) for workflow_id in ids])
    return starts, signals


async def drain(client: Client, queue: str, polls: Polls) -> float:
    """Seconds until the worker has taken every workflow task of `queue` (two empty reads in a row).

    Each phase starts on an idle worker, so one phase's backlog does not slow the next; and a bank
    statement arrives in production long after its cases started.
    """
    started = time.perf_counter()
    request = DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=queue), report_stats=True)
    empty = 0
    while empty < 2:
        await asyncio.sleep(0.5)
        # A deadline, so a call the loaded server never answers is retried like one it drops.
        response = await polls.read(
            f"drain {queue}", partial(client.workflow_service.describe_task_queue, request, timeout=POLL_TIMEOUT)
        )
        empty = empty + 1 if response.stats.approximate_backlog_count == 0 else 0
    return time.perf_counter() - started


async def import_events(client: Client, var_dir: Path, path: Path, concurrency: int, expected: int) -> float:
    """Seconds for `dunning events import` of `path`: the CLI's reader, parser, importer and dispatcher."""
    with IngressStore.in_dir(var_dir) as store:
        dispatcher = Dispatcher(client, store, PRODUCT_QUEUE, packaged(DEFAULT))
        started = time.perf_counter()
        summary = await import_items(lambda: parse_event_lines(_lines(path)), dispatcher, concurrency=concurrency)
        elapsed = time.perf_counter() - started
    if summary.started != expected or summary.failed or summary.rejected:
        raise SystemExit(f"events import of {path.name} went wrong: {summary}")
    return elapsed


@dataclass
class Phases:
    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, function: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
        async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    @contextmanager
    def around_bank_import(self) -> Iterator[None]:
        # Timing wrappers on the two I/O phases of import_bank_file, looked up in its module at call
        # time; the product code runs unchanged.
        with (
            mock.patch.object(
                reconcile_module, "open_invoices", self.timed("open cases read", reconcile_module.open_invoices)
            ),
            mock.patch.object(reconcile_module, "send_pending", self.timed("signals", reconcile_module.send_pending)),
        ):
            yield


async def bank_benchmark(
    client: Client, var_dir: Path, entries: int, concurrency: int, results: Results, workers: "Workers"
) -> None:
    figures, polls = results.figures, results.polls
    payments = figures.payments
    cases = inputs.invoices("K", payments)  # one case per payment: each payment settles its case
    with results.phase("bank cases"):
        with IngressStore.in_dir(var_dir) as store:
            # Yesterday's import: a store that reads the cases every morning knows when it last did, so
            # today's reads only what changed since (here: nothing but what it signals itself).
            await open_invoices(Dispatcher(client, store, PRODUCT_QUEUE, packaged(DEFAULT)))
        log(f"bank: starting {payments} cases to be paid")
        await import_events(
            client, var_dir, inputs.write_created_events(var_dir / "bank-cases.jsonl", cases), concurrency, payments
        )
        async with workers.catching_up():
            figures.bank_drain_seconds = await drain(client, PRODUCT_QUEUE, polls)
    with results.phase("camt.053 parsing"):
        data = make_camt053(entries, inputs.open_invoices(cases))
        timings = []
        for _ in range(3):  # the median of three: parsing is pure CPU and short
            started = time.perf_counter()
            parsed = parse_camt(data, source="bench.xml")
            timings.append(time.perf_counter() - started)
        if parsed.errors or len(parsed.lines) != payments:
            raise SystemExit(f"synthetic statement misparsed: {len(parsed.lines)} lines, {parsed.errors[:3]}")
        figures.parse_seconds = statistics.median(timings)

    # The machine's speed drifts over a run (shared cores): the bank import is compared with a raw
    # round measured right before it, on as many runs as it has payments (the server's cost of a
    # signal grows with the number of runs it keeps: its mutable-state cache holds fewer of them).
    with results.phase("raw before the bank import"):
        log(f"raw ceiling again: {payments} BenchNoop starts then signals")
        figures.raw_bank_start_seconds, figures.raw_bank_signal_seconds = await raw_ceiling(
            client, "raw-bank", payments, concurrency, workers, polls
        )
        async with workers.catching_up():
            await drain(client, RAW_QUEUE, polls)
    with results.phase("bank import"):
        log(f"bank: importing a {entries}-entry camt.053 ({len(data) // 1024} KiB)")
        phases = Phases()
        with (
            IngressStore.in_dir(var_dir) as store,
            Journal(journal_path(var_dir)) as journal,
            phases.around_bank_import(),
        ):
            dispatcher = Dispatcher(client, store, PRODUCT_QUEUE, packaged(DEFAULT))
            started = time.perf_counter()
            result = await import_bank_file(
                data, "bench.xml", dispatcher=dispatcher, journal=journal, concurrency=concurrency
            )
            figures.bank_seconds = time.perf_counter() - started
        figures.bank_phases = phases.seconds
        report = result.report
        if report.paid.count != payments or result.delivered != {"signalled": payments}:
            raise SystemExit(f"bank import went wrong: paid {report.paid.count}, delivered {result.delivered}")
        async with workers.catching_up():
            # The worker applies the payments (cases outside its cache replay first); a query sent now
            # would queue behind them and time out.
            figures.bank_worker_drain_seconds = await drain(client, PRODUCT_QUEUE, polls)
            checked = [case.invoice_id for case in cases[:: max(1, payments // 5)]]
            figures.bank_checked = await spot_check(client, checked, polls)


async def spot_check(client: Client, invoice_ids: list[str], polls: Polls) -> list[str]:
    """The cases say they are settled, not just the import (they close later, after the reversal watch)."""
    for invoice_id in invoice_ids:
        handle = client.get_workflow_handle(workflow_id_for(invoice_id))
        # The sticky backlog is not in the drained count: a query can still time out behind it.
        status: CaseStatus = await polls.read(
            "settled query", partial(handle.query, InvoiceDunning.status, rpc_timeout=POLL_TIMEOUT)
        )
        if status.stage is not Stage.SETTLED or status.balance != 0:
            raise SystemExit(f"{invoice_id} not settled after the bank import: {status.stage} {status.balance}")
    return invoice_ids


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


@dataclass
class Workers:
    """The worker process of both task queues, in its own process as `worker.py` runs in production.

    By default no worker polls while a phase is timed, for the raw runs and the product alike, and one
    is started after the phase to catch up (also timed): each ratio then compares the ingress with the
    raw SDK calls, without the reactions of two different workflows to them on the same 2 cores.
    With `--worker-during`, one worker started first runs through the whole run instead, as with
    `make run` on one machine.
    """

    address: str
    var_dir: Path
    cache: int
    rss_mib: float = 0.0  # of the last worker stopped
    _process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.worker", self.address, RAW_QUEUE, PRODUCT_QUEUE, str(self.var_dir),
            stdout=asyncio.subprocess.PIPE, env={**os.environ, "DUNNING_WORKFLOW_CACHE": str(self.cache)},
        )  # fmt: skip
        assert self._process.stdout is not None
        if (await self._process.stdout.readline()).strip() != b"ready":
            raise SystemExit("bench worker did not start")

    async def stop(self) -> None:
        if self._process is None:
            return
        self.rss_mib = _rss_mib(self._process.pid)
        self._process.terminate()
        await self._process.wait()
        self._process = None

    @asynccontextmanager
    async def catching_up(self) -> AsyncIterator[None]:
        """A worker for what follows a timed phase: the one running through, or one started for it."""
        if self._process is not None:  # --worker-during, or already catching up
            yield
            return
        await self.start()
        try:
            yield
        finally:
            await self.stop()


async def run(results: Results, workflow_cache: int | None) -> None:
    figures, polls = results.figures, results.polls
    cases, concurrency = figures.cases, figures.concurrency
    warm_up = min(WARM_UP, cases)  # a quick check at a tiny size need not warm up longer than it measures
    # The worker keeps every case of the run in its cache, as a production worker sized for its open
    # cases would (about 90 KB each, worker RSS reported); --workflow-cache to compare.
    figures.workflow_cache = workflow_cache or warm_up + cases + figures.payments
    with results.phase("dev server start"):
        log("starting the dev server (in memory)")
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=venv_binary("temporal"),
            search_attributes=list(search_attributes.ALL),
            data_converter=data_converter(CodecKeys.from_env()),
            ui=False,
        )
    with tempfile.TemporaryDirectory(prefix="dunning-bench-") as tmp:
        var = Path(tmp)
        client = env.client
        workers = Workers(client.service_client.config.target_host, var / "worker", figures.workflow_cache)
        try:
            with results.phase("warm-up"):
                if figures.worker_during:
                    await workers.start()
                log("warming up")
                async with workers.catching_up():
                    await raw_ceiling(client, "warm", warm_up, concurrency, workers, polls)
                    warm = inputs.invoices("W", warm_up)
                    await import_events(
                        client,
                        var / "warm",
                        inputs.write_created_events(var / "warm.jsonl", warm),
                        concurrency,
                        warm_up,
                    )
                    await drain(client, RAW_QUEUE, polls)
                    await drain(client, PRODUCT_QUEUE, polls)

            with results.phase("raw before the events import"):
                log(f"raw ceiling: {cases} BenchNoop starts then signals")
                figures.raw_start_seconds, figures.raw_signal_seconds = await raw_ceiling(
                    client, "raw", cases, concurrency, workers, polls
                )
            with results.phase("events import"):
                log(f"product: {cases} invoice.created through the events import")
                events = inputs.write_created_events(var / "events.jsonl", inputs.invoices("E", cases))
                figures.import_seconds = await import_events(client, var / "events", events, concurrency, cases)
                async with workers.catching_up():
                    figures.import_drain_seconds = await drain(client, PRODUCT_QUEUE, polls)
                    await drain(client, RAW_QUEUE, polls)
            with results.phase("raw after the events import"):
                log(f"raw ceiling after the events import: {cases} BenchNoop starts then signals")
                figures.raw_after_start_seconds, figures.raw_after_signal_seconds = await raw_ceiling(
                    client, "raw-after", cases, concurrency, workers, polls
                )
                async with workers.catching_up():
                    await drain(client, RAW_QUEUE, polls)
            await bank_benchmark(client, var / "bank", figures.entries, concurrency, results, workers)
        finally:
            await workers.stop()
            await env.shutdown()
    figures.worker_rss_mib = workers.rss_mib
    results.finish()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--cases", type=int, default=2000, help="cases started (and raw runs started/signalled)")
    parser.add_argument("--entries", type=int, default=10_000, help="entries of the camt.053 file")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="as the CLI's --concurrency")
    parser.add_argument(
        "--workflow-cache", type=int, help="the worker's DUNNING_WORKFLOW_CACHE (default: every case of the run)"
    )
    parser.add_argument(
        "--worker-during", action="store_true", help="one worker polls through the timed phases too (see Workers)"
    )
    parser.add_argument(
        "--output", type=Path, default=Path("BENCHMARKS.md"), help="where the figures are written (and a .json beside)"
    )
    # For tests/test_bench.py: what a late failure leaves on disk.
    parser.add_argument("--fail-in", metavar="PHASE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # Payloads are encrypted as in service; a key of this run (inherited by the worker process) will do.
    os.environ.setdefault(KEYS_VARIABLE, new_key_entry("bench"))
    figures = Figures(
        cases=args.cases, entries=args.entries, concurrency=args.concurrency, worker_during=args.worker_during
    )
    command = " ".join(["python -m bench", *sys.argv[1:]])
    results = Results(args.output, figures, machine(), datetime.now(UTC), command, Polls(), fail_in=args.fail_in)
    try:
        asyncio.run(run(results, args.workflow_cache))
    except BaseException:
        if results.failed is None:
            raise
        traceback.print_exc()
        # Last, so it is what a reader of the terminal sees above make's error.
        log(
            f"phase {results.failed['phase']!r} failed: {results.failed['error']}; the figures of the phases"
            f" before it are in {results.json_path} and {args.output}"
        )
        raise SystemExit(1) from None
    print_table(figures)
    log(f"written to {args.output} and {results.json_path}")


if __name__ == "__main__":
    main()
