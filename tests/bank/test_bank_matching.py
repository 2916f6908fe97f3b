from datetime import date
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from starter.bank import Allocation, BankLine, LineSource, OpenInvoice, ReconciliationPlan, Reversal, match_lines
from starter.bank.matching import PriorPayment, normalise_name

ACCOUNT = "FR7630003036200002026123456"
DAY = date(2026, 3, 4)
_ids = count(1)


def line(amount: str, **fields: Any) -> BankLine:
    number = next(_ids)
    values: dict[str, Any] = {
        "payment_id": f"{ACCOUNT}/REF{number}",
        "id_kind": "bank_reference",
        "account_iban": ACCOUNT,
        "booking_date": DAY,
        "value_date": DAY,
        "amount": Decimal(amount),
        "currency": "EUR",
        "direction": "credit",
        "reversal": False,
        "status": "booked",
        "source": LineSource(file="t.xml", entry=number),
    }
    return BankLine(**(values | fields))


def invoice(invoice_id: str, balance: str, **fields: Any) -> OpenInvoice:
    values: dict[str, Any] = {
        "invoice_id": invoice_id,
        "customer_id": "C-1",
        "customer_name": "Garage Dupont",
        "payment_reference": None,
        "balance": Decimal(balance),
        "currency": "EUR",
        "due_on": date(2026, 2, 1),
    }
    return OpenInvoice(**(values | fields))


def match(
    lines: list[BankLine],
    invoices: list[OpenInvoice],
    *,
    ibans: dict[str, str] | None = None,
    prior: list[PriorPayment] | None = None,
) -> ReconciliationPlan:
    return match_lines(lines, invoices, known_payer_ibans=ibans or {}, prior_payments=prior or [])


def shares(plan: ReconciliationPlan) -> list[tuple[str, str, Decimal, str, str, Decimal]]:
    return [(a.payment_id, a.invoice_id, a.amount, a.rule, a.outcome, a.excess) for a in plan.allocations]


def test_rule_1_structured_reference_is_validated() -> None:
    invoices = [invoice("F-2026-0051", "480.00", payment_reference="RF20F20260051")]
    good = line("480.00", structured_reference="RF20F20260051")
    bad_check_digits = line("480.00", structured_reference="RF21F20260051")

    plan = match([good, bad_check_digits], invoices)

    assert shares(plan) == [
        (good.payment_id, "F-2026-0051", Decimal("480.00"), "structured_reference", "paid", Decimal(0))
    ]
    assert [item.line for item in plan.unmatched] == [bad_check_digits]


def test_rule_1_unknown_reference_says_so() -> None:
    plan = match([line("10.00", structured_reference="RF69F20260042")], [invoice("F-1", "10.00")])

    assert plan.unmatched[0].reason.startswith(
        "structured reference RF69F20260042 matches no open invoice in EUR; no invoice reference"
    )


@pytest.mark.parametrize("text", ["REGLT RF20 F202 6005 1", "rf20f20260051 merci", "VIR/RF20F20260051/DUPONT"])
def test_rule_2_reference_typed_in_text(text: str) -> None:
    invoices = [invoice("F-2026-0051", "480.00", payment_reference="RF20F20260051")]

    plan = match([line("480.00", remittance_text=text)], invoices)

    assert [(a.invoice_id, a.rule) for a in plan.allocations] == [("F-2026-0051", "reference_in_text")]


@pytest.mark.parametrize("text", ["FACT F-2026-0042", "F20260042", "f 2026 0042", "facture F2026-0042."])
def test_rule_3_invoice_number_in_text(text: str) -> None:
    plan = match([line("100.00", remittance_text=text)], [invoice("F-2026-0042", "1200.00")])

    assert [(a.invoice_id, a.rule, a.outcome) for a in plan.allocations] == [
        ("F-2026-0042", "invoice_number", "partially_paid")
    ]


def test_rule_3_invoice_number_as_a_structured_reference_that_is_not_an_rf() -> None:
    plan = match([line("100.00", structured_reference="F-2026-0042")], [invoice("F-2026-0042", "100.00")])

    assert [(a.invoice_id, a.rule, a.reference) for a in plan.allocations] == [
        ("F-2026-0042", "invoice_number", "F-2026-0042")
    ]


@pytest.mark.parametrize("text", ["F-2026-00421", "F-2026-004", "XF-2026-0042 9"])
def test_rule_3_needs_the_whole_number(text: str) -> None:
    plan = match([line("100.00", remittance_text=text)], [invoice("F-2026-0042", "1200.00")])

    assert plan.allocations == []


def test_rule_3_several_numbers_split_by_balances() -> None:
    invoices = [invoice("F-2026-0060", "2500.00"), invoice("F-2026-0061", "300.00")]
    paid = line("2800.00", remittance_text="REGLEMENT FACTURES F-2026-0060 ET F-2026-0061")

    plan = match([paid], invoices)

    assert shares(plan) == [
        (f"{paid.payment_id}:F-2026-0060", "F-2026-0060", Decimal("2500.00"), "invoice_number", "paid", Decimal(0)),
        (f"{paid.payment_id}:F-2026-0061", "F-2026-0061", Decimal("300.00"), "invoice_number", "paid", Decimal(0)),
    ]
    assert {a.line_id for a in plan.allocations} == {paid.payment_id}


