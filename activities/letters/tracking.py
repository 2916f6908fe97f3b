"""The `track_letter` activity: what the provider now says about a registered letter, in our words.

Each provider status maps to the `LetterStatus` vocabulary through its provider's table below. A
status nobody has mapped yet is reported as `accepted` (a status that never moves a letter on) with
the provider's code in `detail`, so it reaches a person instead of crashing the poll.

`event_id` is the provider, the message id and the provider's code: the same on every poll, so the
case counts each status once. A status that makes a proof available is reported with the proof,
fetched and kept in the case file; while the provider cannot hand it out yet the status is held
back (the next poll reports both, under the same event id), for at most `PROOF_GRACE`, after which
it is reported without its proof so a missing document never hides a delivery.

Provider errors: `TrackingUnavailable` is retried by Temporal, `TrackingRefused` is not.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.case_file import CaseFile
from activities.letters.postal import PostalAdapter, ProviderEvent, TrackingRefused, TrackingUnavailable
from domain.tracking import LetterStatus, LetterStatusReported, LetterTracking, Proof, ProofKind, TrackRequest
from dunning.contract import ActivityName

PROOF_GRACE = timedelta(days=7)


@dataclass(frozen=True)
class Meaning:
    status: LetterStatus
    # The proof this status makes available, fetched and reported with it.
    proof: ProofKind | None = None
    detail: str | None = None


S = LetterStatus
_RETURNED = "returned to the sender: refused, unclaimed or wrong address (the status does not say which)"

# A paper letter avisé and left at the post office, then returned, was presented and not claimed: for
# the notice's deadline what counts is that first presentation, not the return, and the address is
# good. A return without a presentation before it stays undeliverable.
PRESENTED_CODES = frozenset({"attente_au_guichet"})
RETURNED_CODES = frozenset({"retour_expediteur", "distribue_expediteur", "archivage_pnd"})

# The codes of Merci Facteur's guide to statuses (skills/mf-preuves-courrier, "Lire un statut").
MERCI_FACTEUR = {
    # Paper letters.
    "wait": Meaning(S.ACCEPTED),
    "imprime": Meaning(S.ACCEPTED, detail="printed by Merci Facteur, to be deposited"),
    "pris_en_charge": Meaning(S.POSTED),
    "scan_pdd": Meaning(S.POSTED, ProofKind.DEPOSIT),
    "attente_presentation": Meaning(S.POSTED),
    "distribution_en_cours": Meaning(S.POSTED),
    "attente_au_guichet": Meaning(S.POSTED, detail="notice left: waiting at the post office"),
    "probleme_en_cours": Meaning(S.POSTED, detail="La Poste reports a problem in transit"),
    "probleme_resolu": Meaning(S.POSTED),
    "distribue": Meaning(S.DELIVERED),
    "non_distribuable": Meaning(S.UNDELIVERABLE),
    "retour_expediteur": Meaning(S.UNDELIVERABLE, detail=_RETURNED),
    "distribue_expediteur": Meaning(S.UNDELIVERABLE, detail=_RETURNED),
    "archivage_pnd": Meaning(S.UNDELIVERABLE, detail=_RETURNED),
    "retour_are": Meaning(S.PROOF_AVAILABLE, ProofKind.RECEIPT),
    # International transit: informative only.
    "entree_douane": Meaning(S.POSTED),
    "sortie_douane": Meaning(S.POSTED),
    "retenu_douane": Meaning(S.POSTED, detail="held by customs"),
    "transit_pays_intermediaire": Meaning(S.POSTED),
    "traitement_pays_destination": Meaning(S.POSTED),
    "prix_en_charge_pays_destinataire": Meaning(S.POSTED),
    # Electronic letters: the receipt proves acceptance, refusal or neglect.
    "envoye": Meaning(S.POSTED),
    "accept_wait": Meaning(S.POSTED),
    "accept_lock": Meaning(S.POSTED, detail="identification locked for 3 h after 6 wrong codes"),
    "accept_notification_error": Meaning(S.UNDELIVERABLE, detail="e-mail address wrong or mailbox full"),
    "accepted": Meaning(S.DELIVERED, ProofKind.RECEIPT),
    "accepted_downloaded": Meaning(S.DELIVERED, ProofKind.RECEIPT),
    "expired": Meaning(S.UNCLAIMED, ProofKind.RECEIPT),
    "refused": Meaning(S.REFUSED, ProofKind.RECEIPT),
}

# The outbox speaks our vocabulary already (a developer writes it, see activities.letters.postal).
OUTBOX = {status.value: Meaning(status) for status in LetterStatus} | {
    S.PROOF_AVAILABLE.value: Meaning(S.PROOF_AVAILABLE, ProofKind.RECEIPT)
}

STATUS_TABLES = {"merci_facteur": MERCI_FACTEUR, "outbox": OUTBOX}


class LetterTracker:
    def __init__(self, adapter: PostalAdapter, case_file: CaseFile) -> None:
        self._adapter = adapter
        self._table = STATUS_TABLES[adapter.name]
        self._case_file = case_file

    @activity.defn(name=ActivityName.TRACK_LETTER)
    def track_letter(self, request: TrackRequest) -> LetterTracking:
        if request.provider != self._adapter.name:
            raise ApplicationError(
                f"{request.message_id} was sent through {request.provider}; this worker posts through"
                f" {self._adapter.name}",
                type="WrongPostalProvider",
                non_retryable=True,
            )
        try:
            return self._track(request)
        except TrackingUnavailable as err:
            raise ApplicationError(str(err), type="TrackingUnavailable") from err
        except TrackingRefused as err:
            raise ApplicationError(str(err), type="TrackingRefused", non_retryable=True) from err

    def _track(self, request: TrackRequest) -> LetterTracking:
        now = datetime.now(UTC)
        tracking = self._adapter.track(request.provider_message_id)
        reports: list[LetterStatusReported] = []
        seen: set[str] = set()
        presented_at: datetime | None = None
        for event in tracking.events:
            event_id = f"{self._adapter.name}:{request.message_id}:{event.code}"[:200]
            if event_id in seen:
                continue
            seen.add(event_id)
            meaning = self._table.get(event.code) or Meaning(
                S.ACCEPTED, detail=f"unrecognised {self._adapter.name} status {event.code[:100]!r}"
            )
            at = event.at
            if event.code in PRESENTED_CODES and presented_at is None:
                presented_at = event.at
            elif event.code in RETURNED_CODES and presented_at is not None:
                meaning = Meaning(S.UNCLAIMED, detail=f"presented {presented_at:%Y-%m-%d}, not collected, returned")
                at = presented_at
            proofs = []
            if meaning.proof is not None:
                proof = self._keep_proof(request, tracking.proof_ref, meaning.proof, event)
                if proof is None and now - event.at < PROOF_GRACE:
                    activity.logger.info("%s: %s held back until its proof is ready", request.message_id, event.code)
                    continue
                proofs = [proof] if proof is not None else []
            detail = meaning.detail
            if meaning.proof is not None and not proofs:
                detail = f"{meaning.proof.value} proof still not available from {self._adapter.name}"
            reports.append(
                LetterStatusReported(
                    event_id=event_id,
                    message_id=request.message_id,
                    status=meaning.status,
                    at=at,
                    proofs=proofs,
                    detail=detail,
                )
            )
        return LetterTracking(message_id=request.message_id, reports=reports, checked_at=now)

    def _keep_proof(
        self, request: TrackRequest, proof_ref: str | None, kind: ProofKind, event: ProviderEvent
    ) -> Proof | None:
        if proof_ref is None:
            return None
        document = self._adapter.fetch_proof(proof_ref, kind)
        if document is None:
            return None
        # Named by message and kind: fetched again on a later poll, it replaces itself.
        name = f"{request.message_id}-{kind.value}-proof.{document.extension}"
        path, sha256 = self._case_file.put(request.workflow_id, name, document.content)
        activity.logger.info("%s: %s proof kept (%s)", request.message_id, kind.value, event.code)
        return Proof(kind=kind, path=path, sha256=sha256)
