"""French late-payment rates by semester: dated rows with their source (fr-late-payment-law.md §1).

The packaged rows are data/fr_rates.csv; an operator's rates file (same columns) adds semesters or
replaces packaged ones without a release. This module only parses text: the processes read the
operator's file at start (dunning.rates) and hand the resulting `RateTable` down, so that nothing here,
and nothing a workflow runs, ever opens a file of the operator's.

A row may carry the ECB rate (hence the B2B default rate) while the legal interest rates of its semester
are not published yet: those cells stay empty, and asking for them raises `MissingRate`.
"""

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources

COLUMNS = (
    "semester_start",
    "mro_percent",
    "b2b_default_percent",
    "legal_private_percent",
    "legal_other_percent",
    "source",
)
# L441-10 II: the default B2B rate is the ECB's MRO rate plus 10 points.
B2B_MARGIN = Decimal(10)
# A contractual rate may not be below 3 x the legal rate, "other cases" (L441-10 II).
FLOOR_MULTIPLE = Decimal(3)
# Bounds that catch a typo (12.4 typed as 124) without ruling out any rate seen since 1999.
MAX_PERCENT = Decimal(30)
PACKAGED_ORIGIN = "packaged"


class MissingRate(LookupError):
    """No verified rate for a semester: callers state the legal basis without an amount and alert."""


class RatesFileError(ValueError):
    """A rates file that cannot be used, naming its line and field; nothing of it is used."""


@dataclass(frozen=True)
class SemesterRates:
    starts_on: date
    ecb_mro: Decimal
    b2b_default: Decimal
    legal_private: Decimal | None
    legal_other: Decimal | None
    source: str
    origin: str = PACKAGED_ORIGIN

    @property
    def label(self) -> str:
        return semester_label(self.starts_on)

    @property
    def floor(self) -> Decimal | None:
        return None if self.legal_other is None else FLOOR_MULTIPLE * self.legal_other


def semester_start(day: date) -> date:
    return date(day.year, 1 if day.month < 7 else 7, 1)


def next_semester(day: date) -> date:
    return date(day.year, 7, 1) if day.month < 7 else date(day.year + 1, 1, 1)


def semester_label(start: date) -> str:
    return f"{start.year} {'S1' if start.month == 1 else 'S2'}"


@dataclass(frozen=True)
class RateTable:
    rows: tuple[SemesterRates, ...]

    def on(self, day: date) -> SemesterRates:
        start = semester_start(day)
        for row in self.rows:
            if row.starts_on == start:
                return row
        raise MissingRate(
            f"no verified French late-payment rates for {semester_label(start)}: add them with `dunning rates add`"
        )

    def b2b_default(self, day: date) -> Decimal:
        return self.on(day).b2b_default

    def legal_other(self, day: date) -> Decimal:
        """The legal interest rate for a professional creditor ("other cases"), e.g. against a consumer."""
        row = self.on(day)
        if row.legal_other is None:
            raise MissingRate(f"the legal interest rates of {row.label} are not in the rates data yet")
        return row.legal_other

    def floor(self, day: date) -> Decimal:
        """The least contractual B2B rate the semester allows: 3 x the legal rate, "other cases"."""
        return FLOOR_MULTIPLE * self.legal_other(day)

    def extended_by(self, rows: Iterable[SemesterRates]) -> "RateTable":
        """This table with `rows` added, replacing the rows of the same semesters."""
        by_start = {row.starts_on: row for row in self.rows}
        by_start.update((row.starts_on, row) for row in rows)
        return RateTable(tuple(sorted(by_start.values(), key=lambda r: r.starts_on)))

    def warnings(self, today: date, ahead_days: int = 30) -> list[str]:
        """What an operator must fix: the current semester's missing rates, and those of the next one
        from `ahead_days` before it starts."""
        found: list[str] = []
        upcoming = next_semester(today)
        starts = [semester_start(today)]
        if (upcoming - today).days <= ahead_days:
            starts.append(upcoming)
        for start in starts:
            when = "in force since" if start <= today else "starting on"
            try:
                row = self.on(start)
            except MissingRate:
                found.append(
                    f"no rates for {semester_label(start)} ({when} {start}): penalties will not be quantified;"
                    f" add them with `dunning rates add {start} --mro ... --legal-private ... --legal-other ..."
                    " --source URL`"
                )
                continue
            if row.legal_other is None or row.legal_private is None:
                found.append(
                    f"the legal interest rates of {row.label} ({when} {start}) are missing: consumer interest"
                    " and the 3 x floor of contractual rates are not computed for it"
                )
        return found


