"""What the cases of bench/cost_cases.py cost on Temporal Cloud: the prices, the figures per case and per
1,000 invoices, BENCHMARKS-cost.json and the generated section of BENCHMARKS.md."""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bench.actions import ACTIONS_PAGE, ACTIONS_SOURCE, MAPPING, NOT_IN_HISTORY, Sizes
from domain.case_records import REVERSAL_WATCH

BEGIN = "<!-- cost:begin: written by `make bench-cost`, edit outside these markers -->"
END = "<!-- cost:end -->"

PRICING_PAGE = "https://docs.temporal.io/cloud/pricing"
PRICING_SOURCE = "temporalio/documentation docs/evaluate/cloud/pricing.mdx at 0217b7180e97a893b2f723981b8a0b299b24ed3a"
# The day the two pages were read for these figures (neither carries a date of its own).
PRICES_READ_ON = date(2026, 12, 2)
# Pay-As-You-Go: the first 5M Actions of a month, and every Action on the Developer plan.
USD_PER_MILLION_ACTIONS = Decimal("50")
# The Business plan's volume tiers beyond that: (Actions up to, USD per million).
VOLUME_TIERS = ((10, "45"), (20, "40"), (50, "35"), (100, "30"), (200, "25"))
USD_PER_ACTIVE_GBH = Decimal("0.042")
USD_PER_RETAINED_GBH = Decimal("0.00105")
# deploy/local.py sets the namespace's retention to 30 days (Temporal Cloud allows 1 to 90).
RETENTION_DAYS = 30
BYTES_PER_GB = 10**9
INVOICES = 1000
# The mix of 1,000 invoices priced: most invoices are paid on time, few go to court.
MIX = {"paid_before_due": Decimal("0.6"), "paid_after_level2": Decimal("0.3"), "litigation": Decimal("0.1")}
LABELS = {"paid_before_due": "(a)", "paid_after_level2": "(b)", "litigation": "(c)", "dispute_then_promise": "(d)"}
HEADS = {
    "paid_before_due": "paid before J+1",
    "paid_after_level2": "paid after level 2",
    "litigation": "litigation",
    "dispute_then_promise": "dispute, promise",
}
QUERY = "Query Workflow"


@dataclass(frozen=True)
class CaseFigures:
    name: str
    title: str
    outcome: str
    events: dict[str, int]  # history events by type
    history_actions: dict[str, int]  # billable Actions the history shows, by Action type
    ingress_queries: int  # billed as Actions, in no history
    ingress_days: int
    calls_logged: int
    webhook_reports: int
    sizes: Sizes
    open_hours: float
    active_byte_hours: float

    @property
    def event_total(self) -> int:
        return sum(self.events.values())

    @property
    def actions(self) -> dict[str, int]:
        return self.history_actions | ({QUERY: self.ingress_queries} if self.ingress_queries else {})

    @property
    def action_total(self) -> int:
        return sum(self.actions.values())

    @property
    def activity_retries(self) -> int:
        return self.history_actions.get("Retry Activity", 0) + self.history_actions.get("Retry Local Activity", 0)

    @property
    def active_gbh(self) -> Decimal:
        return Decimal(repr(self.active_byte_hours)) / BYTES_PER_GB

    @property
    def retained_gbh(self) -> Decimal:
        return Decimal(self.sizes.proto_bytes * RETENTION_DAYS * 24) / BYTES_PER_GB

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {
            "event_total": self.event_total,
            "actions": self.actions,
            "action_total": self.action_total,
            "activity_retries": self.activity_retries,
            "active_gbh": float(self.active_gbh),
            "retained_gbh": float(self.retained_gbh),
            "usd_per_1000": {key: _exact(value) for key, value in costs(self, INVOICES).items()},
        }


def costs(case: CaseFigures, count: int | Decimal) -> dict[str, Decimal]:
    """USD for `count` such cases, at the first-tier price and the storage prices."""
    actions = case.action_total * count * USD_PER_MILLION_ACTIONS / 1_000_000
    active = case.active_gbh * count * USD_PER_ACTIVE_GBH
    retained = case.retained_gbh * count * USD_PER_RETAINED_GBH
    return {"actions": actions, "active_storage": active, "retained_storage": retained}


def mix_figures(cases: dict[str, CaseFigures]) -> dict[str, Decimal] | None:
    """The mix of 1,000 invoices: Actions, GBh and USD; None unless every case of the mix was run."""
    if any(name not in cases for name in MIX):
        return None
    total = {"actions": Decimal(0), "active_gbh": Decimal(0), "retained_gbh": Decimal(0)}
    usd = {"actions": Decimal(0), "active_storage": Decimal(0), "retained_storage": Decimal(0)}
    for name, share in MIX.items():
        case, count = cases[name], share * INVOICES
        total["actions"] += case.action_total * count
        total["active_gbh"] += case.active_gbh * count
        total["retained_gbh"] += case.retained_gbh * count
        for key, value in costs(case, count).items():
            usd[key] += value
    return total | {f"usd_{key}": value for key, value in usd.items()} | {"usd_total": sum(usd.values(), Decimal(0))}


