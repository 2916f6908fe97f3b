"""`python -m bench [--cases N] [--entries N] [--concurrency N]`: see bench/__init__.py and BENCHMARKS.md."""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import ParamSpec, TypeVar
from unittest import mock

from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import starter.reconcile as reconcile_module
from bench import inputs
from bench.report import Figures, machine, print_table, write_markdown
from domain.models import CaseStatus, Stage, workflow_id_for
from dunning import search_attributes
from dunning.binaries import venv_binary
from dunning.client import DATA_CONVERTER
from starter.bank import Journal, parse_camt
from starter.bank.synth import make_camt053
from starter.cli import _lines  # the CLI's own reader of an events file, so parsing is measured as run
from starter.dispatch import Dispatcher
from starter.importer import DEFAULT_CONCURRENCY, import_items, parse_event_lines
from starter.reconcile import import_bank_file, journal_path
from starter.store import IngressStore

RAW_QUEUE = "bench-raw"
PRODUCT_QUEUE = "bench-dunning"
WARM_UP = 200  # enough for connections, caches and the sandbox's first imports to be in place
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


async def raw_ceiling(client: Client, prefix: str, count: int, concurrency: int) -> tuple[float, float]:
    """Seconds to start `count` BenchNoop runs, then to signal each once (which ends it)."""
    ids = [f"{prefix}-{i}" for i in range(count)]

    async def start(workflow_id: str) -> None:
        await client.start_workflow("BenchNoop", id=workflow_id, task_queue=RAW_QUEUE)

    async def signal(workflow_id: str) -> None:
        await client.get_workflow_handle(workflow_id).signal("go")

    starts = await bounded(concurrency, [partial(start, workflow_id) for workflow_id in ids])
    signals = await bounded(concurrency, [partial(signal, workflow_id) for workflow_id in ids])
    return starts, signals


async def drain(client: Client, queue: str) -> float:
    """Seconds until the worker has taken every workflow task of `queue` (two empty reads in a row).

    Each phase starts on an idle worker, so one phase's backlog does not slow the next; and a bank
    statement arrives in production long after its cases started.
    """
    started = time.perf_counter()
    request = DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=queue), report_stats=True)
    empty = 0
    while empty < 2:
        await asyncio.sleep(0.5)
        response = await client.workflow_service.describe_task_queue(request)
        empty = empty + 1 if response.stats.approximate_backlog_count == 0 else 0
    return time.perf_counter() - started


async def import_events(client: Client, var_dir: Path, path: Path, concurrency: int, expected: int) -> float:
    """Seconds for `dunning events import` of `path`: the CLI's reader, parser, importer and dispatcher."""
    with IngressStore.in_dir(var_dir) as store:
        dispatcher = Dispatcher(client, store, PRODUCT_QUEUE)
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


