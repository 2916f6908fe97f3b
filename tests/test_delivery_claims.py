"""The sent-ledger claim after a failed attempt: kept only when the provider may have the message.

Real activities, adapters and ledger; the providers are local servers (or nothing listening).
"""

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.case_file import CaseFile
from activities.email import EmailActivities
from activities.email.adapters import OutboxEmail, SendGridEmail
from activities.ledger import Ledger
from activities.letters import LetterActivities
from activities.letters.postal import OutboxLetters
from activities.litigation import LitigationActivities, OutboxLitigation
from activities.outbox import Outbox
from activities.sms import OutboxSms, SmsActivities
from domain.delivery import Delivery, DeliveryStatus, HandoverRequest, MessageRequest, message_id_for
from domain.ladder import Channel
from domain.models import Customer
from dunning.settings import Creditor, HandoverSettings
from dunning.tracking_ref import TrackingRefs, new_key
from tests.fake_sendgrid import FakeSendGrid
from tests.ledgers import LedgerBackend

CUSTOMER = Customer.model_validate(
    {
        "customer_id": "C-0017",
        "name": "Boulangerie Martin SARL",
        "kind": "business",
        "email": "compta@martin.example",
        "phone": "+33612345678",
        "language": "fr",
        "postal_address": {"lines": ["12 rue Oberkampf"], "postcode": "75011", "city": "Paris"},
    }
)


def message(step: str, channel: Channel) -> MessageRequest:
    workflow_id = "invoice-F-0042"
    return MessageRequest(
        message_id=message_id_for(workflow_id, step),
        workflow_id=workflow_id,
        step=step,
        channel=channel,
        invoice_id="F-0042",
        issued_on=date(2027, 1, 30),
        due_on=date(2027, 3, 1),
        amount=Decimal("1200.00"),
        credited=Decimal("0"),
        paid=Decimal("0"),
        balance=Decimal("1200.00"),
        currency="EUR",
        payment_reference=None,
        customer=CUSTOMER,
        as_of=date(2027, 3, 16),
        days_overdue=15,
        payments=[],
    )


# An activity of one channel writing to the outbox under `root`: (ledger, root) -> run one attempt.
OutboxAttempt = Callable[[Ledger, Path], Delivery]


def email_attempt(ledger: Ledger, root: Path) -> Delivery:
    activities = EmailActivities(ledger, OutboxEmail(root), Creditor())
    return ActivityEnvironment().run(activities.send_email, message("level2_email", Channel.EMAIL))


def sms_attempt(ledger: Ledger, root: Path) -> Delivery:
    activities = SmsActivities(ledger, OutboxSms(root), Creditor())
    return ActivityEnvironment().run(activities.send_sms, message("level2_sms", Channel.SMS))


def letter_attempt(ledger: Ledger, root: Path) -> Delivery:
    activities = LetterActivities(ledger, OutboxLetters(root), Creditor(), CaseFile(root.parent / "cases"))
    request = message("level2_registered_letter", Channel.REGISTERED_LETTER)
    return ActivityEnvironment().run(activities.send_registered_letter, request)


def litigation_attempt(ledger: Ledger, root: Path) -> Delivery:
    activities = LitigationActivities(
        ledger,
        OutboxLitigation(root, root.parent / "dossiers"),
        Creditor(),
        CaseFile(root.parent / "cases"),
        HandoverSettings(),
    )
    handover = HandoverRequest(message=message("litigation_handover", Channel.LITIGATION), actions=[])
    return ActivityEnvironment().run(activities.hand_over_to_litigation, handover)


def sendgrid_attempt(ledger: Ledger, url: str, timeout: float = 10.0) -> Delivery:
    adapter = SendGridEmail(
        "SG.test-key", url, "relances@exemple.fr", "Exemple", TrackingRefs(new_key()), timeout=timeout
    )
    activities = EmailActivities(ledger, adapter, Creditor())
    return ActivityEnvironment().run(activities.send_email, message("level2_email", Channel.EMAIL))


def open_claims(ledger: Ledger) -> int:
    return ledger.count("sending") + ledger.count("unconfirmed")


