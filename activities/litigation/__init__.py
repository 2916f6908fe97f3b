"""Litigation hand-over: the dossier a court filing or a collection agency needs (fr-late-payment-law §7).

The dossier is one ZIP (`dossier.py`): the invoice, account statement and penalty computation, every
letter and proof the case file kept, the reminder trail, disputes and promises, a bordereau, a cover
note and, for the court route, a draft requête en injonction de payer. The case records its path
in the case file and its SHA-256, like a letter's PDF. It is delivered to the dossier directory for
the person or agency it is handed to; a partner's API plugs in behind the same
`ChannelAdapter[Dossier]`.
"""

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.case_file import CaseFile
from activities.delivery import ChannelAdapter, Receipt, deliver_once
from activities.ledger import Ledger
from activities.litigation.dossier import DossierBuilder, Evidence
from activities.outbox import Outbox
from domain.calendar import paris_date
from domain.delivery import Delivery, HandoverRequest
from domain.ladder import Channel
from domain.models import SentMessage
from dunning.contract import ActivityName
from dunning.settings import Creditor, HandoverSettings

STEP_TITLES = {
    "level2_registered_letter": "Lettre recommandée de relance",
    "formal_notice": "Mise en demeure",
    "invoice_resend": "Copie de facture adressée au débiteur",
}
CHANNEL_TITLES = {
    Channel.REGISTERED_LETTER.value: "lettre recommandée",
    Channel.LETTER.value: "courrier",
    Channel.EMAIL.value: "pièce jointe d'e-mail",
}
PROOF_TITLES = {"deposit": "preuve de dépôt", "receipt": "avis de réception"}
# Channels whose recorded content hash is that of the kept document itself (the letter's PDF).
DOCUMENT_IS_CONTENT = frozenset({Channel.REGISTERED_LETTER.value, Channel.LETTER.value})


@dataclass(frozen=True)
class Dossier:
    message_id: str
    invoice_id: str
    destination: str
    addressee: str
    archive: bytes
    file_name: str
    notes: tuple[str, ...] = field(default=())

    @property
    def sent_to(self) -> str:
        return f"{self.destination}: {self.addressee}"

    @property
    def sent_content(self) -> bytes:
        return self.archive

    @property
    def document(self) -> bytes:
        return self.archive


class OutboxLitigation:
    """Puts the dossier where the person (or the agency's pick-up) takes it: the dossier directory,
    with an envelope in the litigation outbox like every other channel's."""

    name = "outbox"

    def __init__(self, root: Path, dossier_dir: Path) -> None:
        self._outbox = Outbox(root, "litigation")
        self._dossier_dir = dossier_dir

    def send(self, message: Dossier) -> Receipt:
        self._dossier_dir.mkdir(parents=True, exist_ok=True)
        target = self._dossier_dir / message.file_name
        partial = target.with_name(f".{message.file_name}.partial")
        partial.write_bytes(message.archive)
        os.replace(partial, target)
        self._outbox.write(
            message.message_id,
            {
                "message_id": message.message_id,
                "invoice_id": message.invoice_id,
                "destination": message.destination,
                "addressee": message.addressee,
                "dossier": str(target),
                "sha256": hashlib.sha256(message.archive).hexdigest(),
            },
            {},
        )
        return Receipt(provider=self.name, provider_message_id=message.message_id)


class LitigationActivities:
    def __init__(
        self,
        ledger: Ledger,
        adapter: ChannelAdapter[Dossier],
        creditor: Creditor,
        case_file: CaseFile,
        settings: HandoverSettings,
    ) -> None:
        self._ledger = ledger
        self._adapter = adapter
        self._case_file = case_file
        self._settings = settings
        self._builder = DossierBuilder(creditor, settings)

    def render(self, handover: HandoverRequest) -> Dossier:
        request = handover.message
        destination = self._destination(handover)
        built = self._builder.build(handover, self._evidence(handover.messages), destination)
        if destination == "agency":
            addressee = f"{self._settings.agency_name} <{self._settings.agency_email}>"
        else:
            addressee = built.court.addressee
        return Dossier(
            message_id=request.message_id,
            invoice_id=request.invoice_id,
            destination=destination,
            addressee=addressee,
            archive=built.archive,
            file_name=f"dossier-{quote(request.invoice_id, safe='')}-{request.message_id}.zip",
            notes=built.notes,
        )

    def _destination(self, handover: HandoverRequest) -> str:
        """The case's policy decides; without a word from it (older cases), the operator's setting."""
        if handover.destination is None:
            return self._settings.destination
        if handover.destination == "court":
            return "court"
        if not (self._settings.agency_name and self._settings.agency_email):
            # Not retried: a person configures the agency (or changes the policy), the case holds.
            raise ApplicationError(
                "the policy hands this case to a collection agency and none is configured"
                " (DUNNING_AGENCY_NAME, DUNNING_AGENCY_EMAIL)",
                type="NoAgency",
                non_retryable=True,
            )
        return "agency"

    def _evidence(self, messages: list[SentMessage]) -> list[Evidence]:
        """The documents the trail names, read back from the case file and checked against the
        hashes the case recorded: a dossier is never built on a missing or altered piece."""
        evidence = []
        for m in sorted(messages, key=lambda m: m.sent_at):
            if m.document is None:
                continue
            sent_on = f"{paris_date(m.sent_at):%d/%m/%Y}"
            title = f"{STEP_TITLES.get(m.step, m.step)} ({CHANNEL_TITLES.get(m.channel, m.channel)}) du {sent_on}"
            expected = m.content_sha256 if m.channel in DOCUMENT_IS_CONTENT else None
            content = self._kept(m.document, expected)
            evidence.append(Evidence(title, f"{m.step}-{m.channel}", "pdf", content))
            for proof in m.proofs:
                extension = Path(proof.path).suffix.lstrip(".") or "bin"
                content = self._kept(proof.path, proof.sha256)
                proof_title = f"{STEP_TITLES.get(m.step, m.step)} du {sent_on} : {PROOF_TITLES[proof.kind.value]}"
                evidence.append(Evidence(proof_title, f"{m.step}-{proof.kind.value}", extension, content))
        return evidence

    def _kept(self, path: str, sha256: str | None) -> bytes:
        try:
            content = self._case_file.read(path)
        except FileNotFoundError as err:
            raise ApplicationError(f"case file has no {path}", type="MissingEvidence", non_retryable=True) from err
        if sha256 is not None and hashlib.sha256(content).hexdigest() != sha256:
            raise ApplicationError(
                f"{path} does not match the SHA-256 the case recorded", type="AlteredEvidence", non_retryable=True
            )
        return content

    @activity.defn(name=ActivityName.HAND_OVER_TO_LITIGATION)
    def hand_over_to_litigation(self, handover: HandoverRequest) -> Delivery:
        return deliver_once(
            self._ledger,
            handover.message,
            lambda _: self.render(handover),
            self._adapter,
            self._case_file,
            document_suffix=".zip",
        )
