"""The Merci Facteur adapter posts each letter once, as the law wants it, and says truly whether it did.

Every test drives the real HTTP client against a local fake that speaks the provider's API.
"""

import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from types import MethodType

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.case_file import CaseFile
from activities.delivery import InDoubtDeliveryError, PermanentDeliveryError, TransientDeliveryError, deliver_once
from activities.ledger import SentLedger
from activities.letters.merci_facteur import TOKEN_MARGIN, PostalMode
from activities.letters.postal import Letter
from domain.calendar import send_slot
from domain.case import CaseState
from domain.delivery import DeliveryStatus, MessageRequest
from domain.ladder import Channel
from dunning.settings import ChannelSettings, PostalSettings
from tests.conftest import make_invoice
from tests.fake_http import running
from tests.fake_merci_facteur import FakeMerciFacteur
from tests.ladders import DEFAULT_POLICY
from tests.letters_helpers import MESSAGE_ID, PDF, make_letter, merci_facteur
from worker import build_activities


@pytest.fixture
def fake() -> Iterator[FakeMerciFacteur]:
    yield from running(FakeMerciFacteur())


@pytest.mark.parametrize("mode", list(PostalMode))
def test_a_plain_letter_goes_as_ordinary_mail_whatever_the_mode(fake: FakeMerciFacteur, mode: PostalMode) -> None:
    merci_facteur(fake.url, mode).send(make_letter(registered=False, electronic_allowed=True))
    [letter] = fake.letters
    assert letter["mode"] == "normal"


def test_a_paper_letter_goes_as_lrare_with_its_pdf_and_only_an_opaque_reference(fake: FakeMerciFacteur) -> None:
    receipt = merci_facteur(fake.url).send(make_letter())

    [letter] = fake.letters
    assert receipt.provider == "merci_facteur"
    assert receipt.provider_message_id == letter["envoi_id"]
    # lrare: the signed receipt comes back scanned, so the case file can keep it.
    assert letter["mode"] == "lrare"
    assert letter["pdf"] == PDF
    assert letter["user"] == "42"
    assert letter["antidoublon"] == MESSAGE_ID
    [dest] = letter["adress"]["dest"]
    assert dest["societe"] == "Boulangerie Martin SARL"
    assert (dest["adresse1"], dest["adresse2"], dest["cp"], dest["ville"]) == (
        "12 rue Oberkampf",
        "Bâtiment B",
        "75011",
        "Paris",
    )
    # The reference is printed on the receipt: the opaque message id, within the 30 characters allowed.
    assert dest["reference"] == MESSAGE_ID[:30]
    assert dest["email"] == ""
    assert dest["consent"] == 0
    sender = letter["adress"]["exp"]
    assert (sender["societe"], sender["adresse1"], sender["cp"], sender["ville"]) == (
        "Exemple Services SAS",
        "10 rue de la Paix",
        "75002",
        "Paris",
    )


def test_an_electronic_letter_only_where_the_customer_allows_it(fake: FakeMerciFacteur) -> None:
    adapter = merci_facteur(fake.url, PostalMode.ELECTRONIC)
    adapter.send(make_letter(message_id="a" * 32, electronic_allowed=False))
    adapter.send(make_letter(message_id="b" * 32, electronic_allowed=True))

    paper, electronic = fake.letters
    assert paper["mode"] == "lrare"
    assert electronic["mode"] == "ere_otp_mail"
    [dest] = electronic["adress"]["dest"]
    assert dest["email"] == "compta@boulangerie-martin.fr"
    assert dest["consent"] == 1
    assert electronic["adress"]["exp"]["email"] == "comptabilite@exemple-services.fr"


def test_paper_mode_never_sends_electronically_even_with_consent(fake: FakeMerciFacteur) -> None:
    merci_facteur(fake.url, PostalMode.PAPER).send(make_letter(electronic_allowed=True))
    assert [letter["mode"] for letter in fake.letters] == ["lrare"]


def test_one_signed_token_serves_every_call_until_it_nears_its_expiry(fake: FakeMerciFacteur) -> None:
    adapter = merci_facteur(fake.url)
    adapter.send(make_letter(message_id="a" * 32))
    adapter.send(make_letter(message_id="b" * 32))
    assert len(fake.tokens_issued) == 1

    # A token about to expire is not used: a new one is asked for before each call.
    short = FakeMerciFacteur(token_lifetime_seconds=int(TOKEN_MARGIN.total_seconds()) - 60)
    short.start()
    try:
        adapter = merci_facteur(short.url)
        adapter.send(make_letter(message_id="a" * 32))
        adapter.send(make_letter(message_id="b" * 32))
        assert len(short.tokens_issued) == 2
        assert len(short.letters) == 2
    finally:
        short.stop()


