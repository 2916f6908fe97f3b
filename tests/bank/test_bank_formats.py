"""Which parser reads a bank file is decided by its content, never by its name; anything else is one
error that quotes none of the file."""

import random
from pathlib import Path

from starter.reconcile import parse_bank_file

# The samples shipped with the product (README, "Daily use").
FIXTURES = Path(__file__).resolve().parents[2] / "samples"


def test_random_bytes_are_one_error_that_echoes_nothing() -> None:
    data = random.Random(15).randbytes(4096)
    assert not data.lstrip().startswith(b"<")

    parsed = parse_bank_file(data, "statement.xml")

    assert parsed.lines == []
    [error] = parsed.errors
    message = str(error)
    assert message.startswith("statement.xml: binary content (byte 0x")
    assert "neither camt XML" in message
    assert message.isprintable()
    assert len(message) < 200


def test_a_camt_file_named_csv_is_read_as_camt() -> None:
    parsed = parse_bank_file((FIXTURES / "camt053-sample.xml").read_bytes(), "statement.csv")
    assert parsed.errors == []
    assert len(parsed.lines) == 8  # seven entries, one a batch of two


def test_utf16_csv_is_told_to_be_saved_as_utf8() -> None:
    data = "date,amount,reference,payer\n2026-03-04,1.00,X,Y\n".encode("utf-16")
    [error] = parse_bank_file(data, "excel.csv").errors
    assert str(error) == "excel.csv: UTF-16 text: save the file as UTF-8 CSV"


def test_text_of_another_kind_is_quoted_short() -> None:
    prose = ",".join(f"word{n} " * 30 for n in range(50)) + "\n"
    [error] = parse_bank_file(prose.encode(), "notes.txt").errors
    message = str(error)
    assert "unknown column(s) 'word0 word0 word0 wo'... (179 characters)" in message
    assert "and 45 more" in message
    assert len(message) < 400