def as_json(run: dict[str, str], cases: dict[str, CaseFigures]) -> dict[str, Any]:
    mix = mix_figures(cases)
    return {
        "run": run,
        "sources": {
            "actions": {"page": ACTIONS_PAGE, "source": ACTIONS_SOURCE},
            "pricing": {"page": PRICING_PAGE, "source": PRICING_SOURCE, "read_on": PRICES_READ_ON.isoformat()},
        },
        "prices_usd": {
            "per_million_actions": str(USD_PER_MILLION_ACTIONS),
            "volume_tiers_per_million": {f"up to {up}M": price for up, price in VOLUME_TIERS},
            "active_storage_per_gbh": str(USD_PER_ACTIVE_GBH),
            "retained_storage_per_gbh": str(USD_PER_RETAINED_GBH),
        },
        "retention_days": RETENTION_DAYS,
        "mix": {name: str(share) for name, share in MIX.items()},
        "cases": {name: case.as_json() for name, case in cases.items()},
        "per_1000_invoices": None if mix is None else {key: _exact(value) for key, value in mix.items()},
    }


def _exact(value: Decimal) -> str:
    """Six decimals: a millionth of a dollar, of a GBh, well below what a run moves by."""
    return str(value.quantize(Decimal("0.000001"), ROUND_HALF_UP))


def _usd(value: Decimal, places: str = "0.01") -> str:
    return f"${value.quantize(Decimal(places), ROUND_HALF_UP):,}"


def _kb(size: int) -> str:
    return f"{size / 1000:,.1f} kB"


def markdown(run: dict[str, str], cases: dict[str, CaseFigures]) -> str:
    lines = [
        BEGIN,
        f"Run of {run['at']}: `make bench-cost` (`python -m bench.cost`, {run['seconds']} s), one case per"
        f" scenario on the time-skipping test server ({run['server']}), the product's worker"
        f" (temporalio {run['temporalio']}), the packaged policy `{run['policy']}`, payloads encrypted by the"
        " codec as in production. Every figure in `BENCHMARKS-cost.json`.",
        "",
        *(f"- {LABELS[name]} {case.title} (closed: {case.outcome})." for name, case in cases.items()),
        "",
        *_case_table(cases),
        "",
        *_mix_lines(cases),
        *_drivers(cases),
        "",
        *_method_lines(),
        END,
    ]
    return "\n".join(lines)


def _case_table(cases: dict[str, CaseFigures]) -> list[str]:
    all_cases = list(cases.values())

    def row(label: str, cell: Callable[[CaseFigures], object]) -> str:
        return _row(label, [cell(case) for case in all_cases])

    kinds = sorted(
        {k for c in all_cases for k in c.events}, key=lambda k: (-max(c.events.get(k, 0) for c in all_cases), k)
    )
    action_types = [m.action for m in MAPPING if any(m.action in c.history_actions for c in all_cases)]
    lines = [
        "| per case | " + " | ".join(f"{LABELS[c.name]} {HEADS[c.name]}" for c in all_cases) + " |",
        "|---|" + "---:|" * len(all_cases),
        row("**history events**", lambda c: f"**{c.event_total}**"),
        *(_row(f"  {kind}", [c.events.get(kind, 0) for c in all_cases]) for kind in kinds),
        row("**billable Actions**", lambda c: f"**{c.action_total}**"),
    ]
    for action in action_types:
        lines.append(_row(f"  {action}", [c.history_actions.get(action, 0) for c in all_cases]))
        if action == "Signal Workflow":
            lines.append(row("    of which the providers' delivery webhooks", lambda c: c.webhook_reports))
            lines.append(row("    of which logged calls", lambda c: c.calls_logged))
    return [
        *lines,
        row(f"  {QUERY}, by the ingress (in no history)", lambda c: c.ingress_queries),
        row("activity retries", lambda c: c.activity_retries),
        row("history, JSON", lambda c: _kb(c.sizes.json_bytes)),
        row("history, protobuf (as stored)", lambda c: _kb(c.sizes.proto_bytes)),
        row("  encrypted payloads", lambda c: _kb(c.sizes.encrypted_payload_bytes)),
        row("  clear payloads (search attributes)", lambda c: _kb(c.sizes.clear_payload_bytes)),
        row("open for", lambda c: f"{c.open_hours / 24:.0f} days"),
        row("Actions, USD per 1,000 such cases", lambda c: _usd(costs(c, INVOICES)["actions"])),
        row("active storage, USD per 1,000", lambda c: _usd(costs(c, INVOICES)["active_storage"])),
        row(
            f"retained storage ({RETENTION_DAYS} d), USD per 1,000",
            lambda c: _usd(costs(c, INVOICES)["retained_storage"], "0.0001"),
        ),
    ]


