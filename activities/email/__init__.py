"""E-mail reminders: render the step's template, deliver once through SendGrid or the outbox."""

from pathlib import Path

from temporalio import activity

from activities.delivery import ChannelAdapter, deliver_once
from activities.email.adapters import Email
from activities.ledger import SentLedger
from activities.rendering import build_context, template_environment
from domain.delivery import Delivery, MessageRequest
from dunning.contract import ActivityName
from dunning.settings import Creditor

TEMPLATES = Path(__file__).parent / "templates"


class EmailActivities:
    def __init__(self, ledger: SentLedger, adapter: ChannelAdapter[Email], creditor: Creditor) -> None:
        self._ledger = ledger
        self._adapter = adapter
        self._creditor = creditor
        self._templates = template_environment(TEMPLATES)

    def render(self, request: MessageRequest) -> Email:
        context = build_context(request, self._creditor)
        template = self._templates.get_template(f"{request.customer.language}/{request.step}.txt")
        module = template.make_module({"m": context.values})
        return Email(
            message_id=request.message_id,
            workflow_id=request.workflow_id,
            to_email=str(request.customer.email),
            to_name=request.customer.name,
            # Each template exports `subject` with {% set %}; jinja2's stubs cannot know it.
            subject=str(module.subject).strip(),  # type: ignore[attr-defined]
            text=str(module).strip() + "\n",
            custom_args={
                "step": request.step,
                "message_id": request.message_id,
            },
            notes=context.notes,
        )

    @activity.defn(name=ActivityName.SEND_EMAIL)
    def send_email(self, request: MessageRequest) -> Delivery:
        return deliver_once(self._ledger, request, self.render, self._adapter)
