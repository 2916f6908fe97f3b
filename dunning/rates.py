"""The operator's rates file: read once by each process at start, merged over the packaged rates.

The worker, the API and the CLI call `penalty_policy` when they start and pass its result down;
workflows never see it (they compute no amount). A file added or changed is used from the next start.
"""

from datetime import date
from pathlib import Path

from domain.penalties import Imputation, PenaltyPolicy
from domain.rates import PACKAGED, RatesFileError, RateTable, SemesterRates, parse_rates, to_csv_lines
from dunning.settings import PenaltySettings


def operator_rows(path: Path) -> tuple[SemesterRates, ...]:
    """The rows of the operator's file (none if it does not exist); RatesFileError if malformed."""
    if not path.exists():
        return ()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise RatesFileError(f"{path}: cannot be read: {error}") from error
    return parse_rates(text, str(path))


def rate_table(settings: PenaltySettings) -> RateTable:
    return PACKAGED.extended_by(operator_rows(settings.rates_file))


def penalty_policy(settings: PenaltySettings) -> PenaltyPolicy:
    return PenaltyPolicy(rate_table(settings), Imputation(settings.imputation))


def save_row(settings: PenaltySettings, row: SemesterRates) -> bool:
    """Add `row` to the operator's file, replacing a row of the same semester there. True if it
    replaced one. The file is rewritten whole through a temporary file, so a crash leaves the old one."""
    path = settings.rates_file
    rows = {r.starts_on: r for r in operator_rows(path)}
    replaced = row.starts_on in rows
    rows[row.starts_on] = row
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".csv.tmp")
    temporary.write_text("\n".join(to_csv_lines(sorted(rows.values(), key=_start))) + "\n", encoding="utf-8")
    temporary.replace(path)
    return replaced


def _start(row: SemesterRates) -> date:
    return row.starts_on
