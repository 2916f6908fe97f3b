"""SMS reminders. Only the outbox adapter exists yet; a provider adapter (Twilio, Brevo) plugs in
behind the same `ChannelAdapter[Sms]` contract."""

from dataclasses import dataclass, field
from pathlib import Path

from temporalio import activity

from activities.delivery import ChannelAdapter, Receipt, deliver_once
from activities.ledger import SentLedger
from activities.outbox import Outbox
from activities.rendering import build_context, channel_overrides, template_environment
from domain.delivery import Delivery, MessageRequest
from dunning.contract import ActivityName
from dunning.settings import Creditor

PACKAGE = Path(__file__).parent
TEMPLATES = PACKAGE / "templates"


@dataclass(frozen=True)
class Sms:
    message_id: str
    to: str
    text: str
    notes: tuple[str, ...] = field(default=())

    @property
    def sent_to(self) -> str:
        return self.to

    @property
    def sent_content(self) -> bytes:
        return self.text.encode()

    @property
    def document(self) -> None:
        return None


class OutboxSms:
    name = "outbox"

    def __init__(self, root: Path) -> None:
        self._outbox = Outbox(root, "sms")

    def send(self, message: Sms) -> Receipt:
        self._outbox.write(
            message.message_id,
            {"message_id": message.message_id, "to": message.to},
            {"body.txt": message.text},
        )
        return Receipt(provider=self.name, provider_message_id=message.message_id)


class SmsRenderer:
    def __init__(self, creditor: Creditor, template_dir: Path | None = None) -> None:
        self._creditor = creditor
        self._templates = template_environment(TEMPLATES, channel_overrides(template_dir, PACKAGE))

    def render(self, request: MessageRequest) -> Sms:
        if request.customer.phone is None:
            raise ValueError(f"{request.message_id}: no phone number (the workflow skips SMS steps without one)")
        context = build_context(request, self._creditor)
        template = self._templates.get_template(f"{request.customer.language}/{request.step}.txt")
        text = " ".join(template.render(m=context.values).split())
        return Sms(message_id=request.message_id, to=request.customer.phone, text=text, notes=context.notes)


class SmsActivities:
    def __init__(
        self, ledger: SentLedger, adapter: ChannelAdapter[Sms], creditor: Creditor, template_dir: Path | None = None
    ) -> None:
        self._ledger = ledger
        self._adapter = adapter
        self.render = SmsRenderer(creditor, template_dir).render

    @activity.defn(name=ActivityName.SEND_SMS)
    def send_sms(self, request: MessageRequest) -> Delivery:
        return deliver_once(self._ledger, request, self.render, self._adapter)
