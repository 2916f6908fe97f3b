"""The registered letters carry what French practice requires of them (fr-late-payment-law.md §5),
read back from the PDF that is posted."""

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.case_file import CaseFile
from activities.ledger import SentLedger
from activities.letters import LetterActivities
from activities.letters.postal import Letter, OutboxLetters
from domain.calendar import send_slot
from domain.case import CaseState
from domain.delivery import MessageRequest
from domain.ladder import Channel
from dunning.settings import Creditor
from tests.conftest import make_invoice
from tests.ladders import DEFAULT_POLICY
from tests.pdf_reading import pdf_text

DUE = date(2026, 2, 4)
NOTICE_DAY = send_slot(DUE + timedelta(days=35))
# The worked example of the law reference (§3): 10,000.00 EUR due 2025-06-20, 51 days late on
# 2025-08-10, across the 2025 S1 / S2 change of rate.
EXAMPLE_DUE = date(2025, 6, 20)
EXAMPLE_DAY = datetime(2025, 8, 10, 9, 0)
CREDITOR = Creditor(
    name="Exemple Services SAS",
    legal_form="SAS au capital de 10 000 €",
    siren="732829320",
    rcs="RCS Paris 732 829 320",
    address="10 rue de la Paix, 75002 Paris",
    city="Paris",
    signatory_name="Claire Lemaire",
    signatory_role="Responsable du recouvrement",
)


def notice_request(
    step: str = "formal_notice", now: datetime = NOTICE_DAY, due: date = DUE, **changes: Any
) -> MessageRequest:
    invoice = make_invoice(due, **({"order_reference": "BC-2025-118"} | changes))
    return CaseState.open(invoice, DEFAULT_POLICY).message(now, step, Channel.REGISTERED_LETTER, "invoice-X")


def render(tmp_path: Path, request: MessageRequest) -> Letter:
    letters = LetterActivities(
        SentLedger(tmp_path / "l.sqlite3"), OutboxLetters(tmp_path), CREDITOR, CaseFile(tmp_path / "cases")
    )
    return letters.render(request)


def test_business_formal_notice_has_every_checklist_item(tmp_path: Path) -> None:
    request = notice_request(customer={"siren": "552 100 554"})
    text = pdf_text(render(tmp_path, request).pdf)
    deadline = (NOTICE_DAY + timedelta(days=8)).date()
    expected = [
        "mise en demeure de payer",
        "Paris, le 11 mars 2026",
        # Creditor: name, legal form, SIREN, RCS, address.
        "Exemple Services SAS",
        "SAS au capital de 10 000 €",
        "SIREN 732 829 320",
        "RCS Paris 732 829 320",
        "10 rue de la Paix, 75002 Paris",
        # Debtor: identity, SIREN, address.
        "Boulangerie Martin SARL, SIREN 552 100 554",
        "12 rue Oberkampf 75011 Paris",
        # Invoice and order references.
        f"facture n° {request.invoice_id} émise le 5 janvier 2026 et échue le 4 février 2026",
        "Commande / contrat BC-2025-118",
        # Amounts split into principal, penalties (period, rate), indemnity; legal bases.
        "Principal restant dû (montant facturé 1\u202f200,00\xa0€) 1\u202f200,00\xa0€",
        "du 5 février 2026 au 11 mars 2026 35 1\u202f200,00\xa0€ 12,15 % 13,98\xa0€",
        "L441-10 du Code de commerce",
        "(article D441-5 du Code de commerce) 40,00\xa0€",
        "Total au 11 mars 2026 1\u202f253,98\xa0€",
        "article 1344 du Code civil",
        # Deadline, how to pay, next step, signature.
        f"au plus tard le {deadline.day} mars 2026",
        "FR7630003036200002026123456",
        "RF69 F202 6004 2",
        "injonction de payer",
        "Claire Lemaire Responsable du recouvrement Exemple Services SAS",
    ]
    assert [item for item in expected if item not in text] == []
    assert "1231-6" not in text


def test_english_business_notice_has_the_same_items(tmp_path: Path) -> None:
    request = notice_request(customer={"language": "en", "siren": "552100554"})
    text = pdf_text(render(tmp_path, request).pdf)
    expected = [
        "formal notice to pay",
        "Paris, 11 March 2026",
        "SIREN 732 829 320",
        "RCS Paris 732 829 320",
        "Boulangerie Martin SARL, SIREN 552 100 554",
        "Order / contract BC-2025-118",
        "5 February 2026 to 11 March 2026 35 €1,200.00 12.15 % €13.98",
        "(article D441-5 of the French Commercial Code) €40.00",
        "article 1344 of the French Civil Code",
        "Claire Lemaire Responsable du recouvrement",
    ]
    assert [item for item in expected if item not in text] == []


def test_one_penalty_line_per_semester_segment(tmp_path: Path) -> None:
    request = notice_request(now=EXAMPLE_DAY, due=EXAMPLE_DUE, amount="10000.00")
    text = pdf_text(render(tmp_path, request).pdf)
    assert "du 21 juin 2025 au 30 juin 2025 10 10\u202f000,00\xa0€ 13,15 % 36,03\xa0€" in text
    assert "du 1 juillet 2025 au 10 août 2025 41 10\u202f000,00\xa0€ 12,15 % 136,48\xa0€" in text
    # Rounded once, on the total (§3): 172.506849 -> 172.51, plus the 40 EUR indemnity.
    assert "136,48\xa0€ 172,51\xa0€ Indemnité" in text
    assert "Total au 10 août 2025 10\u202f212,51\xa0€" in text


@pytest.mark.parametrize(
    ("language", "interest"),
    [
        ("fr", "intérêts au taux légal sur la somme due (articles 1231-6 et 1344-1 du Code civil)"),
        ("en", "interest at the statutory rate on the sum due (articles 1231-6 and 1344-1 of the French Civil Code)"),
    ],
)
def test_consumer_formal_notice_claims_interest_from_notice_and_no_indemnity(
    tmp_path: Path, language: str, interest: str
) -> None:
    request = notice_request(customer={"kind": "consumer", "language": language, "name": "Claire Durand"})
    text = pdf_text(render(tmp_path, request).pdf)
    assert interest in text
    assert "Claire Durand" in text
    assert "RF69 F202 6004 2" in text
    for business_only in ("L441-10", "D441-5", "40,00", "40.00", "12,15", "12.15"):
        assert business_only not in text


@pytest.mark.parametrize("language", ["fr", "en"])
def test_level2_letter_is_dated_signed_and_states_only_the_next_step(tmp_path: Path, language: str) -> None:
    now = send_slot(DUE + timedelta(days=15))
    request = notice_request("level2_registered_letter", now=now, customer={"language": language})
    text = pdf_text(render(tmp_path, request).pdf)
    assert ("Paris, le 19 février 2026" if language == "fr" else "Paris, 19 February 2026") in text
    assert ("mise en demeure de payer." if language == "fr" else "a formal notice to pay.") in text
    assert "Claire Lemaire" in text
    assert "L441-10" in text
