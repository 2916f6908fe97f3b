"""The digest's send and a case's own send share the sent-ledger: never both, whatever the order.

Real activities, SendGrid adapter (the fake server) and ledger, on SQLite and on PostgreSQL.
"""

from datetime import date, timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities
from activities.email.adapters import SendGridEmail
from activities.email.digest import DigestActivities, DigestRenderer
from activities.ledger import ClaimState, Ledger
from domain.calendar import send_slot, send_window_closes
from domain.case import CaseState
from domain.delivery import DeliveryStatus, MessageRequest
from domain.digest import WINDOW, DigestEntry, DigestRequest, DigestState, digest_message_id
from domain.ladder import Channel
from domain.models import workflow_id_for
from dunning.settings import Creditor
from dunning.tracking_ref import TrackingRefs
from tests.conftest import TRACKING_KEY, make_invoice
from tests.fake_sendgrid import FakeSendGrid
from tests.ladders import DEFAULT_POLICY
from tests.ledgers import LedgerBackend

DIGEST_POLICY = DEFAULT_POLICY.model_copy(update={"name": "digest", "digest": True})
# Penalties are computed with the packaged rates, which cover 2026.
DUE = date(2026, 9, 1)


def messages(step: str = "level1_email", offset_days: int = 1, **changes: object) -> list[MessageRequest]:
    when = send_slot(DUE + timedelta(days=offset_days))
    found = []
    for amount in ("1200.00", "340.50", "89.90"):
        invoice = make_invoice(DUE, amount=amount, **changes)
        case = CaseState.open(invoice, DIGEST_POLICY)
        found.append(case.message(when, step, Channel.EMAIL, workflow_id_for(invoice.invoice_id)))
    return found


def digest_of(entries: list[MessageRequest]) -> DigestRequest:
    ids = [m.invoice_id for m in entries]
    return DigestRequest(
        message_id=digest_message_id("C-0017", entries[0].as_of, entries[0].step, ids),
        workflow_id="customer-C-0017",
        entries=entries,
    )


class Senders:
    """The digest's activity and a case's own e-mail activity, on one ledger and one provider."""

    def __init__(self, ledger: Ledger, sendgrid: FakeSendGrid, timeout: float = 10.0) -> None:
        refs = TrackingRefs(TRACKING_KEY)
        adapter = SendGridEmail("SG.test-key", sendgrid.url, "relances@exemple.fr", "Exemple", refs, timeout)
        self.digest = DigestActivities(ledger, adapter, Creditor()).send_digest
        self.own = EmailActivities(ledger, adapter, Creditor()).send_email


def test_a_retried_digest_sends_once_and_a_case_falling_back_after_it_sends_nothing(
    ledger_backend: LedgerBackend, sendgrid: FakeSendGrid
) -> None:
    senders = Senders(ledger_backend.open(), sendgrid)
    entries = messages()
    first = ActivityEnvironment().run(senders.digest, digest_of(entries))
    retried = ActivityEnvironment().run(senders.digest, digest_of(entries))
    own = ActivityEnvironment().run(senders.own, entries[0])
    assert len(sendgrid.requests) == 1
    assert first.delivery is not None
    assert retried.delivery is not None
    assert first.delivery.status is retried.delivery.status is own.status is DeliveryStatus.SENT
    # The case's trail gets the digest's provider id: the one e-mail that carried its reminder.
    assert first.delivery.provider_message_id == retried.delivery.provider_message_id == own.provider_message_id
    assert ledger_backend.open().count("sent") == 4


def test_an_invoice_its_case_claimed_first_is_left_out_and_the_digest_sends_nothing(
    ledger_backend: LedgerBackend, sendgrid: FakeSendGrid
) -> None:
    senders = Senders(ledger_backend.open(), sendgrid)
    entries = messages()
    ActivityEnvironment().run(senders.own, entries[1])
    result = ActivityEnvironment().run(senders.digest, digest_of(entries))
    assert result.delivery is None
    assert result.taken == [entries[1].message_id]
    # Every claim of that attempt was released: the digest of the two others can go.
    rest = ActivityEnvironment().run(senders.digest, digest_of([entries[0], entries[2]]))
    assert rest.delivery is not None
    assert rest.delivery.status is DeliveryStatus.SENT
    assert [r["subject"] for r in sendgrid.requests] == [
        f"Facture {entries[1].invoice_id} : règlement non constaté",
        "2 factures : règlement non constaté",
    ]
    assert entries[1].invoice_id not in sendgrid.requests[1]["text"]