def test_a_token_the_provider_dropped_is_renewed_and_the_letter_posted_once(fake: FakeMerciFacteur) -> None:
    adapter = merci_facteur(fake.url)
    adapter.send(make_letter(message_id="a" * 32))
    fake.expire_tokens()

    adapter.send(make_letter(message_id="b" * 32))

    assert len(fake.tokens_issued) == 2
    assert [letter["antidoublon"] for letter in fake.letters] == ["a" * 32, "b" * 32]
    assert ("sendCourrier", 401) in fake.requests


def test_wrong_credentials_are_a_permanent_refusal(fake: FakeMerciFacteur) -> None:
    with pytest.raises(PermanentDeliveryError, match="credentials"):
        merci_facteur(fake.url, secret_key="not-the-secret").send(make_letter())
    assert fake.letters == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_busy_or_failing_provider_is_transient(fake: FakeMerciFacteur, status: int) -> None:
    fake.send_script.append(status)
    with pytest.raises(TransientDeliveryError, match=str(status)):
        merci_facteur(fake.url).send(make_letter())
    assert fake.letters == []


def test_a_refusal_in_the_body_is_permanent(fake: FakeMerciFacteur) -> None:
    fake.send_script.append("refuse")
    with pytest.raises(PermanentDeliveryError, match="INFO_ADDRESS_MISSING"):
        merci_facteur(fake.url).send(make_letter())


def test_no_answer_after_sending_is_in_doubt(fake: FakeMerciFacteur) -> None:
    fake.send_script.append("hang")
    with pytest.raises(InDoubtDeliveryError):
        merci_facteur(fake.url, timeout=0.5).send(make_letter())
    fake.release()
    # The provider did receive it: exactly why a retry must not post it again.
    assert len(fake.letters) == 1


def test_a_malformed_answer_after_sending_is_in_doubt(fake: FakeMerciFacteur) -> None:
    fake.send_script.append("malformed")
    with pytest.raises(InDoubtDeliveryError, match="unreadable"):
        merci_facteur(fake.url).send(make_letter())
    assert len(fake.letters) == 1


def test_an_unreachable_provider_is_transient() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        merci_facteur(f"http://127.0.0.1:{port}/api/1.2/prod/service").send(make_letter())


def test_a_letter_without_its_pdf_or_outside_france_is_refused_before_any_request(fake: FakeMerciFacteur) -> None:
    with pytest.raises(PermanentDeliveryError, match="no rendered PDF"):
        merci_facteur(fake.url).send(make_letter(pdf=b""))
    letter = make_letter()
    abroad = replace(letter, address=letter.address.model_copy(update={"country": "BE"}))
    with pytest.raises(PermanentDeliveryError, match="BE"):
        merci_facteur(fake.url).send(abroad)
    assert fake.letters == []
    assert not any(op == "sendCourrier" for op, _ in fake.requests)


def request_for(tmp_path: Path) -> MessageRequest:
    due = date(2026, 2, 4)
    case = CaseState.open(make_invoice(due), DEFAULT_POLICY)
    return case.message(send_slot(due + timedelta(days=35)), "formal_notice", Channel.REGISTERED_LETTER, "invoice-X")


def test_a_retry_after_an_answer_lost_reports_unconfirmed_and_posts_nothing_more(
    fake: FakeMerciFacteur, tmp_path: Path
) -> None:
    ledger = SentLedger(tmp_path / "ledger.sqlite3")
    case_file = CaseFile(tmp_path / "cases")
    adapter = merci_facteur(fake.url, timeout=0.5)
    request = request_for(tmp_path)

    def render(req: MessageRequest) -> Letter:
        return make_letter(message_id=req.message_id)

    fake.send_script.append("hang")
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as first:
        env.run(deliver_once, ledger, request, render, adapter, case_file)
    assert first.value.type == "InDoubtDeliveryError"
    fake.release()

    second = env.run(deliver_once, ledger, request, render, adapter, case_file)

    assert second.status is DeliveryStatus.UNCONFIRMED
    assert len(fake.letters) == 1


def test_the_worker_posts_through_merci_facteur_once_configured(fake: FakeMerciFacteur, tmp_path: Path) -> None:
    postal = PostalSettings(service_id="service-test", secret_key="secret-test", user_id=42, api_url=fake.url)
    settings = ChannelSettings(var_dir=tmp_path, postal=postal)
    activities = {getattr(fn, "__temporal_activity_definition").name: fn for fn in build_activities(settings)}
    for name in ("send_registered_letter", "track_letter"):
        bound = activities[name]
        assert isinstance(bound, MethodType)
        assert vars(bound.__self__)["_adapter"].name == "merci_facteur"
    with pytest.raises(ValueError, match="MERCI_FACTEUR_MODE"):
        PostalSettings(mode="carrier-pigeon")
