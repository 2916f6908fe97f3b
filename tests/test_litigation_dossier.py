"""The litigation dossier, opened: real PDFs read back, real ZIP, real case file, real ledger."""

import csv
import hashlib
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.case_file import CaseFile
from activities.litigation.courts import competent_court, normalise_city, service_deadlines
from activities.litigation.dossier import money
from activities.outbox import Outbox
from domain.delivery import DeliveryStatus
from domain.models import Outcome
from dunning.settings import HandoverSettings
from tests.conftest import Harness, clear_due_date, make_invoice
from tests.dossier_helpers import (
    AS_OF,
    DUE_ON,
    PAID_ON,
    customer,
    litigation,
    make_handover,
    manifest,
    named,
    unzip,
)
from tests.pdf_reading import pdf_text
from workflows.invoice_dunning import InvoiceDunning

AGENCY = HandoverSettings(destination="agency", agency_name="Recouvra SAS", agency_email="dossiers@recouvra.example")


def test_the_dossier_holds_every_piece_and_its_manifest_hashes_match(tmp_path: Path) -> None:
    handover = make_handover(CaseFile(tmp_path / "cases"))
    files = unzip(litigation(tmp_path).render(handover).archive)

    assert sorted(files) == [
        "00-bordereau-des-pieces.pdf",
        "00-note-de-transmission.pdf",
        "00-projet-de-requete-injonction-de-payer.pdf",
        "donnees/dossier.json",
        "manifest.json",
        "pieces/01-facture.pdf",
        "pieces/02-releve-de-compte.pdf",
        "pieces/03-decompte.pdf",
        "pieces/04-formal_notice-registered_letter.pdf",
        "pieces/05-formal_notice-deposit.pdf",
        "pieces/06-formal_notice-receipt.pdf",
        "pieces/07-historique-des-relances.pdf",
        "pieces/08-historique-des-relances.csv",
        "pieces/09-echanges.pdf",
    ]
    entries = manifest(files)
    assert [e["name"] for e in entries] == sorted(set(files) - {"manifest.json"})
    for entry in entries:
        assert hashlib.sha256(files[entry["name"]]).hexdigest() == entry["sha256"], entry["name"]
    # The letter as posted and both its proofs, byte for byte what the case file kept.
    notice = handover.messages[1]
    case_file = CaseFile(tmp_path / "cases")
    assert notice.document is not None
    assert files["pieces/04-formal_notice-registered_letter.pdf"] == case_file.read(notice.document)
    assert [files["pieces/05-formal_notice-deposit.pdf"], files["pieces/06-formal_notice-receipt.pdf"]] == [
        case_file.read(p.path) for p in notice.proofs
    ]
    assert "Mise en demeure" in pdf_text(files["pieces/04-formal_notice-registered_letter.pdf"])
    # The bordereau numbers every piece and gives its hash.
    bordereau = pdf_text(files["00-bordereau-des-pieces.pdf"])
    for entry in entries:
        if entry["piece"] is not None:
            assert entry["name"] in bordereau
            assert entry["sha256"] in bordereau.replace(" ", "")


def interest_first() -> tuple[Decimal, Decimal]:
    """The principal and penalties still due, computed here from the law's formula independently of
    the service's code: the 200.00 payment settles the penalties accrued by its day first (Code civil
    1343-1, the default imputation), the rest reduces the principal."""
    rate, cent = Decimal("12.15"), Decimal("0.01")
    first = Decimal("1200.00") * rate / 100 * (PAID_ON - DUE_ON).days / 365
    settled = first.quantize(cent)
    principal = Decimal("1200.00") - (Decimal("200.00") - settled)
    second = principal * rate / 100 * (AS_OF - PAID_ON).days / 365
    return principal, (first + second).quantize(cent) - settled


