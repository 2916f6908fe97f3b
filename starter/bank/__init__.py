"""Bank statement import: parse camt / CSV files into lines, match them to invoices, journal the result.

Typical import (see journal.py for why the plan is committed before signalling):

    parsed = parse_camt(data, source=name)
    if not partial:
        parsed.raise_if_invalid()
    plan = reconcile(parsed.lines, open_invoices, journal)
    journal.commit(plan)
    for pending in journal.pending_signals():
        ...  # signal the invoice workflow, then journal.mark_signalled([pending.seq])
"""

from starter.bank.camt import parse_camt
from starter.bank.csv_format import parse_csv
from starter.bank.journal import Journal, PendingSignal, StalePlanError, reconcile
from starter.bank.lines import BankFileError, BankFileRejected, BankLine, LineSource, ParsedFile
from starter.bank.matching import (
    Allocation,
    LineReason,
    OpenInvoice,
    ReconciliationPlan,
    ReconciliationReport,
    Reversal,
    match_lines,
)

__all__ = [
    "Allocation",
    "BankFileError",
    "BankFileRejected",
    "BankLine",
    "Journal",
    "LineReason",
    "LineSource",
    "OpenInvoice",
    "ParsedFile",
    "PendingSignal",
    "ReconciliationPlan",
    "ReconciliationReport",
    "Reversal",
    "StalePlanError",
    "match_lines",
    "parse_camt",
    "parse_csv",
    "reconcile",
]
