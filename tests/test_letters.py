"""The registered letters carry what French practice requires of them (fr-late-payment-law.md §5)."""

from datetime import date, timedelta
from pathlib import Path

from activities.ledger import SentLedger
from activities.letters import LetterActivities
from activities.letters.postal import OutboxLetters
from domain.calendar import send_slot
from domain.case import CaseState
from domain.ladder import Channel, current_version
from dunning.settings import Creditor
from tests.conftest import make_invoice

DUE = date(2026, 2, 4)
NOTICE_DAY = send_slot(DUE + timedelta(days=35))


def formal_notice(tmp_path: Path, **customer: str) -> str:
    case = CaseState.open(make_invoice(DUE, customer=customer), current_version())
    request = case.message(NOTICE_DAY, "formal_notice", Channel.REGISTERED_LETTER, "invoice-X")
    letters = LetterActivities(SentLedger(tmp_path / "l.sqlite3"), OutboxLetters(tmp_path), Creditor())
    return letters.render(request).html


def test_business_formal_notice_has_every_checklist_item(tmp_path: Path) -> None:
    html = formal_notice(tmp_path)
    deadline = (NOTICE_DAY + timedelta(days=8)).date()
    assert "MISE EN DEMEURE DE PAYER" in html
    assert f"au plus tard le <strong>{deadline.day} mars 2026</strong>" in html
    assert "Boulangerie Martin SARL" in html
    assert "75011 Paris" in html
    assert "SIREN 732829320" in html
    assert "1\u202f200,00\xa0€" in html
    assert "12,15 %" in html
    assert "L441-10" in html
    assert "D441-5" in html
    assert "40,00\xa0€" in html
    assert "injonction de payer" in html
    assert "article 1344" in html
    assert "RF69 F202 6004 2" in html
    assert "1231-6" not in html


def test_consumer_formal_notice_claims_interest_from_notice_and_no_indemnity(tmp_path: Path) -> None:
    html = formal_notice(tmp_path, kind="consumer", language="en", name="Claire <Durand>")
    assert "FORMAL NOTICE TO PAY" in html
    assert "1231-6" in html
    assert "L441-10" not in html
    assert "indemnity" not in html
    # Customer-supplied text is escaped in HTML letters.
    assert "Claire &lt;Durand&gt;" in html
