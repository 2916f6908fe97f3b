"""Litigation hand-over: the case file a collection agency or lawyer needs (fr-late-payment-law §7).

The dossier carries the debt, the payments, the penalty computation and the whole reminder trail;
it is written to the outbox as JSON plus a readable summary. Delivering it to a partner's API plugs
in behind the same `ChannelAdapter[Dossier]`.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from temporalio import activity

from activities.delivery import ChannelAdapter, Receipt, deliver_once
from activities.ledger import SentLedger
from activities.outbox import Outbox
from activities.rendering import build_context
from domain.delivery import Delivery, HandoverRequest
from dunning.contract import ActivityName
from dunning.settings import Creditor


@dataclass(frozen=True)
class Dossier:
    message_id: str
    content: dict[str, Any]
    summary: str
    notes: tuple[str, ...] = field(default=())

    @property
    def sent_to(self) -> str:
        return "litigation hand-over"

    @property
    def sent_content(self) -> bytes:
        return self.dossier_json.encode()

    @property
    def document(self) -> None:
        return None

    @property
    def dossier_json(self) -> str:
        return json.dumps(self.content, indent=2, ensure_ascii=False, default=str)


class OutboxLitigation:
    name = "outbox"

    def __init__(self, root: Path) -> None:
        self._outbox = Outbox(root, "litigation")

    def send(self, message: Dossier) -> Receipt:
        self._outbox.write(
            message.message_id,
            {"message_id": message.message_id, "invoice_id": message.content["invoice"]["invoice_id"]},
            {
                "dossier.json": message.dossier_json,
                "summary.txt": message.summary,
            },
        )
        return Receipt(provider=self.name, provider_message_id=message.message_id)


class LitigationActivities:
    def __init__(self, ledger: SentLedger, adapter: ChannelAdapter[Dossier], creditor: Creditor) -> None:
        self._ledger = ledger
        self._adapter = adapter
        self._creditor = creditor

    def render(self, handover: HandoverRequest) -> Dossier:
        request = handover.message
        context = build_context(request, self._creditor)
        penalties = context.values["penalties"]
        content = {
            "creditor": {
                "name": self._creditor.name,
                "siren": self._creditor.siren,
                "address": self._creditor.address,
            },
            "debtor": request.customer.model_dump(mode="json"),
            "invoice": {
                "invoice_id": request.invoice_id,
                "issued_on": request.issued_on,
                "due_on": request.due_on,
                "amount": request.amount,
                "currency": request.currency,
                "payment_reference": request.payment_reference,
            },
            "account": {
                "paid": request.paid,
                "credited": request.credited,
                "balance": request.balance,
                "payments": [p.model_dump(mode="json") for p in request.payments],
            },
            "penalties": asdict(penalties) if penalties else None,
            "as_of": request.as_of,
            "trail": [a.model_dump(mode="json") for a in handover.actions],
        }
        sent = [a for a in handover.actions if a.status.value in ("sent", "unconfirmed", "done")]
        summary = (
            f"Invoice {request.invoice_id} due {request.due_on}: {context.values['balance']} outstanding"
            f" on {request.as_of}, {request.days_overdue} days overdue.\n"
            f"Debtor {request.customer.name} ({request.customer.kind.value}).\n"
            f"{len(sent)} reminders and calls on file; full trail in dossier.json.\n"
        )
        return Dossier(message_id=request.message_id, content=content, summary=summary, notes=context.notes)

    @activity.defn(name=ActivityName.HAND_OVER_TO_LITIGATION)
    def hand_over_to_litigation(self, handover: HandoverRequest) -> Delivery:
        return deliver_once(self._ledger, handover.message, lambda _: self.render(handover), self._adapter)
