"""The copy of an invoice a customer says never arrived: a PDF attached to the resend e-mail."""

import base64
import hashlib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.case_file import CaseFile
from activities.email import EmailActivities
from activities.email.adapters import OutboxEmail, SendGridEmail
from activities.ledger import SentLedger
from activities.letters.documents import render_invoice_copy
from activities.outbox import Outbox
from activities.sms import OutboxSms, SmsActivities
from domain.delivery import MessageRequest
from domain.ladder import Channel
from domain.models import CallLogged
from dunning.tracking_ref import TrackingRefs
from tests.conftest import TRACKING_KEY, Harness, advance_to, at_step, clear_due_date, close_case, make_invoice
from tests.fake_sendgrid import FakeSendGrid
from tests.pdf_reading import pdf_text
from tests.test_letters import CREDITOR, notice_request
from workflows.invoice_dunning import InvoiceDunning


def resend_request(language: str = "fr") -> MessageRequest:
    request = notice_request("invoice_resend", customer={"language": language})
    # Part paid already: the copy states what is left.
    return request.model_copy(
        update={"channel": Channel.EMAIL, "paid": Decimal("200.00"), "balance": Decimal("1000.00")}
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "fr",
            [
                "COPIE DE FACTURE",
                "Date d'émission 5 janvier 2026",
                "Date d'échéance 4 février 2026",
                "Commande / contrat BC-2025-118",
                "Montant TTC 1\u202f200,00\xa0€",
                "Déjà réglé 200,00\xa0€",
                "Reste dû 1\u202f000,00\xa0€",
                "FR7630003036200002026123456",
                "RF69 F202 6004 2",
                "SIREN 732 829 320",
                "Merci de nous accuser réception",
            ],
        ),
        (
            "en",
            [
                "COPY OF INVOICE",
                "Issue date 5 January 2026",
                "Due date 4 February 2026",
                "Amount incl. VAT €1,200.00",
                "Balance due €1,000.00",
                "Please acknowledge receipt",
            ],
        ),
    ],
)
def test_the_invoice_copy_carries_the_invoice_data(language: str, expected: list[str]) -> None:
    request = resend_request(language)
    text = pdf_text(render_invoice_copy(request, CREDITOR))
    assert [item for item in expected if item not in text] == []
    assert request.invoice_id in text


def test_the_resend_email_attaches_the_copy_and_asks_for_acknowledgement(
    tmp_path: Path, sendgrid: FakeSendGrid
) -> None:
    case_file = CaseFile(tmp_path / "cases")
    adapter = SendGridEmail("SG.test-key", sendgrid.url, "relances@exemple.fr", "Exemple", TrackingRefs(TRACKING_KEY))
    emails = EmailActivities(SentLedger(tmp_path / "l.sqlite3"), adapter, CREDITOR, case_file)
    request = resend_request()
    delivery = ActivityEnvironment().run(emails.send_email, request)
    [sent] = sendgrid.requests
    [attachment] = sent["attachments"]
    assert attachment["filename"] == f"copie-facture-{request.invoice_id}.pdf"
    assert attachment["type"] == "application/pdf"
    assert attachment["disposition"] == "attachment"
    pdf = base64.b64decode(attachment["content"])
    assert request.invoice_id in pdf_text(pdf)
    assert "Merci de nous en accuser réception" in sent["text"]
    assert "ci-joint une copie de la facture" in sent["text"]
    # The case keeps the attached copy and the hash of the text that went out.
    assert delivery.document is not None
    assert case_file.read(delivery.document) == pdf
    assert delivery.content_sha256 == hashlib.sha256(sent["text"].encode()).hexdigest()
    assert delivery.recipient == "compta@martin.example"


def test_the_outbox_keeps_the_attachment_and_other_emails_have_none(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    emails = EmailActivities(SentLedger(tmp_path / "l.sqlite3"), OutboxEmail(outbox), CREDITOR, CaseFile(tmp_path))
    resend = resend_request("en")
    ActivityEnvironment().run(emails.send_email, resend)
    reminder = notice_request("level1_email").model_copy(update={"channel": Channel.EMAIL})
    plain = ActivityEnvironment().run(emails.send_email, reminder)
    folder = Outbox(outbox, "email").directory
    assert (folder / resend.message_id / f"invoice-copy-{resend.invoice_id}.pdf").read_bytes().startswith(b"%PDF-")
    assert sorted(p.name for p in (folder / reminder.message_id).iterdir()) == [
        "body.html",
        "body.txt",
        "envelope.json",
    ]
    assert plain.document is None
    text = (folder / reminder.message_id / "body.txt").read_bytes()
    assert plain.content_sha256 == hashlib.sha256(text).hexdigest()


def test_an_sms_delivery_names_the_number_and_hashes_the_text(tmp_path: Path) -> None:
    sms = SmsActivities(SentLedger(tmp_path / "l.sqlite3"), OutboxSms(tmp_path), CREDITOR)
    request = notice_request("level2_sms").model_copy(update={"channel": Channel.SMS})
    delivery = ActivityEnvironment().run(sms.send_sms, request)
    text = (Outbox(tmp_path, "sms").directory / request.message_id / "body.txt").read_bytes()
    assert delivery.recipient == "+33612345678"
    assert delivery.content_sha256 == hashlib.sha256(text).hexdigest()


async def test_a_call_reporting_a_lost_invoice_sends_its_copy_as_a_pdf(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    async with harness.worker():
        handle = await harness.start(make_invoice(due))
        await advance_to(harness, at_step(due, -7))
        await handle.signal(
            InvoiceDunning.call_logged, CallLogged(step="preventive_call", outcome="invoice_not_received")
        )
        await advance_to(harness, at_step(due, -6))
        status = await handle.query(InvoiceDunning.status)
        await close_case(handle)
    # By e-mail and by post, each a message of its own on the case's trail.
    resends = [(a.channel, a.status) for a in status.actions if a.step == "invoice_resend"]
    assert resends == [("email", "sent"), ("letter", "sent")]
    by_post = [m for m in status.messages if m.step == "invoice_resend" and m.channel == "letter"]
    [posted] = [e for e in harness.outbox("letters") if e["message_id"] == by_post[0].message_id]
    assert posted["registered"] is False
    letter_pdf = (
        Outbox(harness.settings.outbox_dir, "letters").directory / posted["message_id"] / "letter.pdf"
    ).read_bytes()
    assert "COPIE DE FACTURE" in pdf_text(letter_pdf)
    assert by_post[0].content_sha256 == hashlib.sha256(letter_pdf).hexdigest()
    [resend] = [r for r in harness.sendgrid.requests if r["custom_args"]["step"] == "invoice_resend"]
    [attachment] = resend["attachments"]
    assert base64.b64decode(attachment["content"]).startswith(b"%PDF-")
    kept = list(harness.settings.case_file_dir.glob("*/invoice_resend-*.pdf"))
    assert base64.b64decode(attachment["content"]) in [p.read_bytes() for p in kept]
