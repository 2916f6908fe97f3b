"""Registered letters (LRAR): the level 2 demand and the formal notice (mise en demeure).

Rendered here; posted by an adapter of `activities.letters.postal`.
"""

from pathlib import Path

from temporalio import activity

from activities.delivery import ChannelAdapter, deliver_once
from activities.ledger import SentLedger
from activities.letters.postal import Letter
from activities.rendering import build_context, template_environment
from domain.delivery import Delivery, MessageRequest
from domain.models import CustomerKind
from dunning.contract import ActivityName
from dunning.settings import Creditor

TEMPLATES = Path(__file__).parent / "templates"


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
            email=str(request.customer.email),
            electronic_allowed=request.customer.kind is CustomerKind.BUSINESS
            or request.customer.electronic_delivery_consent,
            notes=context.notes,
        )

    @activity.defn(name=ActivityName.SEND_REGISTERED_LETTER)
    def send_registered_letter(self, request: MessageRequest) -> Delivery:
        return deliver_once(self._ledger, request, self.render, self._adapter)
