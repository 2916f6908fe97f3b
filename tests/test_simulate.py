"""`dunning simulate`: the real workflow and worker on the time-skipping server, read back as a timeline."""

import json
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.calendar import PARIS, add_business_days, paris_date, public_holidays, send_slot
from domain.models import ActionStatus, CustomerKind, InvoiceInput, Outcome, PaymentMade
from domain.penalties import Claim, Imputation, PenaltyPolicy, late_penalties
from domain.policy_file import load_policy
from domain.rates import PACKAGED
from starter.cli import app
from starter.simulate import simulate_invoice
from starter.simulation.events import EventError, parse_event
from starter.simulation.shift import Shift, find_shift
from starter.simulation.timeline import Row
from tests.conftest import clear_due_date, make_invoice
from tests.ladders import DEFAULT_POLICY, STANDARD

BY_AMOUNT = load_policy(Path(__file__).parent.parent / "samples" / "policies" / "by-amount.toml")
runner = CliRunner()


@pytest.fixture(autouse=True)
def own_var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The operator's rates file lives there: the tests compute with the packaged rates only.
    monkeypatch.setenv("DUNNING_VAR_DIR", str(tmp_path / "var"))


def steps_of(rows: list[Row]) -> list[str]:
    return [r.step for r in rows if r.status != ActionStatus.RECORDED]


def ahead() -> date:
    """A due date whose whole ladder is ahead of the server's clock, with no two steps on one morning."""
    return clear_due_date(date.today() + timedelta(days=30))


async def test_the_default_business_invoice_walks_every_step_to_the_hand_over() -> None:
    due = ahead()
    started = time.perf_counter()
    result = await simulate_invoice(make_invoice(due), DEFAULT_POLICY, [], approve=False)
    elapsed = time.perf_counter() - started
    print(f"default business invoice, preventive_email to litigation_handover: {elapsed:.2f} s")

    assert steps_of(result.rows) == [s.name for s in STANDARD]
    assert result.run.status.outcome is Outcome.LITIGATION
    assert result.clock.shift == Shift(0)
    steps = {r.step: r for r in reversed(result.rows) if r.status != ActionStatus.RECORDED}
    for step in STANDARD:
        planned = send_slot(due + timedelta(days=step.offset_days))
        assert planned <= steps[step.name].at < planned + timedelta(minutes=2), step.name
        assert steps[step.name].at.tzinfo is not None
    assert steps["preventive_email"].sent is not None
    assert steps["preventive_email"].sent.to == "e-mail"
    assert steps["preventive_email"].amounts == {"balance": Decimal("1200.00")}
    assert steps["level2_sms"].sent is not None
    assert steps["level2_sms"].sent.to == "mobile"
    assert steps["formal_notice"].sent is not None
    assert "mise en demeure" in steps["formal_notice"].sent.summary
    # From level 2 on a business debtor is told of the indemnity, in every channel's words.
    for name in ("level2_email", "level2_sms", "level2_registered_letter", "formal_notice"):
        assert steps[name].amounts["indemnity"] == Decimal("40.00"), name
    assert "indemnity" not in steps["level1_email"].amounts
    assert steps["level1_call"].status == "open"
    assert steps["level1_call"].sent is None
    assert steps["litigation_handover"].sent is not None
    assert steps["litigation_handover"].sent.to == "court"
    assert [r.stage_after for r in result.rows if r.status != ActionStatus.RECORDED] == [s.stage for s in STANDARD]


async def test_an_invoice_already_under_way_runs_on_a_same_calendar_and_says_the_real_amounts() -> None:
    invoice = make_invoice(date(2026, 2, 4))  # level 2 in 2026 S1, whose rates are packaged
    result = await simulate_invoice(invoice, DEFAULT_POLICY, [], approve=False)

    shift = result.clock.shift
    assert shift.years > 0
    steps = {r.step: r for r in reversed(result.rows) if r.status != ActionStatus.RECORDED}
    assert steps_of(result.rows) == [s.name for s in STANDARD]
    for step in STANDARD:
        planned = send_slot(invoice.due_on + timedelta(days=step.offset_days))
        assert planned <= steps[step.name].at < planned + timedelta(minutes=2), step.name
    letter = steps["level2_registered_letter"]
    claim = Claim(
        kind=CustomerKind.BUSINESS,
        principal=invoice.amount,
        due_on=invoice.due_on,
        as_of=paris_date(letter.at),
        payments=(),
        rate_percent=None,
    )
    expected = late_penalties(claim, PenaltyPolicy(PACKAGED, Imputation.INTEREST)).interest
    assert letter.amounts["penalties"] == expected > 0
    sent = steps["preventive_email"].sent
    assert sent is not None
    assert "février 2026" in sent.summary
    assert str(invoice.due_on.year + shift.years) not in sent.summary


