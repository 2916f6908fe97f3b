"""The hand-over dossier as one ZIP (fr-late-payment-law §6-§7): numbered pieces, their bordereau,
a cover note, for the court route a draft requête en injonction de payer, and a manifest of hashes.

The same request gives the same bytes: every PDF takes its dates from the request's `as_of`, the
ZIP's entries are sorted and stamped with that day, and the JSON is written with sorted keys. So a
retried hand-over records the same SHA-256 on the case as the attempt before it.

The documents are plainly the creditor's own papers: the requête is headed as a draft for a person
to check, sign and file, with no court layout or emblem (§8, Code pénal 433-13).
"""

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from stdnum.fr import siren

from activities.letters.documents import html_to_pdf
from activities.litigation.claim import Claim, case_events, claim_of
from activities.litigation.courts import Court, competent_court, service_deadlines
from activities.rendering import template_environment
from domain.calendar import PARIS
from domain.delivery import HandoverRequest
from domain.models import ActionStatus
from dunning.settings import Creditor, HandoverSettings

PACKAGE = Path(__file__).parent
TEMPLATES = PACKAGE / "templates"
ASSETS = PACKAGE / "assets"
LOCALE = "fr_FR"
MANIFEST = "manifest.json"
TRAIL_COLUMNS = (
    "sent_at",
    "step",
    "channel",
    "recipient",
    "content_sha256",
    "provider",
    "provider_message_id",
    "status",
    "delivery",
    "delivery_at",
    "letter_outcome",
    "outcome_at",
    "document",
    "proofs",
)


@dataclass(frozen=True)
class Evidence:
    """A document the case file kept (a letter as posted, a proof), with what the bordereau calls it."""

    title: str
    slug: str  # the file's name in the dossier, without number or extension
    extension: str
    content: bytes


@dataclass(frozen=True)
class Piece:
    number: int
    title: str
    name: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class Built:
    archive: bytes
    file_names: tuple[str, ...]
    court: Court
    claim: Claim
    notes: tuple[str, ...]


def money(value: Decimal, currency: str = "EUR") -> str:
    return str(format_currency(value, currency, locale=LOCALE))


def day(value: date) -> str:
    return str(format_date(value, "long", locale=LOCALE))


def moment(value: datetime) -> str:
    return str(format_datetime(value.astimezone(PARIS), "d MMM y HH:mm", locale=LOCALE))


def percent(value: Decimal) -> str:
    return str(format_decimal(value, "#,##0.00", locale=LOCALE)) + " %"


class DossierBuilder:
    def __init__(self, creditor: Creditor, settings: HandoverSettings) -> None:
        self._creditor = creditor
        self._settings = settings
        self._templates = template_environment(TEMPLATES)
        self._templates.filters.update(money=money, day=day, moment=moment, percent=percent)

    def build(self, handover: HandoverRequest, evidence: list[Evidence], destination: str) -> Built:
        request = handover.message
        claim = claim_of(handover)
        court = competent_court(request.customer, request.as_of)
        to_agency = destination == "agency"
        values: dict[str, Any] = {
            "r": request,
            "h": handover,
            "c": self._creditor,
            "creditor_siren": siren.format(self._creditor.siren),
            "debtor_siren": siren.format(request.customer.siren) if request.customer.siren else None,
            "claim": claim,
            "court": court,
            "agency": self._settings if to_agency else None,
            "deadlines": service_deadlines(request.as_of),
            "events": case_events(handover),
            "messages": sorted(handover.messages, key=lambda m: m.sent_at),
            "reminders_sent": sum(1 for m in handover.messages if m.status is ActionStatus.SENT),
            "document_date": request.as_of.isoformat(),
        }
        pieces = self._pieces(values, evidence)
        values["pieces"] = pieces
        files: dict[str, bytes] = {p.name: p.content for p in pieces}
        files["00-bordereau-des-pieces.pdf"] = self._pdf("bordereau", values)
        # An agency recovers out of court: it gets no court draft to brandish (§8, CPCE R124-4);
        # going to court afterwards is the creditor's decision, from a dossier handed over to court.
        if not to_agency:
            files["00-projet-de-requete-injonction-de-payer.pdf"] = self._pdf("requete", values)
        files["00-note-de-transmission.pdf"] = self._pdf("note", values)
        files["donnees/dossier.json"] = _json(_data(values))
        files[MANIFEST] = _json(_manifest(files, pieces))
        notes = []
        if claim.missing_rate:
            notes.append(f"penalties not quantified: {claim.missing_rate}")
        if court.name is None:
            notes.append("competent court not determined from the shipped data: see the cover note")
        return Built(_zip(files, request.as_of), tuple(sorted(files)), court, claim, tuple(notes))

    def _pieces(self, values: dict[str, Any], evidence: list[Evidence]) -> list[Piece]:
        documents: list[tuple[str, str, bytes]] = [
            ("Copie de la facture (données de facturation)", "facture.pdf", self._pdf("facture", values)),
            ("Relevé de compte et identification du débiteur", "releve-de-compte.pdf", self._pdf("releve", values)),
            ("Décompte des pénalités de retard et de l'indemnité", "decompte.pdf", self._pdf("decompte", values)),
            *((e.title, f"{e.slug}.{e.extension}", e.content) for e in evidence),
            ("Historique des relances", "historique-des-relances.pdf", self._pdf("historique", values)),
            ("Historique des relances (tableur)", "historique-des-relances.csv", _trail_csv(values)),
            ("Contestations, promesses et échéanciers", "echanges.pdf", self._pdf("echanges", values)),
        ]
        return [
            Piece(number, title, f"pieces/{number:02d}-{name}", content)
            for number, (title, name, content) in enumerate(documents, start=1)
        ]

    def _pdf(self, template: str, values: dict[str, Any]) -> bytes:
        html = self._templates.get_template(f"{template}.html").render(**values)
        return html_to_pdf(html, ASSETS)


