"""One bank movement as the reconciler sees it, whatever format it came from, and its stable id.

Identity follows bank-statements.md "Identity of a line": the account IBAN plus the bank's own
reference (`AcctSvcrRef`) when there is one, so the camt.054 of the morning and the camt.053 of the night
give the same id. Without a bank reference the id is a sha256 of the fields that describe the money,
numbered among identical lines of the same file so two genuinely identical transfers stay two payments.
"""

import hashlib
import json
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Direction = Literal["credit", "debit"]
Status = Literal["booked", "pending", "info"]
# "hash_collision": several identical lines on one day; their numbering depends on file order, so a
# person should check them.
IdKind = Literal["bank_reference", "hash", "hash_collision"]

NOT_PROVIDED = "NOTPROVIDED"


class LineSource(BaseModel):
    """Where a line was read, for messages to people; never part of its identity."""

    model_config = ConfigDict(frozen=True)

    file: str
    entry: int = Field(description="1-based position of the camt Ntry or CSV data row in the file")
    entry_ref: str | None = Field(default=None, description="camt NtryRef, unique inside one report only")
    tx: int | None = Field(default=None, description="1-based position of the TxDtls inside the entry")
    line_no: int | None = None

    def __str__(self) -> str:
        text = f"{self.file} entry {self.entry}"
        if self.entry_ref is not None:
            text += f" (NtryRef {self.entry_ref})"
        if self.tx is not None:
            text += f" tx {self.tx}"
        if self.line_no is not None:
            text += f", line {self.line_no}"
        return text


class BankLine(BaseModel):
    """One payment-like movement: a camt TxDtls, an entry without TxDtls, or a CSV row."""

    model_config = ConfigDict(frozen=True)

    payment_id: str
    id_kind: IdKind
    account_iban: str | None
    booking_date: date | None
    value_date: date | None
    amount: Decimal = Field(ge=0, description="always non-negative; see direction")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    direction: Direction
    reversal: bool
    status: Status
    end_to_end_id: str | None = None
    instr_id: str | None = None
    tx_id: str | None = None
    acct_svcr_ref: str | None = Field(default=None, description="the entry's bank reference")
    tx_acct_svcr_ref: str | None = Field(default=None, description="the bank reference of one TxDtls")
    payer_name: str | None = None
    payer_iban: str | None = None
    structured_reference: str | None = Field(default=None, description="compact: upper case, no spaces")
    remittance_text: str = ""
    bank_tx_code: str | None = None
    return_reason: str | None = None
    source: LineSource

    @model_validator(mode="after")
    def _booked_lines_have_a_booking_date(self) -> "BankLine":
        # The booking date is the payment date the workflows record; a booked line without one would
        # have to invent it.
        if self.status == "booked" and self.booking_date is None:
            raise ValueError("a booked line needs a booking date")
        return self

    @property
    def booked_on(self) -> date:
        if self.booking_date is None:
            raise ValueError(f"{self.payment_id} is not booked")
        return self.booking_date

    @property
    def given_end_to_end_id(self) -> str | None:
        """The payer's end-to-end id, or None when the payer gave none (literal NOTPROVIDED)."""
        return None if self.end_to_end_id == NOT_PROVIDED else self.end_to_end_id


class BankFileError(BaseModel):
    """One problem in an input file, located precisely enough to find it with an editor."""

    model_config = ConfigDict(frozen=True)

    source: str
    line_no: int | None
    entry: str | None = Field(description='e.g. "entry 3 (NtryRef 3)"; None for file-level problems')
    element: str | None = Field(description="element path from Ntry (camt) or column name (CSV)")
    message: str

    def __str__(self) -> str:
        where = [self.source if self.line_no is None else f"{self.source} line {self.line_no}"]
        where += [part for part in (self.entry, self.element) if part]
        return f"{', '.join(where)}: {self.message}"


class BankFileRejected(Exception):
    """The file has errors and the import was not asked to keep the valid part, or has no valid part."""

    def __init__(self, source: str, errors: list[BankFileError], valid: int) -> None:
        self.errors = errors
        self.valid = valid  # lines a `--partial` import would keep
        listing = "\n".join(f"  {error}" for error in errors)
        super().__init__(f"{source}: {len(errors)} error(s), nothing imported:\n{listing}")

    @property
    def advice(self) -> str:
        if self.valid:
            return f"Fix the file, or import its {self.valid} valid line(s) with --partial."
        return "Fix the file: it has no valid line to import."


class ParsedFile(BaseModel):
    """The valid lines of a file and every error found; a partial import keeps `lines` as they are."""

    source: str
    lines: list[BankLine]
    errors: list[BankFileError]

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise BankFileRejected(self.source, self.errors, len(self.lines))

    def raise_if_nothing_valid(self) -> None:
        """For a partial import: a file with errors and no valid line imports nothing, so it fails."""
        if self.errors and not self.lines:
            raise BankFileRejected(self.source, self.errors, 0)


def shown(text: str, limit: int = 40) -> str:
    """A value from the file as an error message quotes it: escaped, and cut so a wrong file type
    (a whole document in one CSV cell) does not flood the terminal."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def reference_id(account_iban: str | None, bank_ref: str, tx_ref: str | None = None) -> str:
    """Id from the bank's references; `tx_ref` tells apart the transactions of a batch entry."""
    parts = [account_iban or "-", bank_ref]
    if tx_ref is not None:
        parts.append(tx_ref)
    return "/".join(parts)


def number_hashed_lines(lines: list[BankLine]) -> list[BankLine]:
    """Give every line built with `id_kind="hash"` (and an empty payment_id) its hashed id.

    Done once the whole file is read because the first of several identical lines is only known to
    collide when the second one turns up.
    """
    digests = {index: _money_digest(line) for index, line in enumerate(lines) if line.id_kind == "hash"}
    totals = Counter(digests.values())
    seen: Counter[str] = Counter()
    numbered = list(lines)
    for index, digest in digests.items():
        seen[digest] += 1
        line = lines[index]
        numbered[index] = line.model_copy(
            update={
                "payment_id": f"{line.account_iban or '-'}/sha256:{digest[:32]}/{seen[digest]}",
                "id_kind": "hash" if totals[digest] == 1 else "hash_collision",
            }
        )
    return numbered


def _money_digest(line: BankLine) -> str:
    # Exactly the fields the doc lists: NtryRef, file names and message ids differ between the
    # notification and the statement of the same transaction, so they must stay out.
    fields = [
        line.account_iban,
        line.booking_date.isoformat() if line.booking_date else None,
        line.direction,
        line.reversal,
        format(line.amount.normalize(), "f"),
        line.currency,
        line.given_end_to_end_id,
        line.instr_id,
        line.tx_id,
        line.payer_iban,
        line.payer_name,
        line.remittance_text,
    ]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()