async def test_a_payment_injected_stops_the_case_settled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Provider settings in the environment change nothing: every channel still writes to the outbox.
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.real-key")
    monkeypatch.setenv("SENDGRID_API_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC-real")
    monkeypatch.setenv("MERCI_FACTEUR_SERVICE_ID", "real-service")
    monkeypatch.setenv("DUNNING_OUTBOX_DIR", str(tmp_path / "real-outbox"))
    monkeypatch.setenv("DUNNING_LEDGER_URL", "postgresql://nobody@127.0.0.1:9/ledger")
    due = ahead()
    paid_on = due + timedelta(days=5)
    event = parse_event(1, f"{paid_on}:payment")
    result = await simulate_invoice(make_invoice(due), DEFAULT_POLICY, [event], approve=False)

    assert result.run.status.outcome is Outcome.SETTLED
    [payment] = [r for r in result.rows if r.step == "payment_received"]
    assert payment.at.astimezone(PARIS).date() == paid_on
    after = [r for r in result.rows if r.at > payment.at and r.status != ActionStatus.RECORDED]
    assert after == []
    assert result.rows[-1].stage_after == "settled"
    assert result.run.status.payments == [PaymentMade(received_on=paid_on, amount=Decimal("1200.00"))]
    assert not (tmp_path / "real-outbox").exists()
    assert all(r.sent is None or r.sent.to in ("e-mail", "mobile") for r in result.rows)


async def test_a_policy_file_changes_the_timeline() -> None:
    invoice = make_invoice(ahead(), amount="300.00")
    default = await simulate_invoice(invoice, DEFAULT_POLICY, [], approve=False)
    by_amount = await simulate_invoice(invoice, BY_AMOUNT, [], approve=False)

    assert "level2_registered_letter" in steps_of(default.rows)
    assert "level2_call" not in steps_of(default.rows)
    assert "level2_call" in steps_of(by_amount.rows)
    assert "level2_registered_letter" not in steps_of(by_amount.rows)
    assert by_amount.run.status.policy_version == BY_AMOUNT.version
    assert by_amount.run.status.outcome is Outcome.LITIGATION


async def test_a_policy_handing_over_to_an_agency_none_configured_still_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    # by-amount sends bad payers to the collection agency; with none configured the simulation lends a
    # stand-in one rather than hold the hand-over, retried every business day, for ever.
    monkeypatch.delenv("DUNNING_AGENCY_NAME", raising=False)
    monkeypatch.delenv("DUNNING_AGENCY_EMAIL", raising=False)
    invoice = make_invoice(ahead(), customer={"segment": "bad_payer"})
    result = await simulate_invoice(invoice, BY_AMOUNT, [], approve=False)
    assert result.run.status.outcome is Outcome.LITIGATION
    [handover] = [r for r in result.rows if r.step == "litigation_handover"]
    assert handover.sent is not None
    assert handover.sent.to == "agency"


async def test_a_gated_notice_stops_the_run_waiting_until_approve_gives_the_go_ahead() -> None:
    invoice = make_invoice(ahead(), customer={"segment": "strategic"})
    waiting = await simulate_invoice(invoice, DEFAULT_POLICY, [], approve=False)
    approved = await simulate_invoice(invoice, DEFAULT_POLICY, [], approve=True)

    assert waiting.run.status.outcome is None
    assert waiting.run.waiting is not None
    assert "approval of formal_notice" in waiting.run.waiting
    assert waiting.rows[-1].step == "formal_notice"
    assert waiting.rows[-1].stage_after == "awaiting_approval"
    assert approved.run.status.outcome is Outcome.LITIGATION
    assert "escalation_approved" in [r.step for r in approved.rows]


async def test_a_notice_reported_presented_late_moves_the_hand_over_to_its_deadline() -> None:
    due = ahead()
    posted = send_slot(due + timedelta(days=35))
    presented = (posted + timedelta(days=23)).astimezone(PARIS).date()
    event = parse_event(1, f'{presented}T10:00:notice:{{"status": "unclaimed"}}')
    result = await simulate_invoice(make_invoice(due), DEFAULT_POLICY, [event], approve=False)

    [handover] = [r for r in result.rows if r.step == "litigation_handover"]
    deadline = send_slot(add_business_days(presented + timedelta(days=8), 1))
    assert deadline > send_slot(due + timedelta(days=60))
    assert deadline <= handover.at < deadline + timedelta(minutes=2)
    assert any(r.detail and r.detail.startswith("letter unclaimed") for r in result.rows)


