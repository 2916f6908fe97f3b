"""Property tests of the bank file parsers: whatever the bytes, a parsed file or errors naming the line
(and, for a field, the field), never a crash."""

import csv
import io
import re
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from starter.bank import ParsedFile, parse_camt, parse_csv
from starter.reconcile import parse_bank_file

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SAMPLE = (Path(__file__).resolve().parents[2] / "samples" / "camt053-sample.xml").read_bytes()
ENTRY = SAMPLE.index(b"<Ntry>")
SAMPLE_END = SAMPLE[SAMPLE.rindex(b"</Document>") + len(b"</Document") :]  # a cut before it leaves the root open
# Text XML can carry: no control characters but tab and newline, no surrogates, no noncharacters.
xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn"), whitelist_characters="\t\n"), max_size=40)


def located(parsed: ParsedFile) -> None:
    """Every problem found names the line it is on."""
    assert all(error.line_no is not None and error.line_no >= 1 for error in parsed.errors), parsed.errors


@FAST
@given(st.binary(max_size=400))
@example(b"")
@example(b"<")
@example(b"\xef\xbb\xbf<?xml version='1.0'?>")
def test_any_bytes_are_a_file_or_its_errors(data: bytes) -> None:
    parsed = parse_bank_file(data, "any.bin")
    # A file that is not text at all is one error about the whole file; any other names its line.
    unlocated = [error for error in parsed.errors if error.line_no is None]
    assert unlocated == [] or (parsed.errors == unlocated and len(unlocated) == 1 and parsed.lines == [])
    located(parse_csv(data, source="any.csv"))


@FAST
@given(st.integers(min_value=0, max_value=len(SAMPLE) - len(SAMPLE_END) - 1), st.binary(max_size=20))
def test_a_damaged_statement_is_refused_whole_with_the_line_of_the_damage(cut: int, noise: bytes) -> None:
    parsed = parse_camt(SAMPLE[:cut] + noise, source="cut.xml")
    # A truncated statement must not pass for a shorter valid one.
    assert parsed.errors != []
    assert parsed.lines == []
    located(parsed)


# (the text in entry 1, the same with `{}` where the drawn value goes, the element path errors must name)
CAMT_FIELDS = [
    ('<Amt Ccy="EUR">200.00</Amt>', '<Amt Ccy="EUR">{}</Amt>', "Ntry/Amt"),
    ('<Amt Ccy="EUR">200.00</Amt>', "<Amt Ccy={}>200.00</Amt>", "Ntry/Amt/@Ccy"),
    ("<CdtDbtInd>CRDT</CdtDbtInd>", "<CdtDbtInd>{}</CdtDbtInd>", "Ntry/CdtDbtInd"),
    ("<Sts>BOOK</Sts>", "<Sts>{}</Sts>", "Ntry/Sts"),
    ("<BookgDt><Dt>2026-03-04</Dt></BookgDt>", "<BookgDt><Dt>{}</Dt></BookgDt>", "Ntry/BookgDt/Dt"),
    ("<ValDt><Dt>2026-03-04</Dt></ValDt>", "<ValDt><Dt>{}</Dt></ValDt>", "Ntry/ValDt/Dt"),
]


@FAST
@given(st.sampled_from(CAMT_FIELDS), xml_text)
@example(CAMT_FIELDS[3], "")
@example(CAMT_FIELDS[1], "eur")
def test_a_bad_camt_field_is_rejected_with_its_entry_line_and_element(field: tuple[str, str, str], text: str) -> None:
    original, template, path = field
    at = SAMPLE.index(original.encode(), ENTRY)
    line = SAMPLE.count(b"\n", 0, at) + 1
    value = quoteattr(text) if path.endswith("@Ccy") else escape(text)
    data = SAMPLE[:at] + template.format(value).encode() + SAMPLE[at + len(original) :]
    parsed = parse_camt(data, source="bad.xml")
    assert len(parsed.lines) == (7 if parsed.errors else 8)  # the other entries stay valid
    for error in parsed.errors:
        assert (error.line_no, error.entry, error.element) == (line, "entry 1 (NtryRef 1)", path), error


LINE_BREAK = re.compile(r"\r\n|\r|\n")
CSV_HEADER = ["date", "amount", "reference", "payer", "payer_iban", "bank_ref", "currency"]
CSV_ROW = ["2026-03-04", "1 200,00", "F-2026-0042", "BOULANGERIE MARTIN", "FR7610278060760002012340183", "B1", "EUR"]


def csv_file(rows: list[list[str]]) -> tuple[bytes, list[int]]:
    """The file and the line each row starts on (a quoted cell may span lines)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_HEADER)
    starts = []
    for row in rows:
        # As an editor numbers lines (and the csv module counts them): a lone CR in a quoted cell ends one.
        starts.append(len(LINE_BREAK.findall(out.getvalue())) + 1)
        writer.writerow(row)
    return out.getvalue().encode(), starts


@FAST
@given(
    st.integers(min_value=0, max_value=2),
    st.sampled_from(CSV_HEADER),
    st.text(max_size=30),
)
@example(1, "amount", "1,234,56")
@example(0, "date", "31/02/2026")
def test_a_bad_csv_cell_is_rejected_with_its_line_and_column(row: int, column: str, text: str) -> None:
    rows = [list(CSV_ROW) for _ in range(3)]
    rows[row][CSV_HEADER.index(column)] = text
    data, starts = csv_file(rows)
    parsed = parse_csv(data, source="bad.csv")
    assert len(parsed.lines) + len({error.line_no for error in parsed.errors}) == 3
    for error in parsed.errors:
        assert (error.line_no, error.element) == (starts[row], column), error
