"""`dunning penalties` for any invoice and `dunning rates`, without a Temporal server: exact JSON, the
table, usage errors, the operator's rates file (add, list, override, malformed line named)."""

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from starter.cli import app
from tests.penalty_helpers import HEADER

WORKED = ["--amount", "10000.00", "--due-on", "2025-06-20", "--kind", "business", "--as-of", "2025-08-10"]


@pytest.fixture(autouse=True)
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DUNNING_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("DUNNING_RATES_FILE", raising=False)
    monkeypatch.delenv("DUNNING_IMPUTATION", raising=False)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), terminal_width=200)


def test_json_of_the_worked_example_is_exact() -> None:
    # Interest first (the default, Code civil 1343-1): the 10,000 paid settles the 172.51 of
    # penalties, so 172.51 of principal is still due; the debt is 212.51 either way.
    result = run("penalties", *WORKED, "--payment", "2025-08-10=10000", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "kind": "business",
        "as_of": "2025-08-10",
        "since": "2025-06-21",
        "rate": "default",
        "imputation": "interest",
        "interest": "172.51",
        "interest_paid": "172.51",
        "indemnity": "40.00",
        "total": "212.51",
        "principal_due": "172.51",
        "total_due": "212.51",
        "segments": [
            {
                "first_day": "2025-06-21",
                "last_day": "2025-06-30",
                "days": 10,
                "principal": "10000.00",
                "rate_percent": "13.15",
                "interest": "36.03",
            },
            {
                "first_day": "2025-07-01",
                "last_day": "2025-08-10",
                "days": 41,
                "principal": "10000.00",
                "rate_percent": "12.15",
                "interest": "136.48",
            },
        ],
        "sources": [
            "Code de commerce L441-10 II (penalties)",
            "Code de commerce D441-5 (40 EUR indemnity)",
            "Code civil 1343-1 (a partial payment settles interest first)",
            "2025 S1: https://www.legifrance.gouv.fr (arrete legal rate 2025 S1); ECB MRO 18-12-2024",
            "2025 S2: https://www.legifrance.gouv.fr (arrete legal rate 2025 S2); ECB MRO 11-06-2025",
        ],
        "warnings": [],
    }


@pytest.mark.parametrize(
    ("imputation", "env", "interest"),
    [
        ("principal", None, "137.89"),
        ("interest", None, "138.63"),
        (None, "principal", "137.89"),
        (None, None, "138.63"),
    ],
)
def test_imputation_by_option_or_by_environment(
    imputation: str | None, env: str | None, interest: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env:
        monkeypatch.setenv("DUNNING_IMPUTATION", env)
    option = ["--imputation", imputation] if imputation else []
    payments = ["--payment", "2025-07-15=4000", "--payment", "2025-08-10=6000"]
    result = run("penalties", *WORKED, *payments, *option, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["interest"] == interest


def test_the_table_shows_each_segment_and_the_totals() -> None:
    result = run("penalties", *WORKED)
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.replace("│", " ").split()) for line in result.stdout.splitlines()]
    assert "2025-06-21 2025-06-30 10 10000.00 13.15 36.03" in lines
    assert "2025-07-01 2025-08-10 41 10000.00 12.15 136.48" in lines
    assert "total interest 172.51" in lines
    assert "indemnity 40.00" in lines
    assert "total due 10212.51" in lines


def test_a_consumer_owes_legal_interest_from_the_notice_and_a_contractual_rate_warns() -> None:
    consumer = ["--amount", "10000", "--due-on", "2025-06-20", "--kind", "consumer", "--as-of", "2025-08-10"]
    result = run("penalties", *consumer, "--notice-on", "2025-07-15", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["interest"], shown["indemnity"], shown["rate"]) == ("19.66", "0.00", "legal")

    low = ["--amount", "1000", "--due-on", "2024-02-01", "--kind", "business", "--as-of", "2024-03-01"]
    result = run("penalties", *low, "--rate", "14.50", "--json")
    assert result.exit_code == 0, result.output
    assert "warning: contractual rate 14.50 % is below the legal floor of 2024 S1" in result.stderr


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--amount", "100", "--kind", "business"], "--amount, --due-on and --kind are required"),
        ([*WORKED, "--payment", "2025-07-15"], "expected DATE=AMOUNT"),
        ([*WORKED, "--payment", "2025-07-15=-3"], "the amount must be positive"),
        ([*WORKED, "--notice-on", "2025-07-01"], "--notice-on is for consumers"),
        ([*WORKED, "--rate", "abc"], "'abc' is not a number"),
        (["F-1", "--amount", "100"], "either INVOICE_ID or --amount"),
    ],
)
def test_usage_errors_are_named(args: list[str], error: str) -> None:
    result = run("penalties", *args)
    assert result.exit_code == 2
    assert error in " ".join(result.output.replace("│", " ").split())