def _trail_csv(values: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TRAIL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for m in values["messages"]:
        row = m.model_dump(mode="json", include=set(TRAIL_COLUMNS))
        row["proofs"] = " ".join(f"{p.kind.value}:{p.sha256}" for p in m.proofs)
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in TRAIL_COLUMNS})
    return out.getvalue().encode()


def _data(values: dict[str, Any]) -> dict[str, Any]:
    """The dossier's facts for a partner's software, in the case's own shapes."""
    request, claim, court = values["r"], values["claim"], values["court"]
    c: Creditor = values["c"]
    return {
        "creditor": {"name": c.name, "legal_form": c.legal_form, "siren": c.siren, "rcs": c.rcs, "address": c.address},
        "debtor": request.customer.model_dump(mode="json"),
        "invoice": {
            "invoice_id": request.invoice_id,
            "issued_on": request.issued_on,
            "due_on": request.due_on,
            "amount": request.amount,
            "currency": request.currency,
            "order_reference": request.order_reference,
            "payment_reference": request.payment_reference,
        },
        "account": {
            "paid": request.paid,
            "credited": request.credited,
            "balance": request.balance,
            "payments": [p.model_dump(mode="json") for p in request.payments],
            "as_of": request.as_of,
        },
        "claim": {
            "principal": claim.principal,
            "penalties": claim.penalties,
            "indemnity": claim.indemnity,
            "total": claim.total,
            "penalties_from": claim.penalties_from,
            "missing_rate": claim.missing_rate,
            "segments": [s.__dict__ for s in claim.segments],
            "grounds": list(claim.grounds),
        },
        "court": {
            "name": court.name,
            "jurisdiction": court.jurisdiction,
            "reason": court.reason,
            "source": court.source,
        },
        "destination": "agency" if values["agency"] else "court",
        "trail": [m.model_dump(mode="json") for m in values["messages"]],
        "events": [e.__dict__ for e in values["events"]],
        "actions": [a.model_dump(mode="json") for a in values["h"].actions],
    }


def _manifest(files: dict[str, bytes], pieces: list[Piece]) -> dict[str, Any]:
    numbers = {p.name: p.number for p in pieces}
    titles = {p.name: p.title for p in pieces}
    return {
        "files": [
            {
                "name": name,
                "sha256": hashlib.sha256(content).hexdigest(),
                "size": len(content),
                "piece": numbers.get(name),
                "title": titles.get(name),
            }
            for name, content in sorted(files.items())
        ]
    }


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str).encode()


def _zip(files: dict[str, bytes], on: date) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            # Fixed stamp, system and permissions: nothing of the moment or the machine in the bytes.
            info = zipfile.ZipInfo(name, date_time=(on.year, on.month, on.day, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return out.getvalue()