def test_the_account_statement_penalties_and_events_are_the_cases(tmp_path: Path) -> None:
    files = unzip(litigation(tmp_path).render(make_handover(CaseFile(tmp_path / "cases"))).archive)

    invoice = pdf_text(files["pieces/01-facture.pdf"])
    assert "F-0042" in invoice
    assert money(Decimal("1200.00")) in invoice
    assert "BC-2026-118" in invoice
    statement = pdf_text(files["pieces/02-releve-de-compte.pdf"])
    for expected in ("Boulangerie Martin SARL", "732 829 320", "12 rue Oberkampf, 75011 Paris", "professionnel"):
        assert expected in statement
    assert money(Decimal("200.00")) in statement
    assert money(Decimal("1000.00")) in statement
    principal, penalties = interest_first()
    computation = pdf_text(files["pieces/03-decompte.pdf"])
    assert money(penalties) in computation
    assert money(principal) in computation
    assert "12,15 %" in computation
    assert "juriblio.fr" in computation
    events = pdf_text(files["pieces/09-echanges.pdf"])
    assert "Promesse de paiement" in events
    assert "livraison incomplète" in events


def test_the_trail_csv_and_json_match_the_cases_messages(tmp_path: Path) -> None:
    handover = make_handover(CaseFile(tmp_path / "cases"))
    files = unzip(litigation(tmp_path).render(handover).archive)

    rows = list(csv.DictReader(io.StringIO(files["pieces/08-historique-des-relances.csv"].decode())))
    assert [
        (r["sent_at"], r["channel"], r["recipient"], r["content_sha256"], r["provider_message_id"], r["status"])
        for r in rows
    ] == [
        (
            m.sent_at.isoformat().replace("+00:00", "Z"),
            m.channel,
            m.recipient,
            m.content_sha256,
            m.provider_message_id,
            m.status.value,
        )
        for m in handover.messages
    ]
    data = json.loads(files["donnees/dossier.json"])
    assert data["trail"] == [m.model_dump(mode="json") for m in handover.messages]
    assert data["debtor"]["siren"] == "732829320"
    history = pdf_text(files["pieces/07-historique-des-relances.pdf"])
    assert "MF-991" in history
    assert "sg-abc" in history


@pytest.mark.parametrize(
    ("city", "postcode", "kind", "court"),
    [
        ("Paris", "75011", "business", "Tribunal des activités économiques de Paris"),
        ("Boulogne-Billancourt", "92100", "business", "Tribunal des activités économiques de Nanterre"),
        ("Bordeaux", "33000", "business", "Tribunal de commerce de Bordeaux"),
        ("Strasbourg", "67000", "business", "Tribunal judiciaire de Strasbourg (chambre commerciale)"),
        ("Lyon", "69003", "consumer", "Tribunal judiciaire de Lyon"),
    ],
)
def test_the_requete_names_the_debtors_court(tmp_path: Path, city: str, postcode: str, kind: str, court: str) -> None:
    debtor = customer(city, postcode, kind)
    files = unzip(litigation(tmp_path).render(make_handover(CaseFile(tmp_path / "cases"), debtor)).archive)
    requete = pdf_text(files["00-projet-de-requete-injonction-de-payer.pdf"])
    assert "Projet de requête — à vérifier et signer" in requete
    addressed = "du juge" if kind == "consumer" else "de Madame, Monsieur le président"
    assert f"Juridiction saisie À l'attention {addressed} : {court}." in requete
    assert "à déterminer" not in requete.split("Parties")[0]


def test_a_city_without_court_data_is_reported_undetermined(tmp_path: Path) -> None:
    debtor = customer("Rodez", "12000", "business")
    rendered = litigation(tmp_path).render(make_handover(CaseFile(tmp_path / "cases"), debtor))
    requete = pdf_text(unzip(rendered.archive)["00-projet-de-requete-injonction-de-payer.pdf"])
    assert "Tribunal de commerce (ou tribunal des activités économiques) du siège du débiteur" in requete
    assert "juridiction à déterminer" in requete
    assert "Rodez (12000)" in requete
    assert any("court not determined" in note for note in rendered.notes)


