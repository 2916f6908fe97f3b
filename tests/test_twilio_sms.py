"""SMS through the real `twilio` client against a local fake of its API: what each answer means for
the delivery, and that a message that may have reached Twilio is never sent again."""

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, time, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.delivery import PermanentDeliveryError, TransientDeliveryError
from activities.ledger import SentLedger
from activities.sms import SmsActivities, TwilioSms
from domain.calendar import PARIS, send_slot, send_window_closes
from domain.case import CaseState
from domain.delivery import DeliveryStatus, MessageRequest
from domain.ladder import Channel
from dunning.settings import ChannelSettings, Creditor, SettingsError
from dunning.tracking_ref import TrackingRefs, new_key
from tests.conftest import Harness, advance_to, clear_due_date, close_case, make_invoice
from tests.fake_http import running
from tests.fake_twilio import FakeTwilio, RedirectedHttpClient
from tests.ladders import DEFAULT_POLICY
from worker import MAX_CONCURRENT_ACTIVITIES, build_activities, build_worker
from workflows.invoice_dunning import InvoiceDunning

SID = "AC" + "0" * 32
REFS = TrackingRefs(new_key())
BASE_URL = "https://dunning.example.test"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    yield from running(FakeTwilio())


def adapter(http_client: RedirectedHttpClient) -> TwilioSms:
    return TwilioSms(SID, "auth-token", "EXEMPLE", BASE_URL, REFS, http_client=http_client)


def level2_sms() -> MessageRequest:
    case = CaseState.open(make_invoice(date(2027, 3, 1)), DEFAULT_POLICY)
    return case.message(case.schedule()[0], "level2_sms", Channel.SMS, f"invoice-{case.invoice.invoice_id}")


def activities(tmp_path: Path, http_client: RedirectedHttpClient) -> SmsActivities:
    return SmsActivities(SentLedger(tmp_path / "ledger.sqlite3"), adapter(http_client), Creditor())


def send(tmp_path: Path, http_client: RedirectedHttpClient) -> None:
    adapter(http_client).send(activities(tmp_path, http_client).render(level2_sms()))


def test_an_accepted_sms_names_the_creditor_and_gives_twilio_only_an_opaque_callback(
    twilio: FakeTwilio, tmp_path: Path
) -> None:
    request = level2_sms()
    delivery = ActivityEnvironment().run(activities(tmp_path, twilio.http_client()).send_sms, request)
    [sent] = twilio.requests
    assert sent["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert sent["authorization"].startswith("Basic ")
    assert (sent["To"], sent["From"]) == ("+33612345678", "EXEMPLE")
    assert sent["Body"].startswith(f"{Creditor().name} : la facture {request.invoice_id}")
    assert delivery.status is DeliveryStatus.SENT
    assert delivery.provider == "twilio"
    assert (delivery.provider_message_id or "").startswith("SM")
    callback = urlsplit(sent["StatusCallback"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == f"{BASE_URL}/webhooks/twilio"
    query = parse_qs(callback.query)
    assert query["message"] == [request.message_id]
    assert REFS.workflow_id(query["ref"][0]) == request.workflow_id
    for personal in (request.invoice_id, "33612345678", "Martin"):
        assert personal not in sent["StatusCallback"]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (400, PermanentDeliveryError),
        (401, PermanentDeliveryError),
        (429, TransientDeliveryError),
        (500, TransientDeliveryError),
        (503, TransientDeliveryError),
    ],
)
def test_an_error_answer_is_permanent_or_worth_retrying(
    twilio: FakeTwilio, tmp_path: Path, answer: int, error: type[Exception]
) -> None:
    twilio.script.append(answer)
    with pytest.raises(error, match=str(answer)):
        send(tmp_path, twilio.http_client())


def test_a_refused_connection_is_worth_retrying(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Bound, never listened on, now closed: connecting is refused.
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        send(tmp_path, RedirectedHttpClient(f"http://127.0.0.1:{port}", timeout=10.0))


def test_no_answer_after_sending_is_in_doubt_and_never_sent_again(twilio: FakeTwilio, tmp_path: Path) -> None:
    twilio.script.append("hang")
    sms = activities(tmp_path, twilio.http_client(timeout=0.5))
    request = level2_sms()
    with pytest.raises(ApplicationError) as raised:
        ActivityEnvironment().run(sms.send_sms, request)
    assert raised.value.type == "InDoubtDeliveryError"
    twilio.release()
    retried = ActivityEnvironment().run(sms.send_sms, request)
    assert retried.status is DeliveryStatus.UNCONFIRMED
    assert len(twilio.requests) == 1


def channel_settings(
    tmp_path: Path, tracking_key: str | None = None, twilio_from: str = "EXEMPLE", base_url: str = BASE_URL
) -> ChannelSettings:
    return ChannelSettings(
        twilio_account_sid=SID,
        twilio_auth_token="t",
        twilio_from=twilio_from,
        webhook_base_url=base_url,
        tracking_key=tracking_key,
        var_dir=tmp_path,
    )


def test_the_worker_refuses_twilio_without_a_tracking_key_or_a_sender(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="DUNNING_TRACKING_KEY is not set but TWILIO_ACCOUNT_SID is"):
        build_activities(channel_settings(tmp_path))
    with pytest.raises(SettingsError, match="TWILIO_ACCOUNT_SID is set but not TWILIO_FROM, DUNNING_WEBHOOK_BASE_URL"):
        build_activities(channel_settings(tmp_path, tracking_key=new_key(), twilio_from="", base_url=""))
    with pytest.raises(SettingsError, match="DUNNING_TRACKING_KEY must hold 64 bytes"):
        build_activities(channel_settings(tmp_path, tracking_key="c2hvcnQ"))


async def test_an_sms_failing_all_day_is_not_sent_after_the_window_closes(harness: Harness, twilio: FakeTwilio) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    slot = send_slot(due + timedelta(days=10))
    # Twilio answers 503 to every attempt: the retries stop when the day's sending window does.
    twilio.script.extend([503] * 100)
    sms = SmsActivities(SentLedger(harness.settings.ledger_path), adapter(twilio.http_client()), Creditor())
    activities = [sms.send_sms if a.__name__ == "send_sms" else a for a in build_activities(harness.settings)]
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES) as executor:
        async with build_worker(harness.client, harness.task_queue, activities, executor):
            handle = await harness.start(make_invoice(due))
            await advance_to(harness, slot + timedelta(days=1))
            status = await handle.query(InvoiceDunning.status)
            await close_case(handle)
    [failed] = [a for a in status.actions if a.step == "level2_sms"]
    assert failed.status == "failed"
    closes = send_window_closes(slot)
    assert failed.at.astimezone(PARIS).time() < time(18, 1)
    assert closes - timedelta(hours=3) < failed.at < closes + timedelta(minutes=1)
    # Back-off from 30 s doubling to 2 h: about a dozen attempts in the nine hours, none at night.
    assert 5 < len(twilio.requests) < 16
