"""What messages state about penalties follows the same computation as `dunning penalties`: the
customer's contractual rate, the rates and imputation the worker loaded at start, a missing rate noted."""

import logging
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from activities import rendering
from activities.email import EmailRenderer
from domain.case import CaseState
from domain.ladder import Channel
from domain.penalties import Imputation, PenaltyPolicy
from domain.rates import PACKAGED, RateTable
from dunning.settings import PenaltySettings
from tests.conftest import make_invoice
from tests.ladders import DEFAULT_POLICY
from tests.penalty_helpers import HEADER
from tests.test_letters import CREDITOR
from worker import start_penalties

DUE = date(2025, 6, 20)
DAY = datetime(2025, 8, 10, 9, 0)
# 30 days before 2027 S1, which has no row; 2026 S2 lacks its legal rates.
TODAY = date(2026, 12, 2)


@pytest.fixture(autouse=True)
def packaged_policy() -> Iterator[None]:
    """Each test starts and ends on the policy a worker has before it loads the operator's."""
    default = PenaltyPolicy(PACKAGED, Imputation.INTEREST)
    rendering.use_penalty_policy(default)
    yield
    rendering.use_penalty_policy(default)


def email(step: str = "level2_email", **changes: object) -> tuple[str, tuple[str, ...]]:
    invoice = make_invoice(DUE, amount="10000.00", **changes)
    request = CaseState.open(invoice, DEFAULT_POLICY).message(DAY, step, Channel.EMAIL, "invoice-X")
    rendered = EmailRenderer(CREDITOR).render(request)
    return rendered.text, rendered.notes


def test_a_contractual_rate_is_the_rate_messages_state() -> None:
    text, notes = email(penalty_rate_percent="15.00")
    flat = " ".join(text.split())
    assert "au taux de 15,00 %, ainsi" in flat  # not called the ECB rate plus 10 points
    assert "majoré de 10 points" not in flat
    assert "les pénalités s'élèvent à 209,59 €" in flat  # 10,000 x 15 % x 51 / 365
    assert notes == ()


def test_a_contractual_rate_below_the_floor_is_noted_on_the_case() -> None:
    _, notes = email(penalty_rate_percent="5.00")
    # The example runs over two semesters: each floor is checked.
    assert len(notes) == 2
    assert "below the legal floor of 2025 S1, 3 x 3.71 % = 11.13 %" in notes[0]
    assert "below the legal floor of 2025 S2, 3 x 2.76 % = 8.28 %" in notes[1]


def test_messages_use_the_policy_the_worker_loaded(tmp_path: Path) -> None:
    text, _ = email()
    assert "172,51 €" in " ".join(text.split())
    # The operator's file replaces 2025 S2 (MRO 3.15: B2B 13.15 %): 10,000 x 13.15 % x 51 / 365 = 183.74.
    (tmp_path / "rates.csv").write_text(f"{HEADER}\n2025-07-01,3.15,,6.65,2.76,https://example.org/fix\n")
    start_penalties(PenaltySettings(var_dir=tmp_path, rates_file_override=None, imputation="principal"), TODAY)
    text, _ = email()
    assert "183,74 €" in " ".join(text.split())


def test_a_semester_without_rates_states_the_basis_and_notes_it() -> None:
    rendering.use_penalty_policy(PenaltyPolicy(RateTable(PACKAGED.rows[:4]), Imputation.INTEREST))
    text, notes = email()
    flat = " ".join(text.split())
    assert "de refinancement de la BCE majoré de 10 points" in flat
    assert "s'élèvent" not in flat
    assert notes == ("penalties not quantified: no verified French late-payment rates for 2025 S1: add them with"
                     " `dunning rates add`",)  # fmt: skip


def test_the_worker_refuses_a_malformed_rates_file_and_warns_of_missing_rates(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "rates.csv"
    bad.write_text(f"{HEADER}\n2027-01-01,2.40,,,,\n")
    with pytest.raises(SystemExit, match=r"worker not started: .*rates\.csv line 2, field source: required"):
        start_penalties(PenaltySettings(var_dir=tmp_path, rates_file_override=None, imputation="interest"), TODAY)
    bad.unlink()
    with caplog.at_level(logging.WARNING):
        start_penalties(PenaltySettings(var_dir=tmp_path, rates_file_override=None, imputation="interest"), TODAY)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("rates: the legal interest rates of 2026 S2")
    assert messages[1].startswith("rates: no rates for 2027 S1 (starting on 2027-01-01)")