def _row(label: str, cells: list[object]) -> str:
    return f"| {label} | " + " | ".join(str(cell) for cell in cells) + " |"


def _method_lines() -> list[str]:
    return [
        "How these figures are made:",
        "",
        f"- Actions: history events mapped to Action types as the [Temporal Cloud Actions]({ACTIONS_PAGE}) page"
        f" lists them ({ACTIONS_SOURCE}, read {PRICES_READ_ON}). The page calls a count from a history an"
        " estimate: the Usage dashboard and the Billing API are the bill. The mapping, in `bench/actions.py`:",
        "",
        "  | history event | Action | counted |",
        "  |---|---|---|",
        *(f"  | `{m.event}` | {m.action} | {m.rule} |" for m in MAPPING),
        *(f"  | (none) | {action} | {rule} |" for action, rule in NOT_IN_HISTORY),
        "",
        "- Markers: the `workflow.patched` markers of the case's rules. The page counts every marker of one"
        " workflow task as one Action, and the server's own `action` metric does the same for any marker"
        " (`command_BatchMarkers`). The SDK's upsert of `TemporalChangeVersion` that comes with a first patch"
        " is in the events above, not in the Actions.",
        "- Queries: the ingress asks a case its `status` before signalling a logged call, and the next bank"
        " import reads back, once, each case it or the API signalled since the last import (one import a day"
        " is assumed): one query per call logged plus one per day with an ingress signal. A person viewing the"
        " case in the web UI or the CLI adds one per view; none is counted.",
        "- What production adds, played here: each e-mail and SMS reported delivered by the provider's webhook"
        " (a signal each); each call task logged the afternoon it opens; a registered letter presented two days"
        " after posting, its receipt back two days later, so its polls stop as with a real provider.",
        f"- Price: {PRICING_PAGE} ({PRICING_SOURCE}, read {PRICES_READ_ON}): ${USD_PER_MILLION_ACTIONS} per"
        " million Actions (Pay-As-You-Go, the first 5M of a month; every Action on the Developer plan), then "
        + ", ".join(f"${price} up to {up}M" for up, price in VOLUME_TIERS)
        + f" on the Business plan and above; storage ${USD_PER_ACTIVE_GBH} per GBh active,"
        f" ${USD_PER_RETAINED_GBH} per GBh retained.",
        "- Storage: a case's history is active storage from its start to its close (each event counted from"
        f" when it was written; a settled case closes {REVERSAL_WATCH.days} days after its payment, in case the"
        " bank reverses it) and retained storage for the namespace's retention after it,"
        f" {RETENTION_DAYS} days (deploy/local.py); its protobuf size, 1 GB = 10^9 bytes. The search attribute"
        " payloads are also in visibility, not priced here.",
        "- The histories are the Java time-skipping test server's, which emulates the Temporal server: a case"
        " run on Temporal Cloud, whose web UI shows each event's billable Actions, is the check. A run repeats"
        " the counts (the due date is a Wednesday clear of public holidays, the clock moved by the driver), the"
        " sizes within a fraction of a percent (the timestamps' length).",
    ]


def _mix_lines(cases: dict[str, CaseFigures]) -> list[str]:
    mix = mix_figures(cases)
    if mix is None:
        return []
    shares = ", ".join(f"{share * 100:.0f}% {LABELS[name]}" for name, share in MIX.items())
    return [
        f"**1,000 invoices** ({shares}): {mix['actions']:,.0f} Actions, {_usd(mix['usd_actions'])} at"
        f" ${USD_PER_MILLION_ACTIONS} per million; storage {mix['active_gbh']:.2f} GBh active"
        f" ({_usd(mix['usd_active_storage'])}) and {mix['retained_gbh']:.2f} GBh retained"
        f" ({_usd(mix['usd_retained_storage'], '0.0001')}); **{_usd(mix['usd_total'])} in all**, before the"
        " plan (Developer: 10% on top; Business: the greater of $500 a month or 10%, with 2.5M Actions,"
        " 2.5 GB active and 100 GB retained storage included).",
        "",
    ]


def _drivers(cases: dict[str, CaseFigures]) -> list[str]:
    """What weighs most in each case: the Action types, largest first."""
    lines = ["What the Actions are spent on:", ""]
    for name, case in cases.items():
        ranked = sorted(case.actions.items(), key=lambda item: -item[1])
        parts = ", ".join(f"{action} {count} ({count / case.action_total:.0%})" for action, count in ranked[:3])
        lines.append(f"- {LABELS[name]}: {parts}.")
    return lines


def run_line(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"
