"""Read ISO 20022 camt.052 / camt.053 / camt.054 files (any `.001.NN` version) into bank lines.

One parser for every version: elements are matched on local names inside the document's own namespace,
and where versions differ (bank-statements.md, "The messages") both forms are tried: `Sts` or `Sts/Cd`,
`Dbtr/Nm` or `Dbtr/Pty/Nm`, `TxDtls/Amt` or `TxDtls/AmtDtls/TxAmt/Amt`.

An entry is all or nothing: if any of its fields is invalid it yields no line, so a `--partial` import
never books half a batch. A file that is not well-formed XML yields no line at all, since a truncated
file would otherwise look like a shorter valid one.
"""

import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from typing import Literal, NamedTuple

from lxml import etree

from starter.bank.lines import (
    BankFileError,
    BankLine,
    Direction,
    LineSource,
    ParsedFile,
    Status,
    number_hashed_lines,
    reference_id,
    shown,
)

_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.05([234])\.001\.\d\d")
# message number -> (message element, report element)
_MESSAGES = {
    "2": ("BkToCstmrAcctRpt", "Rpt"),
    "3": ("BkToCstmrStmt", "Stmt"),
    "4": ("BkToCstmrDbtCdtNtfctn", "Ntfctn"),
}
_STATUSES: dict[str, Status] = {"BOOK": "booked", "PDNG": "pending", "FUTR": "pending", "INFO": "info"}
_DIRECTIONS: dict[str, Direction] = {"CRDT": "credit", "DBIT": "debit"}
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_AMOUNT = re.compile(r"\d{1,18}(?:\.\d{1,5})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SPACES = re.compile(r"\s+")

_Element = etree._Element


def parse_camt(data: bytes, *, source: str) -> ParsedFile:
    """Parse a camt.052/053/054 file; never raises on bad input, every problem is in `errors`."""
    errors: list[BankFileError] = []
    try:
        namespace, report = _identify(data)
        lines = list(_read_reports(data, namespace, report, source, errors))
    except _FileProblem as problem:
        return ParsedFile(source=source, lines=[], errors=[problem.error(source)])
    except etree.XMLSyntaxError as exc:
        error = BankFileError(
            source=source,
            # lxml gives no line when the input ends before a root element: the problem is at the end.
            line_no=exc.lineno or data.count(b"\n") + 1,
            entry=None,
            element=None,
            message=f"not well-formed XML: {exc.msg}",
        )
        return ParsedFile(source=source, lines=[], errors=[error])
    return ParsedFile(source=source, lines=number_hashed_lines(lines), errors=errors)


class _FileProblem(Exception):
    def __init__(self, line_no: int | None, message: str) -> None:
        self.line_no = line_no
        self.message = message

    def error(self, source: str) -> BankFileError:
        return BankFileError(source=source, line_no=self.line_no, entry=None, element=None, message=self.message)


def _events(data: bytes, **options: object) -> Iterator[tuple[str, _Element]]:
    # No entity expansion, no network, no huge-tree mode, no external DTD (load_dtd is off by default):
    # bank files come from outside. A DOCTYPE is refused outright in _identify.
    events: Iterator[tuple[str, _Element]] = etree.iterparse(
        BytesIO(data), resolve_entities=False, no_network=True, huge_tree=False, **options
    )
    return events


def _identify(data: bytes) -> tuple[str, str]:
    """The document's namespace and the local name of its report element (Stmt, Ntfctn or Rpt)."""
    events = _events(data, events=("start",))
    _, root = next(events)
    if root.getroottree().docinfo.internalDTD is not None:  # set by any DOCTYPE, with or without a subset
        # No bank sends one; a DTD is how entity bombs and file or URL inclusions arrive.
        raise _FileProblem(_doctype_line(data) or _line_of(root), "a DOCTYPE is not allowed in a bank file")
    namespace, local = _split_tag(root.tag)
    match = _NAMESPACE.fullmatch(namespace)
    if local != "Document" or match is None:
        raise _FileProblem(_line_of(root), f"root element {root.tag} is not a camt.052/053/054 Document")
    message, report = _MESSAGES[match.group(1)]
    first = next(events, None)
    if first is None or first[1].tag != f"{{{namespace}}}{message}":
        found = "nothing" if first is None else _split_tag(first[1].tag)[1]
        raise _FileProblem(_line_of(root), f"Document holds {found}, {message} expected")
    return namespace, report


def _doctype_line(data: bytes) -> int | None:
    start = data.find(b"<!DOCTYPE")
    return data.count(b"\n", 0, start) + 1 if start >= 0 else None  # not found: an encoding other than ASCII's


def _line_of(element: _Element) -> int | None:
    line = element.sourceline  # lxml-stubs type it loosely
    return line if isinstance(line, int) else None


def _split_tag(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _read_reports(
    data: bytes, namespace: str, report: str, source: str, errors: list[BankFileError]
) -> Iterator[BankLine]:
    prefix = f"{{{namespace}}}"
    report_tag, acct_tag, entry_tag = prefix + report, prefix + "Acct", prefix + "Ntry"
    iban: str | None = None
    iban_error_reported = False
    position = 0
    for _, element in _events(data, events=("end",), tag=(report_tag, acct_tag, entry_tag)):
        if element.tag == entry_tag:
            position += 1
            if iban is None:
                if not iban_error_reported:
                    errors.append(
                        BankFileError(
                            source=source,
                            line_no=_line_of(element),
                            entry=None,
                            element=f"{report}/Acct/Id/IBAN",
                            message="missing: the entries of this report are skipped",
                        )
                    )
                    iban_error_reported = True
            else:
                entry = _Entry(element, prefix, source, position, iban)
                lines = entry.lines()
                errors.extend(entry.errors)
                yield from lines
            _release(element)
        elif element.tag == acct_tag:
            parent = element.getparent()
            if parent is not None and parent.tag == report_tag:
                iban = _compact(element.findtext(_path(prefix, "Id/IBAN")))
        else:
            iban, iban_error_reported = None, False
            _release(element)


def _release(element: _Element) -> None:
    # Keeps memory flat on big statements: drop what has been read, including earlier siblings.
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


@cache
def _path(prefix: str, path: str) -> str:
    """'A/B' -> '{ns}A/{ns}B', built once per path so lxml's own path cache is hit every time."""
    return "/".join(prefix + step for step in path.split("/"))


def _compact(text: str | None) -> str | None:
    if text is None:
        return None
    return "".join(text.split()).upper() or None


def _containers(*paths: str) -> frozenset[str]:
    """Every element on the way to `paths`: the only ones worth descending into."""
    steps = (path.split("/") for path in paths)
    return frozenset("/".join(parts[:end]) for parts in steps for end in range(1, len(parts)))


_CODE_FIELDS = ("BkTxCd/Domn/Cd", "BkTxCd/Domn/Fmly/Cd", "BkTxCd/Domn/Fmly/SubFmlyCd", "BkTxCd/Prtry/Cd")
# Nested fields read below; an element not on the way to one of them is never visited.
_ENTRY_PATHS = _containers("Sts/Cd", "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm", *_CODE_FIELDS)
_TX_PATHS = _containers(
    "Refs/EndToEndId",
    "AmtDtls/TxAmt/Amt",
    "RltdPties/Dbtr/Pty/Nm",
    "RltdPties/DbtrAcct/Id/IBAN",
    "RmtInf/Strd/CdtrRefInf/Ref",
    "RtrInf/Rsn/Cd",
    *_CODE_FIELDS,
)


class _Tree:
    """An element's descendants by local path ("BookgDt/Dt"), first occurrence, built in one walk
    that only enters `containers`: a dictionary lookup per field instead of an lxml path search per
    field is what makes big files fast.
    """

    def __init__(self, element: _Element, cut: int, containers: frozenset[str]) -> None:
        self.element = element
        self.paths: dict[str, _Element] = {}
        self._walk(element, "", cut, containers)

    def _walk(self, element: _Element, base: str, cut: int, containers: frozenset[str]) -> None:
        # Depth first in document order, so the first of repeated elements is the one kept.
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):  # comments and processing instructions
                continue
            path = base + tag[cut:]
            self.paths.setdefault(path, child)
            if path in containers:
                self._walk(child, path + "/", cut, containers)

    def get(self, path: str) -> _Element | None:
        return self.paths.get(path)

    def text(self, path: str) -> str | None:
        found = self.paths.get(path)
        if found is None or found.text is None:
            return None
        return found.text.strip() or None


class _Head(NamedTuple):
    """What an entry says about all its transactions."""

    amount: tuple[Decimal, str]
    direction: Direction
    reversal: bool
    status: Status
    booking_date: date | None
    value_date: date | None


class _Entry:
    """Reads one Ntry, recording every problem instead of stopping at the first one."""

    def __init__(self, element: _Element, prefix: str, source: str, position: int, iban: str) -> None:
        self.prefix = prefix
        self.tree = _Tree(element, len(prefix), _ENTRY_PATHS)
        self.source = source
        self.position = position
        self.iban = iban
        self.ref = self.tree.text("NtryRef")
        self.label = f"entry {position} ({'no NtryRef' if self.ref is None else 'NtryRef ' + self.ref})"
        self.errors: list[BankFileError] = []

    def fail(self, element: _Element, path: str, message: str) -> None:
        self.errors.append(
            BankFileError(
                source=self.source, line_no=_line_of(element), entry=self.label, element=path, message=message
            )
        )

    def lines(self) -> list[BankLine]:
        head = self.head()
        if head is None:
            return []
        transactions = self.tree.element.findall(_path(self.prefix, "NtryDtls/TxDtls"))
        if not transactions:
            return [self.line(head, None, None, head.amount)]
        batch = len(transactions) > 1
        lines = []
        for index, element in enumerate(transactions, start=1):
            tx = _Tree(element, len(self.prefix), _TX_PATHS)
            # Several TxDtls share one booked amount, so each needs its own. A single one takes the
            # booked amount: that is what reached the account, after any conversion or charges.
            amount = self.amount(tx, ("Amt", "AmtDtls/TxAmt/Amt"), _tx_path(index)) if batch else head.amount
            if amount is not None:
                lines.append(self.line(head, tx, index if batch else None, amount))
        if batch and not self.errors:
            self.check_batch_total(head, lines)
        return [] if self.errors else lines

    def head(self) -> _Head | None:
        amount = self.amount(self.tree, ("Amt",), "Ntry")
        direction = self.direction(self.tree, "Ntry", required=True)
        reversal = self.reversal_indicator()
        status = self.status()
        booking_date = self.date("BookgDt")
        value_date = self.date("ValDt")
        if status == "booked" and self.tree.get("BookgDt") is None:
            self.fail(self.tree.element, "Ntry/BookgDt", "missing on a booked entry")
        if amount is None or direction is None or reversal is None or status is None or self.errors:
            return None
        return _Head(amount, direction, reversal, status, booking_date, value_date)

    def line(self, head: _Head, tx: _Tree | None, batch_index: int | None, amount: tuple[Decimal, str]) -> BankLine:
        entry = self.tree
        get = tx.text if tx is not None else _nothing
        bank_ref = entry.text("AcctSvcrRef")
        tx_ref = get("Refs/AcctSvcrRef")
        payment_id = ""  # numbered later from the money fields, see lines.number_hashed_lines
        if bank_ref is not None:
            tx_key = None if batch_index is None else (tx_ref or f"#{batch_index}")
            payment_id = reference_id(self.iban, bank_ref, tx_key)
        tx_direction = self.direction(tx, _tx_path(batch_index or 1), required=False) if tx is not None else None
        remittance = _remittance(tx.element, self.prefix) if tx is not None else ""
        return BankLine(
            payment_id=payment_id,
            id_kind="bank_reference" if payment_id else "hash",
            account_iban=self.iban,
            booking_date=head.booking_date,
            value_date=head.value_date,
            amount=amount[0],
            currency=amount[1],
            direction=tx_direction or head.direction,
            reversal=head.reversal,
            status=head.status,
            end_to_end_id=get("Refs/EndToEndId"),
            instr_id=get("Refs/InstrId"),
            tx_id=get("Refs/TxId"),
            acct_svcr_ref=bank_ref,
            tx_acct_svcr_ref=tx_ref,
            payer_name=get("RltdPties/Dbtr/Nm") or get("RltdPties/Dbtr/Pty/Nm"),
            payer_iban=_compact(get("RltdPties/DbtrAcct/Id/IBAN")),
            structured_reference=_compact(get("RmtInf/Strd/CdtrRefInf/Ref")),
            remittance_text=remittance or _SPACES.sub(" ", entry.text("AddtlNtryInf") or ""),
            bank_tx_code=(_bank_tx_code(tx) if tx is not None else None) or _bank_tx_code(entry),
            return_reason=get("RtrInf/Rsn/Cd") or get("RtrInf/Rsn/Prtry"),
            source=LineSource(
                file=self.source,
                entry=self.position,
                entry_ref=self.ref,
                tx=None if tx is None else (batch_index or 1),
                line_no=_line_of(entry.element if tx is None else tx.element),
            ),
        )

    def amount(self, tree: _Tree, paths: tuple[str, ...], where: str) -> tuple[Decimal, str] | None:
        for path in paths:
            node = tree.get(path)
            if node is not None:
                break
        else:
            self.fail(tree.element, f"{where}/{paths[-1]}", "missing")
            return None
        text = (node.text or "").strip()
        currency = node.get("Ccy")
        label = f"{where}/{path}"
        valid = True
        if not _AMOUNT.fullmatch(text):
            self.fail(node, label, f"{shown(text)} is not a decimal amount")
            valid = False
        if currency is None or not _CURRENCY.fullmatch(currency):
            message = "missing" if currency is None else f"{shown(currency)} is not an ISO 4217 currency code"
            self.fail(node, f"{label}/@Ccy", message)
            valid = False
        return (Decimal(text), currency) if valid and currency is not None else None

    def direction(self, tree: _Tree, where: str, *, required: bool) -> Direction | None:
        node = tree.get("CdtDbtInd")
        if node is None:
            if required:
                self.fail(tree.element, f"{where}/CdtDbtInd", "missing")
            return None
        text = (node.text or "").strip()
        if text not in _DIRECTIONS:
            self.fail(node, f"{where}/CdtDbtInd", f"{shown(text)} is not one of {', '.join(_DIRECTIONS)}")
        return _DIRECTIONS.get(text)

    def reversal_indicator(self) -> bool | None:
        node = self.tree.get("RvslInd")
        if node is None:
            return False
        text = (node.text or "").strip()
        if text not in _BOOLEANS:
            self.fail(node, "Ntry/RvslInd", f"{shown(text)} is not a boolean")
        return _BOOLEANS.get(text)

    def status(self) -> Status | None:
        node = self.tree.get("Sts")
        if node is None:
            self.fail(self.tree.element, "Ntry/Sts", "missing")
            return None
        coded = self.tree.get("Sts/Cd")  # .001.08 and later wrap the code
        path, text = ("Ntry/Sts/Cd", coded.text) if coded is not None else ("Ntry/Sts", node.text)
        code = (text or "").strip()
        if code not in _STATUSES:
            self.fail(node if coded is None else coded, path, f"{shown(code)} is not one of {', '.join(_STATUSES)}")
        return _STATUSES.get(code)

    def date(self, path: Literal["BookgDt", "ValDt"]) -> date | None:
        holder = self.tree.get(path)
        if holder is None:
            return None
        for child, convert in (("Dt", _parse_date), ("DtTm", _parse_datetime)):
            node = self.tree.get(f"{path}/{child}")
            if node is not None:
                text = (node.text or "").strip()
                parsed = convert(text)
                if parsed is None:
                    self.fail(node, f"Ntry/{path}/{child}", f"{shown(text)} is not a valid date")
                return parsed
        self.fail(holder, f"Ntry/{path}", "has neither Dt nor DtTm")
        return None

    def check_batch_total(self, head: _Head, lines: list[BankLine]) -> None:
        booked, currency = head.amount
        if any(line.currency != currency for line in lines):
            return  # transaction amounts in another currency cannot be summed against the booked one
        total = sum((line.amount if line.direction == head.direction else -line.amount for line in lines), Decimal(0))
        if total != booked:
            self.fail(
                self.tree.element, "Ntry/NtryDtls", f"transaction amounts add up to {total}, entry amount is {booked}"
            )


def _tx_path(index: int) -> str:
    return f"Ntry/NtryDtls/TxDtls[{index}]"


def _nothing(path: str) -> None:
    return None


def _remittance(tx: _Element, prefix: str) -> str:
    parts = (node.text or "" for node in tx.iterfind(_path(prefix, "RmtInf/Ustrd")))
    return _SPACES.sub(" ", " ".join(parts)).strip()


def _bank_tx_code(tree: _Tree) -> str | None:
    codes = [tree.text(f"BkTxCd/Domn/{path}") for path in ("Cd", "Fmly/Cd", "Fmly/SubFmlyCd")]
    if any(codes):
        return "/".join(code for code in codes if code)
    return tree.text("BkTxCd/Prtry/Cd")


def _parse_date(text: str) -> date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_datetime(text: str) -> date | None:
    # The date as the bank wrote it, in its own time zone: that is the booking day it reports.
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        return None