async def bank_benchmark(client: Client, var_dir: Path, entries: int, concurrency: int, figures: Figures) -> None:
    payments = entries + entries // 10  # the synthetic file makes every tenth entry a batch of two
    cases = inputs.invoices("K", payments)  # one case per payment: each payment settles its case
    log(f"bank: starting {payments} cases to be paid")
    await import_events(
        client, var_dir, inputs.write_created_events(var_dir / "bank-cases.jsonl", cases), concurrency, payments
    )
    figures.bank_drain_seconds = await drain(client, PRODUCT_QUEUE)
    data = make_camt053(entries, inputs.open_invoices(cases))
    timings = []
    for _ in range(3):  # the median of three: parsing is pure CPU and short
        started = time.perf_counter()
        parsed = parse_camt(data, source="bench.xml")
        timings.append(time.perf_counter() - started)
    if parsed.errors or len(parsed.lines) != payments:
        raise SystemExit(f"synthetic statement misparsed: {len(parsed.lines)} lines, {parsed.errors[:3]}")
    figures.parse_seconds = statistics.median(timings)

    log(f"bank: importing a {entries}-entry camt.053 ({len(data) // 1024} KiB)")
    phases = Phases()
    with IngressStore.in_dir(var_dir) as store, Journal(journal_path(var_dir)) as journal, phases.around_bank_import():
        dispatcher = Dispatcher(client, store, PRODUCT_QUEUE)
        started = time.perf_counter()
        result = await import_bank_file(
            data, "bench.xml", dispatcher=dispatcher, journal=journal, concurrency=concurrency
        )
        figures.bank_seconds = time.perf_counter() - started
    figures.bank_phases = phases.seconds
    report = result.report
    if report.paid.count != payments or result.delivered != {"signalled": payments}:
        raise SystemExit(f"bank import went wrong: paid {report.paid.count}, delivered {result.delivered}")
    # The worker is still applying the payments (cases outside its cache replay first); a query would
    # queue behind them and time out.
    figures.bank_worker_drain_seconds = await drain(client, PRODUCT_QUEUE)
    figures.bank_checked = await spot_check(client, [case.invoice_id for case in cases[:: max(1, payments // 5)]])


async def spot_check(client: Client, invoice_ids: list[str]) -> list[str]:
    """The cases say they are settled, not just the import (they close later, after the reversal watch)."""
    for invoice_id in invoice_ids:
        handle = client.get_workflow_handle(workflow_id_for(invoice_id))
        for attempt in range(5):  # the sticky backlog is not in the drained count: retry a timed-out query
            try:
                status: CaseStatus = await handle.query("status", result_type=CaseStatus)
                break
            except RPCError:
                if attempt == 4:
                    raise
        if status.stage is not Stage.SETTLED or status.balance != 0:
            raise SystemExit(f"{invoice_id} not settled after the bank import: {status.stage} {status.balance}")
    return invoice_ids


async def run(cases: int, entries: int, concurrency: int) -> Figures:
    figures = Figures(cases=cases, entries=entries, concurrency=concurrency)
    log("starting the dev server (in memory)")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        search_attributes=list(search_attributes.ALL),
        data_converter=DATA_CONVERTER,
        ui=False,
    )
    with tempfile.TemporaryDirectory(prefix="dunning-bench-") as tmp:
        var = Path(tmp)
        address = env.client.service_client.config.target_host
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.worker", address, RAW_QUEUE, PRODUCT_QUEUE, str(var / "worker"),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert worker.stdout is not None
            if (await worker.stdout.readline()).strip() != b"ready":
                raise SystemExit("bench worker did not start")
            client = env.client
            log("warming up")
            await raw_ceiling(client, "warm", WARM_UP, concurrency)
            warm = inputs.invoices("W", WARM_UP)
            await import_events(
                client, var / "warm", inputs.write_created_events(var / "warm.jsonl", warm), concurrency, WARM_UP
            )
            await drain(client, RAW_QUEUE)
            await drain(client, PRODUCT_QUEUE)

            log(f"raw ceiling: {cases} BenchNoop starts then signals")
            figures.raw_start_seconds, figures.raw_signal_seconds = await raw_ceiling(client, "raw", cases, concurrency)
            await drain(client, RAW_QUEUE)
            log(f"product: {cases} invoice.created through the events import")
            events = inputs.write_created_events(var / "events.jsonl", inputs.invoices("E", cases))
            figures.import_seconds = await import_events(client, var / "events", events, concurrency, cases)
            figures.import_drain_seconds = await drain(client, PRODUCT_QUEUE)
            await bank_benchmark(client, var / "bank", entries, concurrency, figures)
        finally:
            worker.terminate()
            await worker.wait()
            await env.shutdown()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--cases", type=int, default=2000, help="cases started (and raw runs started/signalled)")
    parser.add_argument("--entries", type=int, default=10_000, help="entries of the camt.053 file")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="as the CLI's --concurrency")
    parser.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"), help="where the figures are written")
    args = parser.parse_args()
    started_at = datetime.now(UTC)
    figures = asyncio.run(run(args.cases, args.entries, args.concurrency))
    command = " ".join(["python -m bench", *sys.argv[1:]])
    print_table(figures)
    write_markdown(args.output, figures, machine(), started_at, command)
    log(f"written to {args.output}")


if __name__ == "__main__":
    main()
