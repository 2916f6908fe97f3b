"""The dated timeline of a simulated case: one row per action, with what its message said.

What was sent comes from the outbox the channels wrote (an e-mail's subject, an SMS's first line, a
letter's object line, the dossier's addressee). The amounts are the ones the message states: the
balance, penalties, the 40 EUR indemnity and the total claimed, each computed from the request the
case gave the channel (as the template got them) and kept only if the rendered text says it, so an
operator's template that leaves one out shows it left out. The dossier's come from its data file.
"""

import json
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import lxml.html

from activities.rendering import build_context, business_claim
from domain.delivery import MessageRequest
from domain.ladder import Channel
from domain.models import Action, ActionStatus, SentMessage
from domain.penalties import RECOVERY_INDEMNITY, PenaltyPolicy, late_penalties
from dunning.settings import Creditor
from starter.simulation.runner import CaseRun
from starter.simulation.shift import Shift

OUTBOX_FOLDERS = {
    Channel.EMAIL: "email",
    Channel.SMS: "sms",
    Channel.REGISTERED_LETTER: "letters",
    Channel.LETTER: "letters",
    Channel.LITIGATION: "litigation",
}
DELIVERED = (ActionStatus.SENT, ActionStatus.UNCONFIRMED)
_OUTBOX_STAMP = re.compile(r"^letter (?P<status>accepted|posted) \d{4}-\d{2}-\d{2} \d{2}:\d{2} Paris$")


@dataclass(frozen=True)
class Sent:
    to: str  # the kind of recipient, never the address itself
    summary: str


@dataclass(frozen=True)
class Row:
    at: datetime  # Paris, on the invoice's own calendar
    step: str
    channel: str
    status: str
    detail: str | None
    sent: Sent | None
    amounts: dict[str, Decimal]
    stage_after: str

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "date": self.at.date().isoformat(),
            "weekday": f"{self.at:%a}",
            "step": self.step,
            "channel": self.channel,
            "status": self.status,
            "detail": self.detail,
            "sent": {"to": self.sent.to, "summary": self.sent.summary} if self.sent else None,
            "amounts": {name: str(value) for name, value in self.amounts.items()},
            "stage_after": self.stage_after,
        }


@dataclass(frozen=True)
class Reader:
    outbox: Path
    shift: Shift
    creditor: Creditor
    penalties: PenaltyPolicy

    def rows(self, run: CaseRun) -> list[Row]:
        return [
            self.row(run, action, stage.value) for action, stage in zip(run.status.actions, run.stages, strict=True)
        ]

    def row(self, run: CaseRun, action: Action, stage: str) -> Row:
        message = _message_of(action, run.status.messages) if action.status in DELIVERED else None
        sent, amounts = None, {}
        if message is not None:
            folder = self.outbox / OUTBOX_FOLDERS[Channel(message.channel)] / message.message_id
            request = run.requests.get(message.message_id)
            if (folder / "envelope.json").exists():
                sent, text = self._sent(Channel(message.channel), folder)
                if Channel(message.channel) is Channel.LITIGATION:
                    amounts = _dossier_amounts(folder)
                elif request is not None:
                    amounts = self._stated(request, text)
        return Row(
            at=self.shift.back_instant(action.at),
            step=action.step,
            channel=action.channel,
            status=action.status.value,
            detail=self._detail(action),
            sent=sent,
            amounts=amounts,
            stage_after=stage,
        )

    def _sent(self, channel: Channel, folder: Path) -> tuple[Sent, str]:
        envelope = json.loads((folder / "envelope.json").read_text(encoding="utf-8"))
        if channel is Channel.EMAIL:
            text = (folder / "body.txt").read_text(encoding="utf-8")
            return Sent("e-mail", self.shift.text_back(envelope["subject"])), text
        if channel is Channel.SMS:
            text = (folder / "body.txt").read_text(encoding="utf-8")
            return Sent("mobile", self.shift.text_back(text.splitlines()[0])), text
        if channel is Channel.LITIGATION:
            return Sent(envelope["destination"], f"dossier for {envelope['addressee']}"), ""
        document = lxml.html.document_fromstring((folder / "letter.html").read_text(encoding="utf-8"))
        subject = " ".join(" ".join(_text(p) for p in document.iterfind(".//p[@class='object']")).split())
        kind = "post, registered" if envelope.get("registered") else "post"
        return Sent(kind, self.shift.text_back(subject)), _text(document)

    def _detail(self, action: Action) -> str | None:
        if action.detail is None:
            return None
        # The outbox reports a letter accepted and posted the moment it writes it, in real time: a
        # date of today among the simulated ones would only mislead.
        stamped = _OUTBOX_STAMP.match(action.detail)
        return f"letter {stamped['status']} (outbox)" if stamped else self.shift.text_back(action.detail)

    def _stated(self, request: MessageRequest, text: str) -> dict[str, Decimal]:
        """The amounts of the request that the rendered text states, as the template formatted them."""
        values = build_context(request, self.creditor).values
        flat = " ".join(text.split())
        stated: dict[str, Decimal] = {}
        if _says(flat, values["balance"]):
            stated["balance"] = request.balance
        penalties = values["penalties"]
        if penalties is None:
            return stated
        computed = late_penalties(business_claim(request), self.penalties) if penalties.interest else None
        if computed is not None and _says(flat, penalties.interest):
            stated["penalties"] = computed.interest
        if _says(flat, penalties.indemnity):
            stated["indemnity"] = RECOVERY_INDEMNITY
        if computed is not None and penalties.total_claimed and _says(flat, penalties.total_claimed):
            stated["total_claimed"] = request.balance + computed.total
        return stated


def _text(element: lxml.html.HtmlElement) -> str:
    return "".join(str(piece) for piece in element.itertext())


def _says(text: str, formatted: str) -> bool:
    # Formatted amounts carry (narrow) no-break spaces; the text is compared with its spaces folded.
    return " ".join(formatted.split()) in text


def _message_of(action: Action, messages: list[SentMessage]) -> SentMessage | None:
    """The message a step's action sent: same step and channel, recorded at the action's instant."""
    candidates = [m for m in messages if m.step == action.step and m.channel == action.channel]
    before = [m for m in candidates if m.sent_at <= action.at]
    return min(before or candidates, key=lambda m: abs(m.sent_at - action.at), default=None)


def _dossier_amounts(folder: Path) -> dict[str, Decimal]:
    """What the dossier claims, from its data file (the requête states the same figures)."""
    envelope = json.loads((folder / "envelope.json").read_text(encoding="utf-8"))
    with zipfile.ZipFile(envelope["dossier"]) as archive:
        claim = json.loads(archive.read("donnees/dossier.json"))["claim"]
    names = {"principal": "balance", "penalties": "penalties", "indemnity": "indemnity", "total": "total_claimed"}
    # A consumer owes no indemnity, and penalties not quantified are null: neither is stated.
    return {ours: Decimal(str(claim[theirs])) for theirs, ours in names.items() if claim.get(theirs)}