@pytest.mark.parametrize(
    ("attempt", "channel"),
    [
        (email_attempt, "email"),
        (sms_attempt, "sms"),
        (letter_attempt, "letters"),
        (litigation_attempt, "litigation"),
    ],
)
def test_a_failing_outbox_write_releases_the_claim_and_the_retry_sends_once(
    tmp_path: Path, ledger_backend: LedgerBackend, attempt: OutboxAttempt, channel: str
) -> None:
    ledger = ledger_backend.open()
    root = tmp_path / "outbox"
    # A file where the outbox folder should be: the write fails before anything is delivered.
    root.write_text("not a folder")
    with pytest.raises(OSError, match="outbox"):
        attempt(ledger, root)
    assert open_claims(ledger) == 0

    root.unlink()
    retried = attempt(ledger, root)
    assert retried.status is DeliveryStatus.SENT
    assert len(Outbox(root, channel).envelopes()) == 1
    assert ledger.count("sent") == 1


def test_a_provider_that_does_not_answer_keeps_the_claim_and_is_not_asked_again(
    ledger_backend: LedgerBackend, sendgrid: FakeSendGrid
) -> None:
    ledger = ledger_backend.open()
    sendgrid.script.append("hang")
    with pytest.raises(ApplicationError) as failed:
        sendgrid_attempt(ledger, sendgrid.url, timeout=0.5)
    assert failed.value.type == "InDoubtDeliveryError"
    assert ledger.count("sending") == 1
    sendgrid.release()

    retried = sendgrid_attempt(ledger, sendgrid.url)
    assert retried.status is DeliveryStatus.UNCONFIRMED
    assert len(sendgrid.requests) == 1
    assert ledger.count("unconfirmed") == 1


@pytest.fixture
def hang_up() -> Iterator[tuple[str, list[str]]]:
    """A provider that reads the whole request, then closes the connection without answering."""
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(self.path)
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}", received
    server.shutdown()
    server.server_close()


def test_a_connection_lost_before_the_answer_keeps_the_claim(
    ledger_backend: LedgerBackend, hang_up: tuple[str, list[str]], sendgrid: FakeSendGrid
) -> None:
    url, received = hang_up
    ledger = ledger_backend.open()
    with pytest.raises(ApplicationError) as failed:
        sendgrid_attempt(ledger, url)
    assert failed.value.type == "InDoubtDeliveryError"
    assert "RemoteDisconnected" in str(failed.value)
    assert len(received) == 1

    retried = sendgrid_attempt(ledger, sendgrid.url)
    assert retried.status is DeliveryStatus.UNCONFIRMED
    assert sendgrid.requests == []


def test_a_refused_connection_releases_the_claim_and_the_retry_sends(
    ledger_backend: LedgerBackend, sendgrid: FakeSendGrid
) -> None:
    # A port just freed: nothing listens there, so the connection is refused before any request.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ledger = ledger_backend.open()
    with pytest.raises(ApplicationError) as failed:
        sendgrid_attempt(ledger, f"http://127.0.0.1:{port}")
    assert failed.value.type == "TransientDeliveryError"
    assert not failed.value.non_retryable
    assert open_claims(ledger) == 0

    retried = sendgrid_attempt(ledger, sendgrid.url)
    assert retried.status is DeliveryStatus.SENT
    assert len(sendgrid.requests) == 1


def test_a_ledger_failure_after_the_provider_accepted_keeps_the_claim(
    ledger_backend: LedgerBackend, sendgrid: FakeSendGrid
) -> None:
    ledger = ledger_backend.open()
    # The database refuses the 'sent' mark (as a full disk would), after SendGrid has answered 202.
    ledger_backend.refuse_sent("disk full")
    with pytest.raises(ledger_backend.error, match="disk full"):
        sendgrid_attempt(ledger, sendgrid.url)
    assert ledger.count("sending") == 1
    ledger_backend.allow_sent()

    retried = sendgrid_attempt(ledger, sendgrid.url)
    assert retried.status is DeliveryStatus.UNCONFIRMED
    assert len(sendgrid.requests) == 1
