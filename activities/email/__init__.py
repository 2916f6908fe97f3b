"""E-mail reminders: render the step's template, deliver once through SendGrid or the outbox."""

from pathlib import Path

from temporalio import activity

from activities.case_file import CaseFile
from activities.delivery import ChannelAdapter, deliver_once
from activities.email.adapters import Email, PdfAttachment
from activities.ledger import Ledger
from activities.letters.documents import INVOICE_COPY, LetterRenderer
from activities.rendering import build_context, channel_overrides, template_environment
from domain.delivery import Delivery, MessageRequest
from domain.ladder import INVOICE_RESEND
from dunning.contract import ActivityName
from dunning.settings import Creditor

PACKAGE = Path(__file__).parent
TEMPLATES = PACKAGE / "templates"
ATTACHMENT_NAMES = {"fr": "copie-facture-{}.pdf", "en": "invoice-copy-{}.pdf"}


class EmailRenderer:
    """A step's e-mail (and its attachment) for a request; no provider, no ledger (see `dunning templates`)."""

    def __init__(self, creditor: Creditor, template_dir: Path | None = None) -> None:
        self._creditor = creditor
        self._templates = template_environment(TEMPLATES, channel_overrides(template_dir, PACKAGE))
        self._documents = LetterRenderer(creditor, template_dir)

    def render(self, request: MessageRequest) -> Email:
        context = build_context(request, self._creditor)
        template = self._templates.get_template(f"{request.customer.language}/{request.template_name}.txt")
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
            attachment=self._attachment(request),
        )

    def _attachment(self, request: MessageRequest) -> PdfAttachment | None:
        # The customer said the invoice never arrived: the resend carries a copy of it.
        if request.step != INVOICE_RESEND:
            return None
        name = ATTACHMENT_NAMES[request.customer.language].format(request.invoice_id.replace("/", "-"))
        return PdfAttachment(filename=name, content=self._documents.pdf(request, INVOICE_COPY))


class EmailActivities:
    def __init__(
        self,
        ledger: Ledger,
        adapter: ChannelAdapter[Email],
        creditor: Creditor,
        case_file: CaseFile | None = None,
        template_dir: Path | None = None,
    ) -> None:
        self._ledger = ledger
        self._adapter = adapter
        self._case_file = case_file
        self.render = EmailRenderer(creditor, template_dir).render

    @activity.defn(name=ActivityName.SEND_EMAIL)
    def send_email(self, request: MessageRequest) -> Delivery:
        return deliver_once(self._ledger, request, self.render, self._adapter, self._case_file)
