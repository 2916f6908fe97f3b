"""Builders for the litigation-dossier tests: a hand-over as the workflow sends it, with the letters
and proofs it names really kept in a case file, and the dossier read back from its ZIP."""

import hashlib
import io
import json
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from activities.case_file import CaseFile
from activities.ledger import SentLedger
from activities.letters.documents import LetterRenderer, html_to_pdf
from activities.litigation import LitigationActivities, OutboxLitigation
from domain.delivery import HandoverRequest, MessageRequest, PaymentLine, message_id_for
from domain.ladder import Channel
from domain.models import Action, ActionStatus, Customer, LetterStatus, Proof, ProofKind, SentMessage
from dunning.settings import Creditor, HandoverSettings

WORKFLOW_ID = "invoice-F-0042"
# In a semester whose rates are in the data (2026 S1), so the penalties are quantified.
AS_OF = date(2026, 6, 16)
DUE_ON = date(2026, 1, 1)
PAID_ON = date(2026, 2, 1)


def customer(city: str = "Paris", postcode: str = "75011", kind: str = "business") -> Customer:
    return Customer.model_validate(
        {
            "customer_id": "C-0017",
            "name": "Boulangerie Martin SARL" if kind == "business" else "Jeanne Martin",
            "kind": kind,
            "email": "compta@martin.example",
            "language": "fr",
            "siren": "732829320" if kind == "business" else None,
            "postal_address": {"lines": ["12 rue Oberkampf"], "postcode": postcode, "city": city},
        }
    )


def message_request(step: str, channel: Channel, debtor: Customer, as_of: date = AS_OF) -> MessageRequest:
    return MessageRequest(
        message_id=message_id_for(WORKFLOW_ID, step),
        workflow_id=WORKFLOW_ID,
        step=step,
        channel=channel,
        invoice_id="F-0042",
        issued_on=date(2025, 12, 1),
        due_on=DUE_ON,
        amount=Decimal("1200.00"),
        credited=Decimal("0.00"),
        paid=Decimal("200.00"),
        balance=Decimal("1000.00"),
        currency="EUR",
        payment_reference=None,
        customer=debtor,
        as_of=as_of,
        days_overdue=(as_of - DUE_ON).days,
        payments=[PaymentLine(received_on=PAID_ON, amount=Decimal("200.00"))],
        order_reference="BC-2026-118",
    )


def kept_formal_notice(case_file: CaseFile, debtor: Customer) -> SentMessage:
    """The formal notice as the letters activity keeps it (its real PDF), posted and signed for, with
    both proofs in the case file."""
    request = message_request("formal_notice", Channel.REGISTERED_LETTER, debtor, date(2026, 5, 20))
    request = request.model_copy(update={"deadline": date(2026, 6, 5)})
    pdf = LetterRenderer(Creditor()).pdf(request, "formal_notice")
    path, sha = case_file.put(WORKFLOW_ID, f"formal_notice-{request.message_id}.pdf", pdf)
    proofs = []
    for kind in (ProofKind.DEPOSIT, ProofKind.RECEIPT):
        proof_pdf = html_to_pdf(f"<p>La Poste : {kind.value} du pli 1A23456789012</p>")
        proof_path, proof_sha = case_file.put(WORKFLOW_ID, f"{request.message_id}-{kind.value}-proof.pdf", proof_pdf)
        proofs.append(Proof(kind=kind, path=proof_path, sha256=proof_sha))
    return SentMessage(
        message_id=request.message_id,
        step="formal_notice",
        channel="registered_letter",
        sent_at=datetime(2026, 5, 20, 8, 0, tzinfo=UTC),
        status=ActionStatus.SENT,
        provider="merci_facteur",
        provider_message_id="MF-991",
        recipient="Boulangerie Martin SARL, 12 rue Oberkampf, 75011 Paris, FR",
        content_sha256=sha,
        document=path,
        delivery="delivered",
        letter_outcome=LetterStatus.DELIVERED,
        outcome_at=datetime(2026, 5, 23, 10, 0, tzinfo=UTC),
        proofs=proofs,
    )


def reminder_email() -> SentMessage:
    return SentMessage(
        message_id=message_id_for(WORKFLOW_ID, "level1_email"),
        step="level1_email",
        channel="email",
        sent_at=datetime(2026, 1, 8, 8, 0, tzinfo=UTC),
        status=ActionStatus.SENT,
        provider="sendgrid",
        provider_message_id="sg-abc",
        recipient="compta@martin.example",
        content_sha256=hashlib.sha256(b"Bonjour").hexdigest(),
        delivery="delivered",
    )


def make_handover(case_file: CaseFile, debtor: Customer | None = None) -> HandoverRequest:
    debtor = debtor or customer()
    actions = [
        Action(
            step="promise_to_pay",
            channel="customer",
            at=datetime(2026, 1, 20, 9, 0, tzinfo=UTC),
            status=ActionStatus.RECORDED,
            detail="1000.00 EUR promised for 2026-01-31",
        ),
        Action(
            step="dispute_opened",
            channel="customer",
            at=datetime(2026, 2, 2, 9, 0, tzinfo=UTC),
            status=ActionStatus.RECORDED,
            detail="livraison incomplète",
        ),
    ]
    return HandoverRequest(
        message=message_request("litigation_handover", Channel.LITIGATION, debtor),
        actions=actions,
        messages=[reminder_email(), kept_formal_notice(case_file, debtor)],
    )


def litigation(root: Path, settings: HandoverSettings | None = None) -> LitigationActivities:
    return LitigationActivities(
        SentLedger(root / "ledger.sqlite3"),
        OutboxLitigation(root / "outbox", root / "dossiers"),
        Creditor(),
        CaseFile(root / "cases"),
        settings or HandoverSettings(destination="court"),
    )


def unzip(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return {name: z.read(name) for name in z.namelist()}


def manifest(files: dict[str, bytes]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(files["manifest.json"])["files"]
    return entries


def named(files: dict[str, bytes], part: str) -> bytes:
    """The one file whose name contains `part`."""
    matches = [content for name, content in files.items() if part in name]
    assert len(matches) == 1, f"{part}: {sorted(files)}"
    return matches[0]