def test_a_digest_the_provider_may_have_is_never_sent_again_nor_its_invoices_alone(
    ledger_backend: LedgerBackend, sendgrid: FakeSendGrid
) -> None:
    senders = Senders(ledger_backend.open(), sendgrid, timeout=0.5)
    entries = messages()
    sendgrid.script.append("hang")
    with pytest.raises(ApplicationError) as raised:
        ActivityEnvironment().run(senders.digest, digest_of(entries))
    sendgrid.release()
    assert raised.value.type == "InDoubtDeliveryError"
    retried = ActivityEnvironment().run(senders.digest, digest_of(entries))
    own = ActivityEnvironment().run(senders.own, entries[2])
    assert len(sendgrid.requests) == 1
    assert retried.delivery is not None
    assert retried.delivery.status is DeliveryStatus.UNCONFIRMED
    assert own.status is DeliveryStatus.UNCONFIRMED


def test_a_refused_digest_releases_every_claim(ledger_backend: LedgerBackend, sendgrid: FakeSendGrid) -> None:
    senders = Senders(ledger_backend.open(), sendgrid)
    entries = messages()
    sendgrid.script.append(400)
    with pytest.raises(ApplicationError) as raised:
        ActivityEnvironment().run(senders.digest, digest_of(entries))
    assert raised.value.non_retryable
    own = ActivityEnvironment().run(senders.own, entries[0])
    assert own.status is DeliveryStatus.SENT
    assert [r["answer"] for r in sendgrid.requests] == [400, 202]


def test_a_level_2_digest_in_english_states_penalties_and_the_total() -> None:
    entries = messages("level2_email", 8, customer={"language": "en"})
    email = DigestRenderer(Creditor()).render(digest_of(entries))
    assert email.subject == "Second reminder: 3 unpaid invoices"
    assert "Total due: €1,630.40" in email.text
    assert "article L441-10" in email.text
    assert email.text.count("penalties on") == 3
    assert email.custom_args == {"step": "level2_email", "message_id": digest_of(entries).message_id}


def test_batches_split_by_step_and_address_and_go_at_the_window_or_the_send_window_end() -> None:
    state = DigestState(customer_id="C-0017")
    level1, other_address = messages(), messages(customer={"email": "autre@martin.example"})
    at = send_slot(DUE + timedelta(days=1))
    for message in [*level1, other_address[0]]:
        state.add(DigestEntry(message=message, send_by=send_window_closes(at)), at, set())
    # Handed again (a retried hand-over): replaced, not added.
    state.add(DigestEntry(message=level1[0], send_by=send_window_closes(at)), at + timedelta(minutes=1), set())
    batch = state.next_batch()
    assert batch is not None
    assert batch[1] == at + WINDOW
    taken = [e.message.message_id for e in state.take(batch[0])]
    assert taken == [m.message_id for m in (level1[1], level1[2], level1[0])]
    assert [p.entry.message.message_id for p in state.pending] == [other_address[0].message_id]
    late = send_window_closes(at) - timedelta(minutes=5)
    state.add(DigestEntry(message=messages("level2_email", 8)[0], send_by=send_window_closes(at)), late, set())
    assert state.next_batch() == (state.pending[0].entry.batch, at + WINDOW)
    state.take(state.pending[0].entry.batch)
    # Handed over five minutes before its send window closes: it goes then, not ten minutes later.
    assert state.next_batch() == (state.pending[0].entry.batch, send_window_closes(at))


def test_the_digest_asking_for_an_invoice_being_sent_leaves_that_send_alone(ledger_backend: LedgerBackend) -> None:
    ledger = ledger_backend.open()
    entry = messages()[0]
    assert ledger.claim(entry.message_id, entry.workflow_id, entry.step, "email").state is ClaimState.CLAIMED
    # The case's own attempt is at the provider: the digest is no retry of it and must not mark it unconfirmed.
    probe = ledger.claim(entry.message_id, entry.workflow_id, entry.step, "email", presume_dead=False)
    assert probe.state is ClaimState.IN_DOUBT
    assert (ledger.count("sending"), ledger.count("unconfirmed")) == (1, 0)
    # So that a refusal releases it for the next attempt, as if the digest had never asked.
    ledger.release(entry.message_id)
    assert ledger.claim(entry.message_id, entry.workflow_id, entry.step, "email").state is ClaimState.CLAIMED
