import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from starter.bank import BankFileRejected, OpenInvoice, parse_camt
from starter.bank.synth import make_camt053

# The samples shipped with the product (README, "Daily use").
FIXTURES = Path(__file__).resolve().parents[2] / "samples"
ACCOUNT = "FR7630003036200002026123456"
STATEMENT = (FIXTURES / "camt053-sample.xml").read_text()
NOTIFICATION = (FIXTURES / "camt054-sample.xml").read_text()


def mutate(text: str, old: str, new: str) -> bytes:
    assert text.count(old) == 1, old
    return text.replace(old, new).encode()


def in_entry(text: str, entry_ref: str, old: str, new: str) -> str:
    """`text` with `old` replaced by `new` inside the entry whose NtryRef is `entry_ref` only."""
    start = text.index(f"<NtryRef>{entry_ref}</NtryRef>")
    end = text.index("</Ntry>", start)
    assert text[start:end].count(old) == 1, old
    return text[:start] + text[start:end].replace(old, new) + text[end:]


def only_error(data: bytes, source: str = "bad.xml") -> str:
    parsed = parse_camt(data, source=source)
    assert len(parsed.errors) == 1, parsed.errors
    return str(parsed.errors[0])


def test_statement_lines() -> None:
    parsed = parse_camt(STATEMENT.encode(), source="camt053-sample.xml")

    assert parsed.errors == []
    assert [(line.source.entry_ref, line.source.tx) for line in parsed.lines] == [
        ("1", 1),
        ("2", 1),
        ("2", 2),
        ("3", 1),
        ("4", None),
        ("5", 1),
        ("6", 1),
        ("7", 1),
    ]
    first, batch_a, batch_b, reversal, fees, anonymous, two_invoices, typed_rf = parsed.lines
    assert first.payment_id == f"{ACCOUNT}/260304SG000101"
    assert first.id_kind == "bank_reference"
    assert (first.amount, first.currency, first.direction, first.reversal, first.status) == (
        Decimal("200.00"),
        "EUR",
        "credit",
        False,
        "booked",
    )
    assert first.booking_date == first.value_date == date(2026, 3, 4)
    assert first.structured_reference == "RF20F20260051"
    assert (first.end_to_end_id, first.instr_id, first.tx_id) == (
        "DUPONT-VIR-20260304",
        "DUP-0304-A",
        "TX260304BNPA00771",
    )
    assert (first.payer_name, first.payer_iban) == ("GARAGE DUPONT", "FR7630004008190001045678906")
    assert first.bank_tx_code == "PMNT/RCDT/ESCT"
    assert batch_a.payment_id == f"{ACCOUNT}/260304SG000102/260304SG000102-1"
    assert batch_b.payment_id == f"{ACCOUNT}/260304SG000102/260304SG000102-2"
    assert (batch_a.amount, batch_b.amount) == (Decimal("1200.00"), Decimal("89.00"))
    assert batch_a.remittance_text == "FACT F-2026-0042"
    assert batch_a.end_to_end_id == "NOTPROVIDED"
    assert batch_a.given_end_to_end_id is None
    assert (reversal.direction, reversal.reversal, reversal.bank_tx_code) == ("debit", True, "PMNT/RCDT/RRTN")
    assert (fees.direction, fees.bank_tx_code, fees.remittance_text) == (
        "debit",
        "ACMT/MDOP/CHRG",
        "COMMISSION TENUE DE COMPTE 02/2026",
    )
    assert anonymous.acct_svcr_ref is None
    assert anonymous.id_kind == "hash"
    assert anonymous.payment_id.startswith(f"{ACCOUNT}/sha256:")
    assert anonymous.payment_id.endswith("/1")
    assert two_invoices.remittance_text == "REGLEMENT FACTURES F-2026-0060 ET F-2026-0061"
    assert typed_rf.remittance_text == "REGLT RF20 F202 6005 1"
    assert str(batch_b.source) == "camt053-sample.xml entry 2 (NtryRef 2) tx 2, line 147"


def test_notification_in_version_08_reads_like_the_statement() -> None:
    statement = parse_camt(STATEMENT.encode(), source="camt053-sample.xml").lines
    notification = parse_camt(NOTIFICATION.encode(), source="camt054-sample.xml")

    assert notification.errors == []
    # Entries N1-N5 are statement entries 1-5: same ids (N5 through the fallback hash), same data;
    # only the source differs. Sts/Cd, Dbtr/Pty/Nm and TxDtls/Amt are the .08 forms.
    assert [line.model_dump(exclude={"source"}) for line in notification.lines[:6]] == [
        line.model_dump(exclude={"source"}) for line in statement[:6]
    ]
    pending = notification.lines[6]
    assert (pending.status, pending.booking_date, pending.amount) == ("pending", None, Decimal("2800.00"))
    assert pending.source.entry_ref == "N6"


