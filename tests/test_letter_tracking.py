"""track_letter tells the case every status of a letter once, in its vocabulary, with the proofs kept."""

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.case_file import CaseFile
from activities.letters.merci_facteur import PostalMode
from activities.letters.postal import OutboxLetters
from activities.letters.tracking import LetterTracker
from domain.tracking import LetterStatus, LetterTracking, ProofKind, TrackRequest
from tests.fake_http import running
from tests.fake_merci_facteur import FakeMerciFacteur
from tests.letters_helpers import MESSAGE_ID, make_letter, merci_facteur

WORKFLOW_ID = "invoice-F-2026-0042"
RECEIPT_JPEG = b"\xff\xd8\xff\xe0 signed receipt \xff\xd9"
DEPOSIT_PDF = b"%PDF-1.7 preuve de depot %%EOF"


@pytest.fixture
def fake() -> Iterator[FakeMerciFacteur]:
    yield from running(FakeMerciFacteur())


def track(tracker: LetterTracker, provider: str, provider_message_id: str) -> LetterTracking:
    request = TrackRequest(
        workflow_id=WORKFLOW_ID, message_id=MESSAGE_ID, provider=provider, provider_message_id=provider_message_id
    )
    result: LetterTracking = ActivityEnvironment().run(tracker.track_letter, request)
    return result


def statuses(tracking: LetterTracking) -> list[LetterStatus]:
    return [report.status for report in tracking.reports]


def test_merci_facteur_history_comes_back_in_our_vocabulary_with_proofs_kept(
    fake: FakeMerciFacteur, tmp_path: Path
) -> None:
    adapter = merci_facteur(fake.url)
    envoi_id = adapter.send(make_letter()).provider_message_id
    assert envoi_id is not None
    start = int(time.time())
    for offset, code in enumerate(["imprime", "pris_en_charge", "scan_pdd", "attente_au_guichet", "distribue"]):
        fake.advance(envoi_id, code, start + offset * 3600)
    fake.add_proof(envoi_id, "depot", DEPOSIT_PDF, "pdf")
    case_file = CaseFile(tmp_path / "cases")
    tracker = LetterTracker(adapter, case_file)

    first = track(tracker, "merci_facteur", envoi_id)

    S = LetterStatus
    assert statuses(first) == [S.ACCEPTED, S.ACCEPTED, S.POSTED, S.POSTED, S.POSTED, S.DELIVERED]
    delivered = first.reports[-1]
    assert delivered.at == datetime.fromtimestamp(start + 4 * 3600, UTC)
    [deposit] = first.reports[3].proofs
    assert deposit.kind is ProofKind.DEPOSIT
    assert case_file.read(deposit.path) == DEPOSIT_PDF
    assert deposit.sha256 == hashlib.sha256(DEPOSIT_PDF).hexdigest()
    assert first.reports[4].detail == "notice left: waiting at the post office"

    # The scanned receipt arrives later; an earlier status is never reported under a new id.
    fake.advance(envoi_id, "retour_are", start + 5 * 86400)
    fake.add_proof(envoi_id, "reception", RECEIPT_JPEG, "jpeg")
    second = track(tracker, "merci_facteur", envoi_id)

    assert [r.event_id for r in second.reports[:-1]] == [r.event_id for r in first.reports]
    assert len({r.event_id for r in second.reports}) == len(second.reports)
    proof_report = second.reports[-1]
    assert proof_report.status is S.PROOF_AVAILABLE
    [receipt] = proof_report.proofs
    assert receipt.kind is ProofKind.RECEIPT
    assert receipt.path.endswith(".jpeg")
    assert case_file.read(receipt.path) == RECEIPT_JPEG


@pytest.mark.parametrize(
    ("codes", "outcome"),
    [
        (["pris_en_charge", "attente_au_guichet", "retour_expediteur"], LetterStatus.UNCLAIMED),
        (["pris_en_charge", "retour_expediteur"], LetterStatus.UNDELIVERABLE),
    ],
)
def test_a_letter_returned_after_its_notice_was_left_is_unclaimed_as_of_that_presentation(
    fake: FakeMerciFacteur, tmp_path: Path, codes: list[str], outcome: LetterStatus
) -> None:
    adapter = merci_facteur(fake.url)
    envoi_id = adapter.send(make_letter()).provider_message_id
    assert envoi_id is not None
    start = int(time.time()) - 20 * 86400
    for offset, code in enumerate(codes):
        fake.advance(envoi_id, code, start + offset * 15 * 86400)
    last = track(LetterTracker(adapter, CaseFile(tmp_path)), "merci_facteur", envoi_id).reports[-1]
    assert last.status is outcome
    if outcome is LetterStatus.UNCLAIMED:
        # The presentation, when the notice was left, is what the deadline runs from.
        assert last.at == datetime.fromtimestamp(start + 15 * 86400, UTC)


def test_an_unknown_status_reaches_a_person_without_moving_the_letter(fake: FakeMerciFacteur, tmp_path: Path) -> None:
    adapter = merci_facteur(fake.url)
    envoi_id = adapter.send(make_letter()).provider_message_id
    assert envoi_id is not None
    fake.advance(envoi_id, "teleporte", int(time.time()))

    report = track(LetterTracker(adapter, CaseFile(tmp_path)), "merci_facteur", envoi_id).reports[-1]

    assert report.status is LetterStatus.ACCEPTED
    assert report.detail == "unrecognised merci_facteur status 'teleporte'"


