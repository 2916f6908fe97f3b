"""Messages state only what the case's trail shows happened."""

from datetime import date, timedelta
from pathlib import Path

import pytest

from activities.email import EmailActivities
from activities.email.adapters import OutboxEmail
from activities.ledger import SentLedger
from activities.sms import OutboxSms, SmsActivities
from domain.calendar import send_slot
from domain.ladder import Channel
from domain.models import ActionStatus, CallLogged
from dunning.settings import Creditor
from tests.case_driver import drive, morning, open_case
from tests.ladders import DEFAULT_POLICY, LEGACY_POLICY

DUE = date(2027, 3, 1)


def level3_text(tmp_path: Path, language: str, outcome: dict[str, ActionStatus], called: bool) -> str:
    case = open_case(DUE, customer={"language": language})
    drive(case, morning(date(2027, 1, 1)), outcome=outcome, until=send_slot(DUE + timedelta(days=29)))
    if called:
        case.log_call(send_slot(DUE + timedelta(days=29)), CallLogged(step="level1_call", outcome="reached"))
    request = case.message(send_slot(DUE + timedelta(days=30)), "level3_email", Channel.EMAIL, "invoice-X")
    emails = EmailActivities(SentLedger(tmp_path / "l.sqlite3"), OutboxEmail(tmp_path), Creditor())
    return emails.render(request).text


@pytest.mark.parametrize(
    ("language", "letter", "phone"),
    [("fr", "courrier recommandé", "téléphone"), ("en", "registered letter", "telephone")],
)
def test_the_last_warning_names_a_letter_or_a_call_only_when_it_happened(
    tmp_path: Path, language: str, letter: str, phone: str
) -> None:
    failed = level3_text(tmp_path, language, {"level2_registered_letter": ActionStatus.FAILED}, called=False)
    assert letter not in failed.split("\n\n")[1]
    assert phone not in failed
    sent = level3_text(tmp_path, language, {}, called=True)
    assert letter in sent.split("\n\n")[1]
    assert phone in sent


def test_the_reminders_are_listed_in_a_sentence(tmp_path: Path) -> None:
    text = level3_text(tmp_path, "fr", {}, called=True)
    assert "malgré nos relances par courriel, SMS, téléphone et courrier recommandé." in text


EMAIL_STEPS = sorted(
    {
        s.name
        for policy in (LEGACY_POLICY, DEFAULT_POLICY)
        for steps in policy.ladders.values()
        for s in steps
        if s.channel is Channel.EMAIL
    }
)


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("step", EMAIL_STEPS)
def test_every_email_step_can_go_by_sms_once_the_address_bounced(tmp_path: Path, step: str, language: str) -> None:
    case = open_case(DUE, customer={"language": language})
    request = case.message(send_slot(DUE + timedelta(days=8)), step, Channel.SMS, "invoice-X")
    sms = SmsActivities(SentLedger(tmp_path / "l.sqlite3"), OutboxSms(tmp_path), Creditor()).render(request)
    assert sms.text.startswith(f"{Creditor().name}")  # the sender is named
    assert case.invoice.invoice_id in sms.text
    assert "{" not in sms.text
    assert len(sms.text) <= 320  # two SMS segments at most