def parse_rates(text: str, origin: str) -> tuple[SemesterRates, ...]:
    """The rows of a rates CSV, or `RatesFileError` naming the first bad line and field."""
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RatesFileError(f"{origin} line 1 (header): missing column(s) {', '.join(missing)}")
    rows: list[SemesterRates] = []
    seen: dict[date, int] = {}
    for record in reader:
        line = reader.line_num
        if None in record:  # more cells than columns, typically a decimal comma: 2,40
            cells = len(COLUMNS) + len(record[None])
            raise RatesFileError(
                f"{origin} line {line}: {cells} cells where {len(COLUMNS)} columns are expected"
                " (decimals take a point: 2.40; quote a source that holds a comma)"
            )
        row = _row(record, origin, line)
        if row.starts_on in seen:
            raise RatesFileError(
                f"{origin} line {line}, field semester_start: {row.starts_on} already on line {seen[row.starts_on]}"
            )
        seen[row.starts_on] = line
        rows.append(row)
    return tuple(rows)


def make_row(
    starts_on: date,
    mro: Decimal,
    legal_private: Decimal | None,
    legal_other: Decimal | None,
    source: str,
    origin: str,
) -> SemesterRates:
    """A new semester's row, the B2B default rate computed from the MRO (never typed by a person).

    Raises ValueError naming the field at fault."""
    if starts_on != semester_start(starts_on):
        raise ValueError(f"semester_start: {starts_on} is not a semester start (1 January or 1 July)")
    for name, value in (
        ("mro_percent", mro),
        ("legal_private_percent", legal_private),
        ("legal_other_percent", legal_other),
    ):
        if value is not None:
            _check_percent(name, value)
    if not source.strip():
        raise ValueError("source: required (the URL or act the rates come from)")
    return SemesterRates(starts_on, mro, mro + B2B_MARGIN, legal_private, legal_other, source.strip(), origin)


def to_csv_lines(rows: Iterable[SemesterRates]) -> list[str]:
    def cell(value: Decimal | None) -> str:
        return "" if value is None else str(value)

    lines = [",".join(COLUMNS)]
    for row in rows:
        source = '"' + row.source.replace('"', '""') + '"' if any(c in row.source for c in ',"') else row.source
        lines.append(
            ",".join(
                (
                    row.starts_on.isoformat(),
                    str(row.ecb_mro),
                    str(row.b2b_default),
                    cell(row.legal_private),
                    cell(row.legal_other),
                    source,
                )
            )
        )
    return lines


def _row(record: dict[str, str | None], origin: str, line: int) -> SemesterRates:
    def field(name: str) -> str:
        return (record.get(name) or "").strip()

    def fail(name: str, message: str) -> RatesFileError:
        value = field(name)
        return RatesFileError(f"{origin} line {line}, field {name}: {message}" + (f" ({value!r})" if value else ""))

    try:
        starts_on = date.fromisoformat(field("semester_start"))
    except ValueError:
        raise fail("semester_start", "not a date YYYY-MM-DD") from None
    values: dict[str, Decimal | None] = {}
    for name in COLUMNS[1:5]:
        text = field(name)
        if not text:
            values[name] = None
            continue
        try:
            values[name] = Decimal(text)
        except InvalidOperation:
            raise fail(name, "not a number") from None
    mro = values["mro_percent"]
    if mro is None:
        raise fail("mro_percent", "required: the ECB rate of the semester's first day")
    try:
        row = make_row(
            starts_on, mro, values["legal_private_percent"], values["legal_other_percent"], field("source"), origin
        )
    except ValueError as error:
        name, _, message = str(error).partition(": ")
        raise fail(name, message) from None
    given = values["b2b_default_percent"]
    if given is not None and given != row.b2b_default:
        raise fail("b2b_default_percent", f"must be the MRO + 10 points, {row.b2b_default}")
    return row


def _check_percent(name: str, value: Decimal) -> None:
    if not value.is_finite() or not Decimal(0) <= value <= MAX_PERCENT:
        raise ValueError(f"{name}: {value} is not a percentage between 0 and {MAX_PERCENT}")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"{name}: {value} has more than two decimals")


def _packaged() -> RateTable:
    text = resources.files("domain.data").joinpath("fr_rates.csv").read_text(encoding="utf-8")
    return RateTable(()).extended_by(parse_rates(text, PACKAGED_ORIGIN))


PACKAGED = _packaged()
