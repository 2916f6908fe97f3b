from datetime import date
from decimal import Decimal

import pytest

from starter.bank import BankFileRejected, parse_csv

ACCOUNT = "FR7630003036200002026123456"


def test_comma_separated_with_optional_columns() -> None:
    data = (
        b"date,amount,reference,payer,payer_iban,bank_ref,currency\n"
        b"2026-03-04,1200.00,FACT F-2026-0042,BOULANGERIE MARTIN SARL,FR76 1027 8060 7600 0201 2340 183,B1,EUR\n"
        b'2026-03-04,"-42,50",COMMISSION,,,B2,\n'
    )

    parsed = parse_csv(data, source="pay.csv", account_iban=ACCOUNT)

    assert parsed.errors == []
    payment, fees = parsed.lines
    assert payment.payment_id == f"{ACCOUNT}/B1"
    assert (payment.amount, payment.currency, payment.direction, payment.status) == (
        Decimal("1200.00"),
        "EUR",
        "credit",
        "booked",
    )
    assert payment.booking_date == payment.value_date == date(2026, 3, 4)
    assert (payment.payer_name, payment.payer_iban) == ("BOULANGERIE MARTIN SARL", "FR7610278060760002012340183")
    assert payment.remittance_text == "FACT F-2026-0042"
    assert (fees.amount, fees.direction, fees.currency, fees.payer_name) == (Decimal("42.50"), "debit", "EUR", None)
    assert str(fees.source) == "pay.csv entry 2, line 3"


def test_semicolon_separated_french_amounts_and_dates() -> None:
    data = (
        "\ufeffDate;Amount;Reference;Payer\n"
        "04/03/2026;1 234,56;REGLT RF20 F202 6005 1;GARAGE DUPONT\n"
        "\n"
        "2026-03-05;1.234,50;;X\n"
        "2026-03-05;+5;;Y\n"
    ).encode()

    parsed = parse_csv(data, source="pay.csv")

    assert parsed.errors == []
    assert [(line.booking_date, line.amount) for line in parsed.lines] == [
        (date(2026, 3, 4), Decimal("1234.56")),
        (date(2026, 3, 5), Decimal("1234.50")),
        (date(2026, 3, 5), Decimal("5")),
    ]
    assert [line.source.line_no for line in parsed.lines] == [2, 4, 5]
    assert parsed.lines[0].payment_id.startswith("-/sha256:")
    assert parsed.lines[0].account_iban is None


def test_windows_1252_export() -> None:
    data = "date;amount;reference;payer\n2026-03-04;10,00;Réglement;Société Générale\n".encode("cp1252")

    assert parse_csv(data, source="pay.csv").lines[0].payer_name == "Société Générale"


def test_hashed_ids_repeat_across_exports_and_number_identical_rows() -> None:
    row = "2026-03-04,150.00,LOYER MARS,SCI LES TILLEULS\n"
    once = parse_csv(f"date,amount,reference,payer\n{row}".encode(), source="a.csv").lines
    twice = parse_csv(f"date,amount,reference,payer\n{row}{row}".encode(), source="b.csv").lines

    assert twice[0].payment_id == once[0].payment_id
    assert twice[1].payment_id == once[0].payment_id[:-1] + "2"
    assert (once[0].id_kind, twice[0].id_kind) == ("hash", "hash_collision")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("2026-13-04,10.00,X,Y", "pay.csv line 3, date: '2026-13-04' is not a date (YYYY-MM-DD or DD/MM/YYYY)"),
        ("2026-03-04,ten,X,Y", "pay.csv line 3, amount: 'ten' is not an amount"),
        ('2026-03-04,"1,234,56",X,Y', "pay.csv line 3, amount: '1,234,56' is not an amount"),
        ("2026-03-04,0.00,X,Y", "pay.csv line 3, amount: zero amount"),
        ("2026-03-04,10.00,X", "pay.csv line 3: 3 fields, the header has 4"),
    ],
)
def test_bad_row_names_line_and_column(row: str, expected: str) -> None:
    data = f"date,amount,reference,payer\n2026-03-04,1.00,OK,Z\n{row}\n2026-03-04,2.00,OK,Z\n".encode()

    parsed = parse_csv(data, source="pay.csv")

    assert [str(error) for error in parsed.errors] == [expected]
    assert [line.amount for line in parsed.lines] == [Decimal("1.00"), Decimal("2.00")]  # --partial keeps these
    with pytest.raises(BankFileRejected, match="nothing imported"):
        parsed.raise_if_invalid()


def test_bad_currency_and_multiline_field() -> None:
    data = 'date,amount,reference,payer,currency\n2026-03-04,1.00,"two\nlines",Z,EUR\n2026-03-04,1.00,X,Z,euro\n'

    parsed = parse_csv(data.encode(), source="pay.csv")

    assert parsed.lines[0].remittance_text == "two lines"
    assert [str(error) for error in parsed.errors] == [
        "pay.csv line 4, currency: 'euro' is not an ISO 4217 currency code"
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "date,amount,payer",
            "pay.csv line 1: bad header: missing column(s) reference "
            "(expected date,amount,reference,payer,payer_iban,bank_ref,currency)",
        ),
        (
            "date,amount,reference,payer,payeriban",
            "pay.csv line 1: bad header: unknown column(s) 'payeriban' "
            "(expected date,amount,reference,payer,payer_iban,bank_ref,currency)",
        ),
    ],
)
def test_bad_header(header: str, expected: str) -> None:
    parsed = parse_csv(f"{header}\n2026-03-04,1.00,X,Y\n".encode(), source="pay.csv")

    assert parsed.lines == []
    assert [str(error) for error in parsed.errors] == [expected]