def test_rule_3_several_numbers_oldest_due_first_when_amounts_differ() -> None:
    invoices = [
        invoice("F-3", "300.00", due_on=date(2026, 3, 1)),
        invoice("F-1", "500.00", due_on=date(2026, 1, 1)),
        invoice("F-2", "400.00", due_on=date(2026, 2, 1)),
    ]
    short = line("700.00", remittance_text="F-3 F-1 F-2")
    long = line("1300.00", remittance_text="F-1, F-3")

    plan = match([short, long], invoices)

    assert shares(plan) == [
        (f"{short.payment_id}:F-1", "F-1", Decimal("500.00"), "invoice_number", "paid", Decimal(0)),
        (f"{short.payment_id}:F-2", "F-2", Decimal("200.00"), "invoice_number", "partially_paid", Decimal(0)),
        # F-1 is settled: all goes to F-3, the excess recorded on it and on nothing else
        (long.payment_id, "F-3", Decimal("1300.00"), "invoice_number", "overpaid", Decimal("1000.00")),
    ]


def test_rule_4_payer_name_and_exact_amount() -> None:
    invoices = [
        invoice("F-2026-0077", "89.00", customer_id="P-0102", customer_name="Claire Durand"),
        invoice("F-OTHER", "45.00", customer_id="P-0102", customer_name="Claire Durand"),
    ]
    names = ["MME DURAND CLAIRE", "Durand, Claire", "MADAME CLAIRE DURAND", "durând claire"]

    plans = [match([line("89.00", payer_name=name)], invoices) for name in names]

    assert [[(a.invoice_id, a.rule) for a in plan.allocations] for plan in plans] == [
        [("F-2026-0077", "payer_and_amount")]
    ] * 4
    assert normalise_name("BOULANGERIE MARTIN SARL") == normalise_name("Boulangerie Martin")


def test_rule_4_needs_exactly_one_invoice_with_that_amount() -> None:
    invoices = [invoice("F-1", "89.00"), invoice("F-2", "89.00"), invoice("F-3", "50.00")]

    plan = match([line("89.00", payer_name="GARAGE DUPONT"), line("60.00", payer_name="GARAGE DUPONT")], invoices)

    assert plan.allocations == []
    assert len(plan.unmatched) == 2


def test_rule_4_known_iban_and_iban_learned_in_the_same_file() -> None:
    invoices = [
        invoice("F-1", "100.00", customer_id="C-1", customer_name="Atelier Leroy"),
        invoice("F-2", "250.00", customer_id="C-1", customer_name="Atelier Leroy"),
        invoice("F-9", "75.00", customer_id="C-9", customer_name="Autre"),
    ]
    by_number = line("100.00", remittance_text="F-1", payer_name="M LEROY J", payer_iban="FR76X")
    by_learned_iban = line("250.00", payer_name="M LEROY J", payer_iban="FR76X")
    by_known_iban = line("75.00", payer_name="SOMEONE ELSE", payer_iban="FR76KNOWN")

    plan = match([by_number, by_learned_iban, by_known_iban], invoices, ibans={"FR76KNOWN": "C-9"})

    assert [(a.invoice_id, a.rule) for a in plan.allocations] == [
        ("F-1", "invoice_number"),
        ("F-2", "payer_and_amount"),
        ("F-9", "payer_and_amount"),
    ]


def test_rules_apply_in_order() -> None:
    invoices = [
        invoice("F-1", "100.00", payment_reference="RF98F1"),
        invoice("F-2", "100.00", payment_reference="RF71F2"),
        invoice("F-3", "100.00"),
    ]

    plan = match([line("100.00", structured_reference="RF71F2", remittance_text="RF98F1 F-3")], invoices)

    assert [(a.invoice_id, a.rule) for a in plan.allocations] == [("F-2", "structured_reference")]


def test_balances_move_within_the_file() -> None:
    invoices = [invoice("F-1", "100.00", payment_reference="RF98F1")]

    plan = match([line("60.00", remittance_text="F-1"), line("60.00", remittance_text="F-1")], invoices)

    assert [(a.outcome, a.excess) for a in plan.allocations] == [("partially_paid", 0), ("overpaid", Decimal("20.00"))]


def test_currency_must_agree() -> None:
    plan = match([line("100.00", remittance_text="F-1", currency="USD")], [invoice("F-1", "100.00")])

    assert plan.allocations == []
    assert len(plan.unmatched) == 1


def test_what_is_not_a_payment_is_ignored_with_a_reason() -> None:
    lines = [
        line("10.00", status="pending", booking_date=None),
        line("10.00", status="info"),
        line("10.00", direction="debit"),
        line("10.00", direction="credit", reversal=True),
        line("0.00", remittance_text="F-1"),
    ]

    plan = match(lines, [invoice("F-1", "10.00")])

    assert [item.reason for item in plan.ignored] == [
        "pending: not booked, not a payment yet",
        "info: not booked, not a payment yet",
        "debit without reversal indicator",
        "reversal of a debit: not a customer payment",
        "zero amount",
    ]
    assert plan.signals == []


