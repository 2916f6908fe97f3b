"""Read the simple CSV payment list, for banks or tools that export no camt.

Format:

- UTF-8 (a byte-order mark is accepted; Windows-1252, as saved by Excel in France, is the fallback).
- The first line is the header. Required columns: ``date,amount,reference,payer``; optional:
  ``payer_iban``, ``bank_ref``, ``currency`` (default ``EUR``). Names are case-insensitive, in any order;
  any other column is an error, so a misspelt optional column is not silently dropped.
- Delimiter ``;`` if the header contains one, else ``,``.
- ``date``: ``YYYY-MM-DD`` or ``DD/MM/YYYY``; it is both the booking and the value date.
- ``amount``: ``1234.56``, ``1234,56``, ``1 234,56``, ``1.234,56`` or ``1,234.56``: one or two decimals
  after ``.`` or ``,``, thousands grouped by spaces or by the other mark (so ``1,234`` is 1234). A minus
  sign means money out (a debit), otherwise money in. Zero is an error.
- ``reference``: the remittance text as the payer wrote it (RF references and invoice numbers are
  looked for in it). ``payer``: the payer's name.
- ``bank_ref``: the bank's unique reference for the movement; it makes the line id, as ``AcctSvcrRef``
  does for camt. Without it the id is the hash of the money fields (see ``lines.py``).

Every row is a booked movement; CSV has no reversal indicator, so a returned payment cannot be told
from any other debit and is ignored like one. Blank lines are skipped. Errors give the line number as an
editor shows it and the column name.
"""

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal

from starter.bank.lines import (
    BankFileError,
    BankLine,
    LineSource,
    ParsedFile,
    number_hashed_lines,
    reference_id,
    shown,
)

_REQUIRED = ("date", "amount", "reference", "payer")
_OPTIONAL = ("payer_iban", "bank_ref", "currency")
_CURRENCY = re.compile(r"[A-Z]{3}")
_LISTED = 5  # unknown header names quoted in an error; a file of another kind has dozens
# Digits, optionally grouped by threes with "." or ",", then an optional decimal part of one or two
# digits after the other mark: "1234.5", "1.234,56", "1,234.56", "-42,50".
_AMOUNT = re.compile(
    r"(?P<sign>[+-]?)(?P<int>\d{1,3}(?:(?P<group>[.,])\d{3})(?:(?P=group)\d{3})*|\d+)(?:[.,](?P<frac>\d{1,2}))?"
)
_GROUPING = re.compile(r"[\s\u00a0\u202f']")  # spaces, no-break spaces and apostrophes group thousands


def parse_csv(data: bytes, *, source: str, account_iban: str | None = None) -> ParsedFile:
    """Parse the CSV payment list; `account_iban` (the account it was exported from) prefixes the ids."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    first_line = text.partition("\n")[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";" if ";" in first_line else ",")
    errors: list[BankFileError] = []

    def fail(line_no: int, column: str | None, message: str) -> None:
        errors.append(BankFileError(source=source, line_no=line_no, entry=None, element=column, message=message))

    header = [name.strip().lower() for name in next(reader, [])]
    columns = {name: index for index, name in enumerate(header)}
    missing = [name for name in _REQUIRED if name not in columns]
    unknown = [name for name in header if name not in _REQUIRED + _OPTIONAL]
    if missing or unknown or len(columns) != len(header):
        problems = [f"missing column(s) {', '.join(missing)}"] if missing else []
        listed = ", ".join(shown(name, 20) for name in unknown[:_LISTED])
        more = f" and {len(unknown) - _LISTED} more" if len(unknown) > _LISTED else ""
        problems += [f"unknown column(s) {listed}{more}"] if unknown else []
        problems += ["repeated column name"] if len(columns) != len(header) else []
        fail(1, None, f"bad header: {'; '.join(problems)} (expected {','.join(_REQUIRED + _OPTIONAL)})")
        return ParsedFile(source=source, lines=[], errors=errors)

    lines: list[BankLine] = []
    row_number = 0
    line_no = reader.line_num
    for row in reader:
        # A quoted field may span several physical lines: report the line the row starts on.
        start, line_no = line_no + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        row_number += 1
        if len(row) != len(header):
            fail(start, None, f"{len(row)} fields, the header has {len(header)}")
            continue
        cells = {name: row[index].strip() for name, index in columns.items()}
        before = len(errors)
        booked = _parse_date(cells["date"])
        if booked is None:
            fail(start, "date", f"{shown(cells['date'])} is not a date (YYYY-MM-DD or DD/MM/YYYY)")
        amount = _parse_amount(cells["amount"])
        if amount is None:
            fail(start, "amount", f"{shown(cells['amount'])} is not an amount")
        elif amount == 0:
            fail(start, "amount", "zero amount")
        currency = cells.get("currency") or "EUR"
        if not _CURRENCY.fullmatch(currency):
            fail(start, "currency", f"{shown(currency)} is not an ISO 4217 currency code")
        if len(errors) > before or booked is None or amount is None:
            continue
        bank_ref = cells.get("bank_ref") or None
        lines.append(
            BankLine(
                payment_id=reference_id(account_iban, bank_ref) if bank_ref else "",
                id_kind="bank_reference" if bank_ref else "hash",
                account_iban=account_iban,
                booking_date=booked,
                value_date=booked,
                amount=abs(amount),
                currency=currency,
                direction="debit" if amount < 0 else "credit",
                reversal=False,
                status="booked",
                acct_svcr_ref=bank_ref,
                payer_name=cells["payer"] or None,
                payer_iban="".join(cells.get("payer_iban", "").split()).upper() or None,
                remittance_text=" ".join(cells["reference"].split()),
                source=LineSource(file=source, entry=row_number, line_no=start),
            )
        )
    return ParsedFile(source=source, lines=number_hashed_lines(lines), errors=errors)


def _parse_date(text: str) -> date | None:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _parse_amount(text: str) -> Decimal | None:
    compact = _GROUPING.sub("", text)
    match = _AMOUNT.fullmatch(compact)
    if match is None:
        return None
    group, fraction = match["group"], match["frac"]
    if group and fraction and compact[-len(fraction) - 1] == group:
        return None  # "1,234,56": one mark cannot both group thousands and start the decimals
    integer = match["sign"] + match["int"].replace(".", "").replace(",", "")
    return Decimal(f"{integer}.{fraction}" if fraction else integer)
