"""Registered letters (LRAR): the level 2 demand and the formal notice (mise en demeure), as PDF.

Rendered here (`documents`); posted by an adapter of `activities.letters.postal`; the PDF is kept in
the case file, its SHA-256 on the case.
"""

from pathlib import Path

from temporalio import activity

from activities.case_file import CaseFile
from activities.delivery import ChannelAdapter, deliver_once
from activities.ledger import Ledger
from activities.letters.documents import INVOICE_COPY, LetterRenderer, html_to_pdf
from activities.letters.postal import Letter
from domain.delivery import Delivery, MessageRequest
from domain.ladder import Channel
from domain.models import CustomerKind
from dunning.contract import ActivityName
from dunning.settings import Creditor


class LetterActivities:
    def __init__(
        self,
        ledger: Ledger,
        adapter: ChannelAdapter[Letter],
        creditor: Creditor,
        case_file: CaseFile,
        template_dir: Path | None = None,
    ) -> None:
        self._ledger = ledger
        self._adapter = adapter
        self._case_file = case_file
        self._renderer = LetterRenderer(creditor, template_dir)

    def render(self, request: MessageRequest) -> Letter:
        address = request.customer.postal_address
        if address is None:
            raise ValueError(f"{request.message_id}: no postal address (the workflow skips letters without one)")
        # A plain letter is the posted copy of an invoice (seed 002: "par courrier physique et
        # électronique"); every other letter is a registered one, rendered from its step's template.
        plain = request.channel is Channel.LETTER
        html, notes = self._renderer.html(request, INVOICE_COPY if plain else request.template_name)
        return Letter(
            message_id=request.message_id,
            recipient=request.customer.name,
            address=address,
            html=html,
            pdf=html_to_pdf(html),
            email=str(request.customer.email),
            electronic_allowed=not plain
            and (request.customer.kind is CustomerKind.BUSINESS or request.customer.electronic_delivery_consent),
            registered=not plain,
            notes=notes,
        )

    @activity.defn(name=ActivityName.SEND_REGISTERED_LETTER)
    def send_registered_letter(self, request: MessageRequest) -> Delivery:
        return deliver_once(self._ledger, request, self.render, self._adapter, self._case_file)