def test_the_requete_states_the_amounts_and_the_note_the_service_deadline(tmp_path: Path) -> None:
    files = unzip(litigation(tmp_path).render(make_handover(CaseFile(tmp_path / "cases"))).archive)
    requete = pdf_text(files["00-projet-de-requete-injonction-de-payer.pdf"])
    data = json.loads(files["donnees/dossier.json"])["claim"]
    principal, penalties, indemnity = (Decimal(data[k]) for k in ("principal", "penalties", "indemnity"))
    assert (principal, penalties, indemnity) == (*interest_first(), Decimal("40.00"))
    for amount in (principal, penalties, indemnity, principal + penalties + indemnity):
        assert money(amount) in requete
    assert "L441-10" in requete
    assert "D441-5" in requete
    assert "1405" in requete
    # The bordereau is in the requête (CPC 1407).
    assert "pieces/04-formal_notice-registered_letter.pdf" in requete
    note = pdf_text(files["00-note-de-transmission.pdf"])
    # Filed in June 2026: an order before 1 September 2026 has six months, one from then three.
    assert "rendue à compter du 1 septembre 2026 doit être signifiée" in note
    assert "dans les 3 mois" in note
    assert "2026-96" in note
    assert "dans les 6 mois" in note


def test_a_consumer_is_claimed_neither_penalties_nor_indemnity(tmp_path: Path) -> None:
    debtor = customer("Lyon", "69003", "consumer")
    files = unzip(litigation(tmp_path).render(make_handover(CaseFile(tmp_path / "cases"), debtor)).archive)
    requete = pdf_text(files["00-projet-de-requete-injonction-de-payer.pdf"])
    assert "D441-5" not in requete
    assert "1231-6" in requete
    assert f"la somme de {money(Decimal('1000.00'))}, outre les intérêts au taux légal" in requete


def test_two_renders_of_one_request_are_the_same_bytes_and_a_retry_records_the_same_hash(tmp_path: Path) -> None:
    handover = make_handover(CaseFile(tmp_path / "cases"))
    assert litigation(tmp_path).render(handover).archive == litigation(tmp_path).render(handover).archive

    first = ActivityEnvironment().run(litigation(tmp_path).hand_over_to_litigation, handover)
    again = ActivityEnvironment().run(litigation(tmp_path).hand_over_to_litigation, handover)
    assert first.status is again.status is DeliveryStatus.SENT
    assert (again.content_sha256, again.document) == (first.content_sha256, first.document)
    assert first.document is not None
    assert first.document.endswith(".zip")
    kept = CaseFile(tmp_path / "cases").read(first.document)
    [dossier] = (tmp_path / "dossiers").glob("*.zip")
    assert hashlib.sha256(kept).hexdigest() == first.content_sha256 == hashlib.sha256(dossier.read_bytes()).hexdigest()
    assert len(Outbox(tmp_path / "outbox", "litigation").envelopes()) == 1
    assert first.recipient == "court: Tribunal des activités économiques de Paris"


def test_an_agency_gets_the_dossier_addressed_to_it_without_a_requete(tmp_path: Path) -> None:
    handover = make_handover(CaseFile(tmp_path / "cases"))
    delivery = ActivityEnvironment().run(litigation(tmp_path, AGENCY).hand_over_to_litigation, handover)
    assert delivery.recipient == "agency: Recouvra SAS <dossiers@recouvra.example>"
    [dossier] = (tmp_path / "dossiers").glob("*.zip")
    files = unzip(dossier.read_bytes())
    assert not any("requete" in name for name in files)
    assert "pieces/04-formal_notice-registered_letter.pdf" in files
    note = pdf_text(named(files, "note-de-transmission"))
    assert "À l'attention de Recouvra SAS (dossiers@recouvra.example)" in note
    assert "R124-4" in note