def test_a_semester_without_rates_is_refused() -> None:
    result = run(
        "penalties", "--amount", "100", "--due-on", "2026-12-20", "--kind", "business", "--as-of", "2027-01-05"
    )
    assert result.exit_code == 1
    assert "not computed: no verified French late-payment rates for 2027 S1" in result.stderr


def test_rates_add_then_list_and_use_the_new_semester(var_dir: Path) -> None:
    result = run(
        "rates", "add", "2027-01-01", "--mro", "2.65", "--legal-private", "6.30", "--legal-other", "2.70",
        "--source", "https://example.org/2027-s1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2027 S1 added" in result.stdout
    assert "B2B default 12.65 %" in result.stdout
    assert (var_dir / "rates.csv").read_text().splitlines() == [
        HEADER,
        "2027-01-01,2.65,12.65,6.30,2.70,https://example.org/2027-s1",
    ]
    listed = run("rates", "list")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if "2027 S1" in line and "│" in line)
    assert row.replace("│", " ").split() == ["2027", "S1", "2.65", "12.65", "6.30", "2.70", "8.10", "operator"]
    computed = run("penalties", "--amount", "1000", "--due-on", "2026-12-31", "--kind", "business",
                   "--as-of", "2027-01-10", "--json")  # fmt: skip
    assert json.loads(computed.stdout)["interest"] == "3.47"  # 1,000 x 12.65 % x 10 / 365

    again = run("rates", "add", "2027-01-01", "--mro", "2.40", "--source", "corrected")
    assert again.exit_code == 0, again.output
    assert "2027 S1 replaced" in again.stdout
    assert len((var_dir / "rates.csv").read_text().splitlines()) == 2


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["2027-02-01", "--mro", "2.40", "--source", "x"], "2027-02-01 is not a semester start"),
        (["2027-01-01", "--mro", "45", "--source", "x"], "mro_percent: 45 is not a percentage between 0 and 30"),
        (["2027-01-01", "--mro", "2.40", "--legal-other", "x", "--source", "x"], "--legal-other: 'x' is not a number"),
        (["2027-01-01", "--mro", "2.40", "--source", " "], "source: required"),
    ],
)
def test_rates_add_refuses_bad_input_and_writes_nothing(args: list[str], error: str, var_dir: Path) -> None:
    result = run("rates", "add", *args)
    assert result.exit_code == 1
    assert error in result.stderr
    assert not (var_dir / "rates.csv").exists()


def test_a_malformed_rates_file_is_refused_naming_its_line(var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rates = var_dir / "own-rates.csv"
    rates.write_text(f"{HEADER}\n2027-01-01,2.40,,,,ok\n2027-07-01,2,4,,,,bad\n")
    monkeypatch.setenv("DUNNING_RATES_FILE", str(rates))
    for args in (
        ["rates", "list"],
        ["penalties", *WORKED],
        ["rates", "add", "2028-01-01", "--mro", "2", "--source", "s"],
    ):
        result = run(*args)
        assert result.exit_code == 1
        assert f"{rates} line 3: 7 cells where 6 columns are expected" in " ".join(result.stderr.split())
    assert rates.read_text().count("\n") == 3  # nothing added to a broken file


def test_rates_list_for_scripts_gives_exact_percentages_and_the_source() -> None:
    as_json, as_csv = (run("rates", "list", "--output", kind) for kind in ("json", "csv"))
    assert as_json.exit_code == as_csv.exit_code == 0, as_json.output + as_csv.output
    rows = json.loads(as_json.stdout)
    by_semester = {row["semester"]: row for row in rows}
    assert by_semester["2026 S1"] == {
        "semester": "2026 S1",
        "starts_on": "2026-01-01",
        "mro_percent": "2.15",
        "b2b_default_percent": "12.15",
        "legal_private_percent": "6.67",
        "legal_other_percent": "2.62",
        "floor_percent": "7.86",
        "origin": "packaged",
        "source": "juriblio.fr arrete 15-12-2025 (legal rate 2026 S1); ECB MRO 11-06-2025",
    }
    assert by_semester["2026 S2"]["legal_other_percent"] is None  # not published yet: null, not "missing"
    lines = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [line["semester"] for line in lines] == [row["semester"] for row in rows]
    assert next(line for line in lines if line["semester"] == "2026 S2")["legal_other_percent"] == ""