def test_fallback_id_ignores_entry_reference_file_and_message_ids() -> None:
    statement = parse_camt(STATEMENT.encode(), source="a.xml").lines[5]
    notification = parse_camt(NOTIFICATION.encode(), source="b.xml").lines[5]

    assert (statement.source.entry_ref, notification.source.entry_ref) == ("5", "N5")
    assert statement.payment_id == notification.payment_id
    changed = parse_camt(mutate(STATEMENT, "LOYER MARS 2026 LOT 12", "LOYER AVRIL"), source="a.xml").lines[5]
    assert changed.payment_id != statement.payment_id


def test_identical_lines_without_bank_reference_are_numbered_and_flagged() -> None:
    entry_5 = STATEMENT[STATEMENT.index("      <Ntry>\n        <NtryRef>5<") : STATEMENT.index("      <!-- 6:")]
    twice = STATEMENT.replace(entry_5, entry_5 + entry_5.replace("<NtryRef>5<", "<NtryRef>5b<"))

    lines = parse_camt(twice.encode(), source="twice.xml").lines
    first, second = lines[5], lines[6]

    assert first.payment_id.endswith("/1")
    assert second.payment_id == first.payment_id[:-1] + "2"
    assert first.id_kind == second.id_kind == "hash_collision"


def test_batch_without_transaction_references_uses_positions() -> None:
    data = STATEMENT.replace("<AcctSvcrRef>260304SG000102-1</AcctSvcrRef>", "").replace(
        "<AcctSvcrRef>260304SG000102-2</AcctSvcrRef>", ""
    )

    lines = parse_camt(data.encode(), source="s.xml").lines

    assert [lines[1].payment_id, lines[2].payment_id] == [
        f"{ACCOUNT}/260304SG000102/#1",
        f"{ACCOUNT}/260304SG000102/#2",
    ]


def test_booking_date_time_and_other_versions() -> None:
    data = in_entry(STATEMENT, "1", "<BookgDt><Dt>2026-03-04</Dt>", "<BookgDt><DtTm>2026-03-05T00:30:00+01:00</DtTm>")
    assert parse_camt(data.encode(), source="s.xml").lines[0].booking_date == date(2026, 3, 5)

    for namespace in ("camt.053.001.04", "camt.053.001.13"):
        renamed = STATEMENT.replace("camt.053.001.02", namespace).encode()
        assert len(parse_camt(renamed, source="s.xml").lines) == 8

    report = NOTIFICATION.replace("camt.054.001.08", "camt.052.001.08").replace(
        "BkToCstmrDbtCdtNtfctn", "BkToCstmrAcctRpt"
    )
    report = report.replace("<Ntfctn>", "<Rpt>").replace("</Ntfctn>", "</Rpt>")
    assert len(parse_camt(report.encode(), source="r.xml").lines) == 7


def test_every_report_of_a_file_uses_its_own_account() -> None:
    start, end = STATEMENT.index("<Stmt>"), STATEMENT.index("</Stmt>") + len("</Stmt>")
    other = STATEMENT[start:end].replace(ACCOUNT, "FR7630004000031234567890143")
    data = STATEMENT[:end] + other + STATEMENT[end:]

    lines = parse_camt(data.encode(), source="two.xml").lines

    assert len(lines) == 16
    assert {line.account_iban for line in lines[:8]} == {ACCOUNT}
    assert {line.account_iban for line in lines[8:]} == {"FR7630004000031234567890143"}
    assert [line.source.entry for line in lines[8:10]] == [8, 9]


@pytest.mark.parametrize(
    ("entry", "old", "new", "expected"),
    [
        (
            "1",
            '<Amt Ccy="EUR">200.00</Amt>\n        <CdtDbtInd>',
            '<Amt Ccy="EUR">2OO.00</Amt>\n        <CdtDbtInd>',
            "bad.xml line 85, entry 1 (NtryRef 1), Ntry/Amt: '2OO.00' is not a decimal amount",
        ),
        ("4", '<Amt Ccy="EUR">42.50</Amt>', "", "bad.xml line 201, entry 4 (NtryRef 4), Ntry/Amt: missing"),
        (
            "4",
            'Ccy="EUR"',
            'Ccy="EURO"',
            "bad.xml line 203, entry 4 (NtryRef 4), Ntry/Amt/@Ccy: 'EURO' is not an ISO 4217 currency code",
        ),
        (
            "4",
            "<CdtDbtInd>DBIT</CdtDbtInd>",
            "",
            "bad.xml line 201, entry 4 (NtryRef 4), Ntry/CdtDbtInd: missing",
        ),
        (
            "3",
            "<RvslInd>true</RvslInd>",
            "<RvslInd>yes</RvslInd>",
            "bad.xml line 169, entry 3 (NtryRef 3), Ntry/RvslInd: 'yes' is not a boolean",
        ),
        (
            "5",
            "<BookgDt><Dt>2026-03-04</Dt>",
            "<BookgDt><Dt>2026-02-30</Dt>",
            "bad.xml line 219, entry 5 (NtryRef 5), Ntry/BookgDt/Dt: '2026-02-30' is not a valid date",
        ),
        (
            "6",
            "<Sts>BOOK</Sts>",
            "<Sts>BOOKED</Sts>",
            "bad.xml line 240, entry 6 (NtryRef 6), Ntry/Sts: 'BOOKED' is not one of BOOK, PDNG, FUTR, INFO",
        ),
        (
            "2",
            '<Amt Ccy="EUR">89.00</Amt>',
            '<Amt Ccy="EUR">98.00</Amt>',
            "bad.xml line 118, entry 2 (NtryRef 2), Ntry/NtryDtls: transaction amounts add up to 1298.00, "
            "entry amount is 1289.00",
        ),
        (
            "2",
            '<AmtDtls><TxAmt><Amt Ccy="EUR">89.00</Amt></TxAmt></AmtDtls>',
            "",
            "bad.xml line 147, entry 2 (NtryRef 2), Ntry/NtryDtls/TxDtls[2]/AmtDtls/TxAmt/Amt: missing",
        ),
    ],
)
def test_malformed_entry_names_entry_element_and_line(entry: str, old: str, new: str, expected: str) -> None:
    assert only_error(in_entry(STATEMENT, entry, old, new).encode()) == expected