def test_the_cases_policy_chooses_the_destination_over_the_operators_default(tmp_path: Path) -> None:
    handover = make_handover(CaseFile(tmp_path / "cases"))
    agency_by_policy = handover.model_copy(update={"destination": "collection_agency"})
    configured = HandoverSettings(agency_name="Recouvra SAS", agency_email="dossiers@recouvra.example")
    assert configured.destination == "court"
    delivery = ActivityEnvironment().run(litigation(tmp_path, configured).hand_over_to_litigation, agency_by_policy)
    assert delivery.recipient == "agency: Recouvra SAS <dossiers@recouvra.example>"
    court_by_policy = make_handover(CaseFile(tmp_path / "again" / "cases")).model_copy(update={"destination": "court"})
    to_court = ActivityEnvironment().run(
        litigation(tmp_path / "again", AGENCY).hand_over_to_litigation, court_by_policy
    )
    assert str(to_court.recipient).startswith("court: ")


def test_a_policy_naming_an_agency_none_is_configured_for_holds_the_hand_over(tmp_path: Path) -> None:
    handover = make_handover(CaseFile(tmp_path / "cases")).model_copy(update={"destination": "collection_agency"})
    with pytest.raises(ApplicationError, match="none is configured") as raised:
        ActivityEnvironment().run(litigation(tmp_path).hand_over_to_litigation, handover)
    assert raised.value.non_retryable
    assert not (tmp_path / "dossiers").exists() or not list((tmp_path / "dossiers").glob("*.zip"))


def test_an_altered_letter_in_the_case_file_stops_the_hand_over(tmp_path: Path) -> None:
    handover = make_handover(CaseFile(tmp_path / "cases"))
    notice = handover.messages[1]
    assert notice.document is not None
    (tmp_path / "cases" / notice.document).write_bytes(b"%PDF-1.7 another letter")
    with pytest.raises(ApplicationError, match="does not match") as refused:
        ActivityEnvironment().run(litigation(tmp_path).hand_over_to_litigation, handover)
    assert refused.value.non_retryable
    assert Outbox(tmp_path / "outbox", "litigation").envelopes() == []


def test_court_data_edges() -> None:
    assert normalise_city("Saint-Brieuc Cedex 1") == normalise_city("ST BRIEUC") == "SAINT BRIEUC"
    assert normalise_city("Paris 11e") == "PARIS"
    # The TAE experiment ends on 31 December 2028: after it the data names no court.
    assert (
        competent_court(customer("Lyon", "69003"), date(2028, 12, 31)).name
        == "Tribunal des activités économiques de Lyon"
    )
    assert competent_court(customer("Lyon", "69003"), date(2029, 1, 1)).name is None
    assert competent_court(customer("Colmar", "68000"), AS_OF).generic.startswith("Chambre commerciale")
    assert [d.months for d in service_deadlines(date(2026, 9, 1))] == [3]
    with pytest.raises(ValueError, match="DUNNING_AGENCY_NAME"):
        HandoverSettings(destination="agency")


async def test_a_case_handed_over_records_its_dossier_and_hash(harness: Harness) -> None:
    invoice = make_invoice(clear_due_date(await harness.today() + timedelta(days=30)), customer={"siren": "732829320"})
    async with harness.worker():
        handle = await harness.start(invoice)
        result = await handle.result()
        status = await handle.query(InvoiceDunning.status)

    assert result.outcome is Outcome.LITIGATION
    [handover] = [m for m in status.messages if m.step == "litigation_handover"]
    assert handover.document is not None
    assert handover.document.endswith(".zip")
    archive = CaseFile(harness.settings.case_file_dir).read(handover.document)
    assert hashlib.sha256(archive).hexdigest() == handover.content_sha256
    [dossier] = harness.settings.dossier_dir.glob("*.zip")
    assert dossier.read_bytes() == archive
    files = unzip(archive)
    # Both registered letters of the ladder, as the case file kept them, and the trail up to the hand-over.
    for letter in (m for m in status.messages if m.channel == "registered_letter"):
        assert letter.document is not None
        assert CaseFile(harness.settings.case_file_dir).read(letter.document) in files.values()
    data = json.loads(files["donnees/dossier.json"])
    assert [m["message_id"] for m in data["trail"]] == [m.message_id for m in status.messages if m is not handover]
    assert "Tribunal des activités économiques de Paris" in pdf_text(
        files["00-projet-de-requete-injonction-de-payer.pdf"]
    )
