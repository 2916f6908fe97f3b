"""Penalties and rates as pure functions, on the law reference's worked examples (fr-late-payment-law.md
§1-4): semesters, leap years, partial payments under both imputations, consumers, contractual rates,
missing rates, and the operator's rates file."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.case import CaseState
from domain.models import ActionStatus, CustomerKind, InvoiceCancelled, InvoiceInput, PaymentMade, PaymentReceived
from domain.money import to_cents
from domain.penalties import Claim, PenaltyPolicy, claim_of, late_penalties, statement, with_penalties
from domain.rates import PACKAGED, MissingRate, RatesFileError, make_row, parse_rates, to_csv_lines
from tests.conftest import make_invoice
from tests.ladders import DEFAULT_POLICY
from tests.penalty_helpers import (
    HEADER,
    INTEREST_FIRST,
    PRINCIPAL_FIRST,
    business,
    consumer,
    day,
    policy_with,
)

WORKED = ("10000.00", "2025-06-20", "2025-08-10")
# The variant of §3: 4,000 on 2025-07-15, the rest on 2025-08-10.
PARTIAL = (("2025-07-15", "4000"), ("2025-08-10", "6000"))


@pytest.mark.parametrize(
    ("claim", "days", "interest", "indemnity"),
    [
        # §3: 10 days at 13.15 % then 41 at 12.15 %, paid in full on 2025-08-10.
        (business(*WORKED, ("2025-08-10", "10000")), [10, 41], "172.51", "40.00"),
        # Not paid: the same to that day, the indemnity owed all the same.
        (business(*WORKED), [10, 41], "172.51", "40.00"),
        # Across 1 January: 16 days at 14.00 % (2023 S2), 10 at 14.50 % (2024 S1).
        (business("1000", "2023-12-15", "2024-01-10"), [16, 10], "10.11", "40.00"),
        # Due on 30 June: every day late is in the second semester.
        (business("1000", "2025-06-30", "2025-07-10"), [10], "3.33", "40.00"),
        # A leap half-year, 182 days, still on 365: 10,000 x 14.50 % x 182 / 365 (366 would give 721.04).
        (business("10000", "2023-12-31", "2024-06-30"), [182], "723.01", "40.00"),
        # Paid on the due date, or asked before it: nothing owed.
        (business("1000", "2025-06-20", "2025-08-10", ("2025-06-20", "1000")), [], "0.00", "0.00"),
        (business("1000", "2025-06-20", "2025-06-20"), [], "0.00", "0.00"),
        # A contractual rate replaces the default one: 10,000 x 15 % x 51 / 365.
        (business(*WORKED, rate="15.00"), [10, 41], "209.59", "40.00"),
        # §4: a consumer, notice received 2025-07-15, paid 2025-08-10: 26 days at 2.76 %, no indemnity.
        (consumer(*WORKED, ("2025-08-10", "10000"), notice_on="2025-07-15"), [26], "19.66", "0.00"),
        # A consumer without a formal notice owes no interest yet.
        (consumer(*WORKED, notice_on=None), [], "0.00", "0.00"),
    ],
)
def test_amounts_on_the_reference_examples(claim: Claim, days: list[int], interest: str, indemnity: str) -> None:
    computed = late_penalties(claim, INTEREST_FIRST)
    assert [s.days for s in computed.segments] == days
    assert computed.interest == Decimal(interest)
    assert computed.indemnity == Decimal(indemnity)


@pytest.mark.parametrize(
    ("policy", "interest", "interest_paid", "principal_due", "last_principal"),
    [
        # Principal first: 36.027397 + 49.931507 + 6,000 x 12.15 % x 26/365 (51.928767).
        (PRINCIPAL_FIRST, "137.89", "0.00", "0.00", "6000"),
        # Interest first (Code civil 1343-1): 85.96 of the 4,000 settles the accrued penalties, the
        # principal is 6,085.96 from 2025-07-16; the last 6,000 pays 52.67 of interest first.
        (INTEREST_FIRST, "138.63", "138.63", "138.63", "6085.96"),
    ],
)
def test_partial_payments_under_each_imputation(
    policy: PenaltyPolicy, interest: str, interest_paid: str, principal_due: str, last_principal: str
) -> None:
    computed = late_penalties(business(*WORKED, *PARTIAL), policy)
    assert [s.days for s in computed.segments] == [10, 15, 26]
    assert computed.segments[-1].principal == Decimal(last_principal)
    assert computed.interest == Decimal(interest)
    assert computed.interest_paid == Decimal(interest_paid)
    assert computed.principal_due == Decimal(principal_due)
    # Whichever way payments are split, the debt is the same: 10,000 paid of 10,000 + interest + 40.
    assert computed.total_due == Decimal(interest) + Decimal("40.00")


def test_a_payment_smaller_than_the_interest_leaves_the_principal_whole_when_interest_comes_first() -> None:
    claim = business("1000", "2025-06-20", "2025-08-10", ("2025-07-31", "5.00"))
    first = late_penalties(claim, INTEREST_FIRST)
    assert [s.principal for s in first.segments] == [Decimal("1000")] * 3
    assert (first.interest, first.interest_paid, first.total_due) == (
        Decimal("17.25"),
        Decimal("5.00"),
        Decimal("1052.25"),
    )
    principal = late_penalties(claim, PRINCIPAL_FIRST)
    assert principal.segments[-1].principal == Decimal("995.00")
    assert (principal.interest, principal.total_due) == (Decimal("17.23"), Decimal("1052.23"))


@pytest.mark.parametrize(
    ("rate", "due_on", "as_of", "warning"),
    [
        # 2024 S1: the floor, 3 x 5.07 % = 15.21 %, is above even the default rate of 14.50 %.
        ("14.50", "2024-02-01", "2024-03-01", "below the legal floor of 2024 S1, 3 x 5.07 % = 15.21 %"),
        ("15.21", "2024-02-01", "2024-03-01", None),
        # 2026 S2 has no legal rate yet: the contract's rate stands, the floor is not guessed.
        (
            "12.00",
            "2026-07-01",
            "2026-07-20",
            "not checked against the legal floor: the legal interest rates of 2026 S2",
        ),
    ],
)
def test_a_contractual_rate_below_three_times_the_legal_rate_is_warned(
    rate: str, due_on: str, as_of: str, warning: str | None
) -> None:
    computed = late_penalties(business("1000", due_on, as_of, rate=rate), INTEREST_FIRST)
    assert computed.interest > 0
    if warning is None:
        assert computed.warnings == ()
    else:
        assert len(computed.warnings) == 1
        assert warning in computed.warnings[0]


@pytest.mark.parametrize(
    ("claim", "semester"),
    [
        # 2026 S2 carries the ECB rate only: consumer interest needs the legal rate.
        (consumer("1000", "2026-07-01", "2026-08-01", notice_on="2026-07-10"), "2026 S2"),
        # No row at all for 2027 S1.
        (business("1000", "2026-12-20", "2027-01-05"), "2027 S1"),
    ],
)
def test_a_missing_rate_is_refused_never_guessed(claim: Claim, semester: str) -> None:
    with pytest.raises(MissingRate, match=semester):
        late_penalties(claim, INTEREST_FIRST)


def test_2026_s2_has_its_b2b_rate_from_the_reference_with_its_source() -> None:
    row = PACKAGED.on(day("2026-08-01"))
    assert (row.ecb_mro, row.b2b_default, row.legal_private, row.legal_other) == (
        Decimal("2.40"),
        Decimal("12.40"),
        None,
        None,
    )
    assert "forexfundamentals.com" in row.source
    computed = late_penalties(business("1000", "2026-06-30", "2026-07-30"), INTEREST_FIRST)
    assert computed.interest == Decimal("10.19")  # 1,000 x 12.40 % x 30 / 365
    with pytest.raises(MissingRate, match="2026 S2"):
        PACKAGED.floor(day("2026-08-01"))


def test_the_statement_names_its_sources_and_rounds_to_the_cent() -> None:
    shown = statement(business(*WORKED, ("2025-08-10", "10000")), INTEREST_FIRST)
    assert (shown.interest, shown.indemnity, shown.total, shown.total_due) == (
        Decimal("172.51"),
        Decimal("40.00"),
        Decimal("212.51"),
        Decimal("212.51"),
    )
    assert [s.interest for s in shown.segments] == [Decimal("36.03"), Decimal("136.48")]
    assert shown.since == day("2025-06-21")
    assert any("L441-10" in s for s in shown.sources)
    assert any(s.startswith("2025 S2: ") for s in shown.sources)
    assert any("1343-1" in s for s in shown.sources)


# ---------------------------------------------------------------------------------- the rates file

OPERATOR = "\n".join(
    (
        HEADER,
        "2027-01-01,2.40,12.40,6.20,2.50,https://example.org/arrete-2027-s1",
        # Replaces the packaged 2026 S2 row, whose legal rates were missing.
        "2026-07-01,2.40,,6.60,2.60,https://example.org/arrete-2026-s2",
    )
)


def test_an_operator_file_adds_a_semester_and_overrides_a_packaged_one() -> None:
    rates = PACKAGED.extended_by(parse_rates(OPERATOR, "rates.csv"))
    assert rates.on(day("2027-03-01")).b2b_default == Decimal("12.40")
    assert rates.on(day("2026-08-01")).legal_other == Decimal("2.60")
    assert rates.on(day("2026-08-01")).b2b_default == Decimal("12.40")  # computed from the MRO
    assert rates.on(day("2026-08-01")).origin == "rates.csv"
    assert len(rates.rows) == len(PACKAGED.rows) + 1
    claim = consumer("1000", "2026-07-01", "2026-08-10", notice_on="2026-07-31")
    assert late_penalties(claim, policy_with(rates)).interest == Decimal("0.71")  # 1,000 x 2.60 % x 10/365


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("2027-13-01,2.40,12.40,,,src", "line 2, field semester_start: not a date"),
        ("2027-02-01,2.40,12.40,,,src", "line 2, field semester_start: 2027-02-01 is not a semester start"),
        ("2027-01-01,abc,12.40,,,src", "line 2, field mro_percent: not a number ('abc')"),
        ("2027-01-01,,12.40,,,src", "line 2, field mro_percent: required"),
        ("2027-01-01,24.0,,,,src", None),
        ("2027-01-01,240,250,,,src", "line 2, field mro_percent: 240 is not a percentage between 0 and 30"),
        ("2027-01-01,2.40,12.50,,,src", "line 2, field b2b_default_percent: must be the MRO + 10 points, 12.40"),
        ("2027-01-01,2.40,,-1,,src", "line 2, field legal_private_percent: -1 is not a percentage"),
        ("2027-01-01,2.40,,6.205,,src", "line 2, field legal_private_percent: 6.205 has more than two decimals"),
        ("2027-01-01,2.40,,,2.5,", "line 2, field source: required"),
    ],
)
def test_a_malformed_rates_line_is_refused_naming_line_and_field(line: str, error: str | None) -> None:
    text = f"{HEADER}\n{line}\n"
    if error is None:
        assert parse_rates(text, "rates.csv")[0].b2b_default == Decimal("34.0")
        return
    with pytest.raises(RatesFileError) as raised:
        parse_rates(text, "rates.csv")
    assert str(raised.value).startswith("rates.csv ")
    assert error in str(raised.value)


def test_a_rates_file_without_a_column_or_with_a_semester_twice_is_refused() -> None:
    with pytest.raises(RatesFileError, match=r"line 1 \(header\): missing column\(s\) legal_other_percent"):
        parse_rates("semester_start,mro_percent,b2b_default_percent,legal_private_percent,source\n", "f.csv")
    twice = f"{HEADER}\n2027-01-01,2.40,,,,a\n2027-07-01,2.40,,,,b\n2027-01-01,2.50,,,,c\n"
    with pytest.raises(RatesFileError, match=r"f\.csv line 4, field semester_start: 2027-01-01 already on line 2"):
        parse_rates(twice, "f.csv")


def test_rows_written_read_back_the_same() -> None:
    row = make_row(day("2027-07-01"), Decimal("2.15"), None, Decimal("2.40"), 'ECB, "press release"', "f.csv")
    assert parse_rates("\n".join(to_csv_lines([row])), "f.csv") == (row,)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        # 30 days before 2027 S1 (no row): warned, with 2026 S2's missing legal rates.
        ("2026-12-02", ["legal interest rates of 2026 S2", "no rates for 2027 S1 (starting on 2027-01-01)"]),
        ("2026-12-01", ["legal interest rates of 2026 S2"]),
        ("2027-01-04", ["no rates for 2027 S1 (in force since 2027-01-01)"]),
        ("2026-03-01", []),
        # 2026 S2 is a row: 30 days before it, only its missing legal rates are told.
        ("2026-06-15", ["legal interest rates of 2026 S2 (starting on 2026-07-01)"]),
    ],
)
def test_missing_rates_are_warned_from_thirty_days_before_their_semester(today: str, expected: list[str]) -> None:
    warnings = PACKAGED.warnings(day(today))
    assert len(warnings) == len(expected)
    for warning, fragment in zip(warnings, expected, strict=True):
        assert fragment in warning


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"penalty_rate_percent": "0"}, "greater than 0"),
        ({"penalty_rate_percent": "12.345"}, "decimal places"),
        ({"penalty_rate_percent": "12.00", "customer": {"kind": "consumer"}}, "business customers only"),
    ],
)
def test_a_contractual_rate_on_an_invoice_is_validated(changes: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        make_invoice(day("2026-03-01"), **changes)


def test_an_invoice_carries_its_contractual_rate() -> None:
    invoice: InvoiceInput = make_invoice(day("2026-03-01"), penalty_rate_percent="15.00")
    assert invoice.penalty_rate_percent == Decimal("15.00")
    assert invoice.customer.kind is CustomerKind.BUSINESS


# ------------------------------------------------------------------------------- a case, when read


def _case(kind: str = "business", **changes: object) -> CaseState:
    invoice = make_invoice(day("2025-06-20"), amount="10000.00", customer={"kind": kind}, **changes)
    return CaseState.open(invoice, DEFAULT_POLICY)


def test_a_case_status_read_carries_its_penalties_from_its_payments() -> None:
    case = _case(penalty_rate_percent="15.00")
    now = datetime(2025, 8, 10, 12, tzinfo=UTC)
    case.receive_payment(
        now, PaymentReceived(payment_id="P-1", amount=Decimal("4000.00"), received_on=day("2025-07-15"))
    )
    read = with_penalties(case.status(now), INTEREST_FIRST, now)
    assert read.penalties is not None
    assert read.payments == [PaymentMade(received_on=day("2025-07-15"), amount=Decimal("4000.00"))]
    assert read.penalties.rate == "contractual"
    expected = late_penalties(business(*WORKED, ("2025-07-15", "4000"), rate="15.00"), INTEREST_FIRST)
    assert read.penalties.interest == expected.interest
    assert read.penalties.total_due == to_cents(expected.total_due)


def test_a_consumer_case_counts_from_its_sent_formal_notice_and_a_cancelled_one_has_none() -> None:
    case = _case("consumer")
    now = datetime(2025, 8, 10, 12, tzinfo=UTC)
    assert claim_of(case.status(now), day("2025-08-10")).notice_on is None
    case.record(datetime(2025, 7, 15, 8, tzinfo=UTC), "formal_notice", "registered_letter", ActionStatus.SENT, None)
    read = with_penalties(case.status(now), INTEREST_FIRST, now)
    assert read.penalties is not None
    assert (read.penalties.interest, read.penalties.indemnity) == (Decimal("19.66"), Decimal("0.00"))
    case.cancel(now, InvoiceCancelled(reason="credit note"))
    cancelled = with_penalties(case.status(now), INTEREST_FIRST, now)
    assert (cancelled.penalties, cancelled.penalties_unavailable) == (None, "the invoice was cancelled")


def test_a_case_with_a_missing_rate_says_why_it_has_no_penalties() -> None:
    now = datetime(2027, 2, 1, 12, tzinfo=UTC)
    read = with_penalties(_case().status(now), INTEREST_FIRST, now)
    assert read.penalties is None
    assert read.penalties_unavailable is not None
    assert "2027 S1" in read.penalties_unavailable