def test_version_08_paths_in_errors() -> None:
    data = mutate(NOTIFICATION, "<Sts><Cd>PDNG</Cd></Sts>", "<Sts><Cd>DONE</Cd></Sts>")
    assert only_error(data) == (
        "bad.xml line 216, entry 6 (NtryRef N6), Ntry/Sts/Cd: 'DONE' is not one of BOOK, PDNG, FUTR, INFO"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "bad.xml line 1: not well-formed XML: no element found"),
        (b"%PDF-1.4", "bad.xml line 1: not well-formed XML: Start tag expected, '<' not found, line 1, column 1"),
        (
            STATEMENT.encode()[:9000],
            "bad.xml line 196: not well-formed XML: expected '>', line 196, column 17",
        ),
        (
            b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>',
            "bad.xml line 2: root element {urn:iso:std:iso:20022:tech:xsd:pain.001.001.03}Document is not a "
            "camt.052/053/054 Document",
        ),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">\n<BkToCstmrAcctRpt/></Document>',
            "bad.xml line 1: Document holds BkToCstmrAcctRpt, BkToCstmrStmt expected",
        ),
    ],
)
def test_unreadable_file_is_one_file_level_error_and_no_lines(data: bytes, expected: str) -> None:
    parsed = parse_camt(data, source="bad.xml")

    assert parsed.lines == []
    assert [str(error) for error in parsed.errors] == [expected]


def test_missing_account_skips_the_report() -> None:
    parsed = parse_camt(mutate(STATEMENT, f"<Id><IBAN>{ACCOUNT}</IBAN></Id>", ""), source="bad.xml")

    assert parsed.lines == []
    assert [str(error) for error in parsed.errors] == [
        "bad.xml line 83, Stmt/Acct/Id/IBAN: missing: the entries of this report are skipped"
    ]


def test_a_dtd_is_refused_before_any_entity_is_read() -> None:
    # More hostile files in test_hostile_xml.py.
    hostile = STATEMENT.replace(
        "<Document",
        '<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n<Document',
    ).replace("LOYER MARS 2026 LOT 12", "&secret;")

    parsed = parse_camt(hostile.encode(), source="hostile.xml")

    assert parsed.lines == []
    assert [str(error) for error in parsed.errors] == [
        f"hostile.xml line {hostile[: hostile.index('<!DOCTYPE')].count(chr(10)) + 1}:"
        " a DOCTYPE is not allowed in a bank file"
    ]


def test_invalid_file_is_rejected_whole_or_kept_in_part() -> None:
    data = in_entry(STATEMENT, "4", '<Amt Ccy="EUR">42.50', '<Amt Ccy="EUR">-42.50')
    data = in_entry(data, "7", "<BookgDt><Dt>2026-03-04</Dt></BookgDt>", "")

    parsed = parse_camt(data.encode(), source="bad.xml")

    with pytest.raises(BankFileRejected) as rejected:
        parsed.raise_if_invalid()
    assert str(rejected.value) == (
        "bad.xml: 2 error(s), nothing imported:\n"
        "  bad.xml line 203, entry 4 (NtryRef 4), Ntry/Amt: '-42.50' is not a decimal amount\n"
        "  bad.xml line 264, entry 7 (NtryRef 7), Ntry/BookgDt: missing on a booked entry"
    )
    # --partial: every other entry is kept, whole
    assert [line.source.entry_ref for line in parsed.lines] == ["1", "2", "2", "3", "5", "6"]


def test_large_synthetic_statement(invoices: list[OpenInvoice]) -> None:
    data = make_camt053(10_000, invoices)

    started = time.perf_counter()
    parsed = parse_camt(data, source="synth.xml")
    elapsed = time.perf_counter() - started

    assert parsed.errors == []
    assert len(parsed.lines) == 11_000  # every tenth entry is a batch of two
    assert len({line.payment_id for line in parsed.lines}) == 11_000
    assert {line.status for line in parsed.lines} == {"booked"}
    assert parsed.lines[-1].source.entry == 10_000
    expected_total = sum(invoice.balance for invoice in invoices) * 11_000 / len(invoices)
    assert sum(line.amount for line in parsed.lines) == expected_total
    assert elapsed < 10  # generous: a loaded CI box, not a benchmark