def test_reversal_in_the_same_file_reopens_the_invoice() -> None:
    invoices = [invoice("F-1", "480.00", payment_reference="RF98F1")]
    payment = line("200.00", structured_reference="RF98F1", tx_id="TX1", payer_iban="FR76P")
    reversal = line("200.00", direction="debit", reversal=True, tx_id="TX1", payer_iban="FR76P")
    again = line("500.00", remittance_text="RF98 F1")

    plan = match([payment, reversal, again], invoices)

    assert plan.signals == [
        plan.allocations[0],
        Reversal(
            payment_id=payment.payment_id,
            line_id=payment.payment_id,
            invoice_id="F-1",
            amount=Decimal("200.00"),
            currency="EUR",
            reversed_on=DAY,
            reversal_line_id=reversal.payment_id,
            reason=f"reversed by {reversal.payment_id}",
        ),
        plan.allocations[1],
    ]
    assert (plan.allocations[1].outcome, plan.allocations[1].excess) == ("overpaid", Decimal("20.00"))


def test_reversal_of_an_earlier_split_payment_by_end_to_end_id() -> None:
    earlier = line("2800.00", end_to_end_id="E2E-1", payer_iban="FR76P")
    allocations = (
        Allocation(
            payment_id=f"{earlier.payment_id}:F-1",
            line_id=earlier.payment_id,
            invoice_id="F-1",
            customer_id="C-1",
            amount=Decimal("2500.00"),
            currency="EUR",
            received_on=DAY,
            reference="",
            rule="invoice_number",
            outcome="paid",
            excess=Decimal(0),
        ),
        Allocation(
            payment_id=f"{earlier.payment_id}:F-2",
            line_id=earlier.payment_id,
            invoice_id="F-2",
            customer_id="C-1",
            amount=Decimal("300.00"),
            currency="EUR",
            received_on=DAY,
            reference="",
            rule="invoice_number",
            outcome="paid",
            excess=Decimal(0),
        ),
    )
    reversal = line(
        "2800.00", direction="debit", reversal=True, end_to_end_id="E2E-1", payer_iban="FR76P", return_reason="AC04"
    )

    # F-1 and F-2 were settled and are no longer open: the reversal still names them.
    plan = match([reversal], [], prior=[PriorPayment(line=earlier, allocations=allocations)])

    assert [(r.payment_id, r.invoice_id, r.amount, r.reason) for r in plan.reversals] == [
        (
            f"{earlier.payment_id}:F-1",
            "F-1",
            Decimal("2500.00"),
            f"reversed by {reversal.payment_id}, return reason AC04",
        ),
        (
            f"{earlier.payment_id}:F-2",
            "F-2",
            Decimal("300.00"),
            f"reversed by {reversal.payment_id}, return reason AC04",
        ),
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"tx_id": "OTHER"},
        {"tx_id": "TX1", "amount": Decimal("199.00")},
        {"tx_id": "TX1", "payer_iban": "FR76SOMEONEELSE"},
        {"end_to_end_id": "NOTPROVIDED"},
    ],
)
def test_reversal_without_its_payment_is_queued_not_dropped(fields: dict[str, Any]) -> None:
    payment = line("200.00", tx_id="TX1", end_to_end_id="NOTPROVIDED", payer_iban="FR76P")
    reversal = line("200.00", direction="debit", reversal=True, payer_iban="FR76P").model_copy(update=fields)

    plan = match([payment, reversal], [])

    assert plan.reversals == []
    assert [item.line for item in plan.unmatched] == [payment, reversal]
    assert plan.unmatched[1].reason.startswith(("reversal: no recorded payment", "reversal without TxId"))


def test_reversal_of_an_unmatched_payment() -> None:
    payment = line("150.00", tx_id="TX5")
    reversal = line("150.00", direction="debit", reversal=True, tx_id="TX5")

    plan = match([payment, reversal], [])

    assert [(r.payment_id, r.invoice_id) for r in plan.reversals] == [(payment.payment_id, None)]


def test_report_totals() -> None:
    invoices = [invoice("F-1", "100.00"), invoice("F-2", "50.00"), invoice("F-3", "10.00")]
    lines = [
        line("100.00", remittance_text="F-1"),
        line("20.00", remittance_text="F-2"),
        line("15.00", remittance_text="F-3"),
        line("7.00"),
        line("3.00", direction="debit"),
    ]

    report = match(lines, invoices).report()

    assert (report.paid.count, report.paid.total) == (1, {"EUR": Decimal("100.00")})
    assert (report.partially_paid.count, report.partially_paid.total) == (1, {"EUR": Decimal("20.00")})
    assert (report.overpaid.count, report.overpaid.total, report.excess) == (
        1,
        {"EUR": Decimal("15.00")},
        {"EUR": Decimal("5.00")},
    )
    assert (report.unmatched.count, report.ignored.count, report.reversed.count) == (1, 1, 0)