def write_invoices(path: Path, invoices: list[InvoiceInput]) -> Path:
    path.write_text("".join(i.model_dump_json() + "\n" for i in invoices), encoding="utf-8")
    return path


def test_json_prints_the_timeline_as_a_list(tmp_path: Path) -> None:
    due = ahead()
    invoice = write_invoices(tmp_path / "invoice.jsonl", [make_invoice(due)])
    paid_on = due + timedelta(days=10)
    result = runner.invoke(
        app, ["simulate", "--invoice", str(invoice), "--event", f'{paid_on}:payment:{{"amount": "200.00"}}', "--json"]
    )

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    assert rows[0]["step"] == "preventive_email"
    assert rows[0]["weekday"] == f"{date.fromisoformat(rows[0]['date']):%a}"
    assert {"at", "date", "step", "channel", "status", "sent", "amounts", "stage_after"} <= set(rows[0])
    [payment] = [r for r in rows if r["step"] == "payment_received"]
    assert payment["date"] == paid_on.isoformat()
    assert rows[-1]["step"] == "litigation_handover"
    assert Decimal(rows[-1]["amounts"]["balance"]) < Decimal("1200.00")


def test_a_book_counts_each_policy_s_messages_notices_and_hand_overs(tmp_path: Path) -> None:
    due = ahead()
    book = write_invoices(
        tmp_path / "book.jsonl",
        [
            make_invoice(due),
            make_invoice(due, amount="300.00"),
            make_invoice(due, amount="2500.00", customer={"segment": "strategic"}),
        ],
    )
    policies = [str(Path("domain/data/policies/default.toml")), "samples/policies/by-amount.toml"]
    result = runner.invoke(
        app, ["simulate", "--book", str(book), "--policy", policies[0], "--policy", policies[1], "--json"]
    )

    assert result.exit_code == 0, result.output
    default, by_amount = json.loads(result.stdout)
    assert default["policy"] == DEFAULT_POLICY.version
    assert by_amount["policy"] == BY_AMOUNT.version
    assert default["cases"] == by_amount["cases"] == 3
    # Under 500 EUR, by-amount calls instead of the registered reminder; the strategic case's notice,
    # waiting for a person under the default policy, is sent under by-amount: 2 + 2 + 1 and 2 + 1 + 2.
    assert default["messages"]["registered_letter"] == by_amount["messages"]["registered_letter"] == 5
    assert by_amount["calls"] == default["calls"] + 1 == 3 + 3 + 3 + 1
    # The default policy's strategic notice waits for a person; by-amount gates it from 20,000 EUR only.
    assert (default["formal_notices"], default["handovers"], default["awaiting_approval"]) == (2, 2, 1)
    assert (by_amount["formal_notices"], by_amount["handovers"], by_amount["awaiting_approval"]) == (3, 3, 0)
    assert default["messages"]["sms"] == by_amount["messages"]["sms"] == 2


def test_an_event_that_cannot_apply_is_refused_naming_its_position_and_field() -> None:
    with pytest.raises(EventError, match=r"--event 2 \(payment\): amount: Input should be greater than 0"):
        parse_event(2, '2027-03-20:payment:{"amount": "-1"}')
    with pytest.raises(EventError, match=r"--event 1 \(segment\): segment: Field required"):
        parse_event(1, "2027-03-20:segment")
    with pytest.raises(EventError, match="unknown type 'refund'"):
        parse_event(3, "2027-03-20:refund")
    assert parse_event(1, "2027-03-20T14:15:dispute_opened").at.hour == 14


def test_the_shift_keeps_weekdays_and_public_holidays_over_the_window() -> None:
    first, last = date(2026, 1, 1), date(2026, 12, 31)
    shift = find_shift(first, last, date(2026, 12, 2))
    assert shift.years > 0
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        moved = shift.forward(day)
        assert moved.weekday() == day.weekday()
        assert (day in public_holidays(day.year)) == (moved in public_holidays(moved.year))
    shifted = f"échue le 4 février {2026 + shift.years}, 2 037,00 €"
    assert shift.text_back(shifted) == "échue le 4 février 2026, 2 037,00 €"
