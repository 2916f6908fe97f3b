"""The API's product metrics, served at /metrics with the process's own (prometheus_client's default
registry). Labels are outcomes only: never an invoice, a payer or an amount."""

from prometheus_client import Counter

from starter.bank import ReconciliationReport

EVENTS = Counter("dunning_events", "billing events received by the API, by outcome", ["outcome"])
BANK_LINES = Counter("dunning_bank_lines", "lines of imported bank files, by reconciliation outcome", ["outcome"])
BANK_PAYMENTS = Counter(
    "dunning_bank_payments", "incoming payments of imported bank files, matched to a case or not", ["match"]
)
_MATCHED = ("paid", "partially_paid", "overpaid")
_OUTCOMES = (*_MATCHED, "reversed", "unmatched", "ignored", "duplicates")


def count_event(outcome: str) -> None:
    EVENTS.labels(outcome=outcome).inc()


def count_bank_import(report: ReconciliationReport) -> None:
    for outcome in _OUTCOMES:
        BANK_LINES.labels(outcome=outcome).inc(getattr(report, outcome).count)
    BANK_PAYMENTS.labels(match="matched").inc(sum(getattr(report, name).count for name in _MATCHED))
    BANK_PAYMENTS.labels(match="unmatched").inc(report.unmatched.count)