def test_a_status_that_brings_a_proof_waits_for_it_but_not_forever(fake: FakeMerciFacteur, tmp_path: Path) -> None:
    adapter = merci_facteur(fake.url)
    tracker = LetterTracker(adapter, CaseFile(tmp_path))
    recent = adapter.send(make_letter(message_id="a" * 32)).provider_message_id
    old = adapter.send(make_letter(message_id="b" * 32)).provider_message_id
    assert recent is not None
    assert old is not None
    fake.advance(recent, "retour_are", int(time.time()))
    fake.advance(old, "retour_are", int((datetime.now(UTC) - timedelta(days=8)).timestamp()))

    held = track(tracker, "merci_facteur", recent)
    late = track(tracker, "merci_facteur", old)

    assert LetterStatus.PROOF_AVAILABLE not in statuses(held)
    assert late.reports[-1].status is LetterStatus.PROOF_AVAILABLE
    assert late.reports[-1].proofs == []
    assert late.reports[-1].detail == "receipt proof still not available from merci_facteur"

    fake.add_proof(recent, "reception", RECEIPT_JPEG, "jpeg")
    assert track(tracker, "merci_facteur", recent).reports[-1].proofs[0].kind is ProofKind.RECEIPT


def test_an_electronic_letter_refused_by_its_recipient_comes_back_with_the_proof(
    fake: FakeMerciFacteur, tmp_path: Path
) -> None:
    adapter = merci_facteur(fake.url, PostalMode.ELECTRONIC)
    envoi_id = adapter.send(make_letter(electronic_allowed=True)).provider_message_id
    assert envoi_id is not None
    for code in ("envoye", "accept_wait", "refused"):
        fake.advance(envoi_id, code, int(time.time()))
    fake.add_proof(envoi_id, "reception", DEPOSIT_PDF, "pdf")

    report = track(LetterTracker(adapter, CaseFile(tmp_path)), "merci_facteur", envoi_id).reports[-1]

    assert report.status is LetterStatus.REFUSED
    assert report.proofs[0].kind is ProofKind.RECEIPT


def test_a_provider_in_trouble_is_retried_and_nonsense_is_not(fake: FakeMerciFacteur, tmp_path: Path) -> None:
    adapter = merci_facteur(fake.url)
    envoi_id = adapter.send(make_letter()).provider_message_id
    assert envoi_id is not None
    tracker = LetterTracker(adapter, CaseFile(tmp_path))

    fake.track_script.extend([503, "garbled"])
    with pytest.raises(ApplicationError) as busy:
        track(tracker, "merci_facteur", envoi_id)
    with pytest.raises(ApplicationError) as garbled:
        track(tracker, "merci_facteur", envoi_id)

    assert busy.value.type == "TrackingUnavailable"
    assert not busy.value.non_retryable
    assert garbled.value.type == "TrackingRefused"
    assert garbled.value.non_retryable
    assert statuses(track(tracker, "merci_facteur", envoi_id)) == [LetterStatus.ACCEPTED]


def test_a_letter_posted_through_another_provider_is_not_asked_about(tmp_path: Path) -> None:
    tracker = LetterTracker(OutboxLetters(tmp_path / "outbox"), CaseFile(tmp_path / "cases"))
    with pytest.raises(ApplicationError) as refused:
        track(tracker, "merci_facteur", "1000")
    assert refused.value.type == "WrongPostalProvider"
    assert refused.value.non_retryable


def test_the_outbox_posts_at_once_and_plays_what_a_developer_writes(tmp_path: Path) -> None:
    outbox = OutboxLetters(tmp_path / "outbox")
    case_file = CaseFile(tmp_path / "cases")
    tracker = LetterTracker(outbox, case_file)
    outbox.send(make_letter())

    assert statuses(track(tracker, "outbox", MESSAGE_ID)) == [LetterStatus.ACCEPTED, LetterStatus.POSTED]

    folder = tmp_path / "outbox" / "letters" / MESSAGE_ID
    simulated = [
        {"status": "delivered", "at": "2026-03-02T10:15:00+01:00"},
        {"status": "proof_available", "at": "2026-03-05T09:00:00+01:00"},
        {"status": "lost_in_space", "at": "2026-03-06T09:00:00+01:00"},
    ]
    (folder / "statuses.json").write_text(json.dumps(simulated))
    (folder / "receipt-proof.pdf").write_bytes(DEPOSIT_PDF)

    tracking = track(tracker, "outbox", MESSAGE_ID)

    S = LetterStatus
    assert statuses(tracking) == [S.ACCEPTED, S.POSTED, S.DELIVERED, S.PROOF_AVAILABLE, S.ACCEPTED]
    assert tracking.reports[2].at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    [proof] = tracking.reports[3].proofs
    assert case_file.read(proof.path) == DEPOSIT_PDF
    assert tracking.reports[4].detail == "unrecognised outbox status 'lost_in_space'"


def test_a_simulated_status_without_a_utc_offset_is_refused_not_retried(tmp_path: Path) -> None:
    outbox = OutboxLetters(tmp_path / "outbox")
    outbox.send(make_letter())
    folder = tmp_path / "outbox" / "letters" / MESSAGE_ID
    (folder / "statuses.json").write_text(json.dumps([{"status": "delivered", "at": "2026-03-02T10:15:00"}]))

    with pytest.raises(ApplicationError) as refused:
        track(LetterTracker(outbox, CaseFile(tmp_path / "cases")), "outbox", MESSAGE_ID)

    assert refused.value.non_retryable
    assert "no UTC offset" in str(refused.value)
