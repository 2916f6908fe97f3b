"""Registered letters (LRAR): the level 2 demand and the formal notice (mise en demeure).

Rendered to HTML here; the outbox adapter stores it. Printing to PDF and posting through a registered
mail provider (AR24, Maileva, Merci Facteur) plug in behind the same `ChannelAdapter[Letter]`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from temporalio import activity

from activities.delivery import ChannelAdapter, Receipt, deliver_once
from activities.ledger import SentLedger
from activities.outbox import Outbox
from activities.rendering import build_context, template_environment
from domain.delivery import Delivery, MessageRequest
from domain.models import PostalAddress
from dunning.contract import ActivityName
from dunning.settings import Creditor

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Letter:
    message_id: str
    recipient: str
    address: PostalAddress
    html: str
    registered: bool = True
    notes: tuple[str, ...] = field(default=())


class OutboxLetters:
    name = "outbox"

    def __init__(self, root: Path) -> None:
        self._outbox = Outbox(root, "letters")

    def send(self, message: Letter) -> Receipt:
        self._outbox.write(
            message.message_id,
            {
                "message_id": message.message_id,
                "recipient": message.recipient,
                "address": message.address.model_dump(),
                "registered": message.registered,
            },
            {"letter.html": message.html},
        )
        return Receipt(provider=self.name, provider_message_id=message.message_id)


class LetterActivities:
    def __init__(self, ledger: SentLedger, adapter: ChannelAdapter[Letter], creditor: Creditor) -> None:
        self._ledger = ledger
        self._adapter = adapter
        self._creditor = creditor
        self._templates = template_environment(TEMPLATES)

    def render(self, request: MessageRequest) -> Letter:
        address = request.customer.postal_address
        if address is None:
            raise ValueError(f"{request.message_id}: no postal address (the workflow skips letters without one)")
        context = build_context(request, self._creditor)
        template = self._templates.get_template(f"{request.customer.language}/{request.step}.html")
        return Letter(
            message_id=request.message_id,
            recipient=request.customer.name,
            address=address,
            html=template.render(m=context.values),
            notes=context.notes,
        )

    @activity.defn(name=ActivityName.SEND_REGISTERED_LETTER)
    def send_registered_letter(self, request: MessageRequest) -> Delivery:
        return deliver_once(self._ledger, request, self.render, self._adapter)
