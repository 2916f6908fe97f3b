"""The customer digest's e-mail: render the invoices it lists, claim them, send once.

Claims, in this order, in the sent-ledger the other reminders use:
1. the digest's own message id: SENT or in doubt from an earlier attempt, and this attempt reports
   that for every invoice without sending (as `deliver_once` does for one message);
2. each invoice's own message id, the one its case claims when it sends on its own: one found
   claimed means the case (its fallback) got there first, so every claim is released and the
   invoices taken are reported, for the digest workflow to send the others without them;
3. then the provider call, after which every claim is marked sent with the digest's provider id, so
   a case's later own attempt finds its message sent and sends nothing.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from babel.numbers import format_currency
from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError

from activities import metrics
from activities.delivery import ChannelAdapter, InDoubtDeliveryError, PermanentDeliveryError, TransientDeliveryError
from activities.email.adapters import Email
from activities.ledger import ClaimState, Ledger
from activities.rendering import LOCALES, build_context, channel_overrides, template_environment
from domain.delivery import Delivery, DeliveryStatus
from domain.digest import DigestRequest, DigestResult
from domain.ladder import Channel
from dunning.contract import ActivityName
from dunning.settings import Creditor

TEMPLATES = Path(__file__).parent / "templates"
CHANNEL = Channel.EMAIL.value


class DigestRenderer:
    def __init__(self, creditor: Creditor, template_dir: Path | None = None) -> None:
        self._creditor = creditor
        self._templates = template_environment(TEMPLATES, channel_overrides(template_dir, TEMPLATES.parent))

    def render(self, request: DigestRequest) -> Email:
        latest = request.latest
        contexts = [build_context(m, self._creditor) for m in request.entries]
        total = sum((m.balance for m in request.entries), Decimal(0))
        with_penalties = [c.values["penalties"] for c in contexts if c.values["penalties"]]
        values = {
            "level": latest.level or 0,
            "count": len(request.entries),
            "total": str(format_currency(total, latest.currency, locale=LOCALES[latest.customer.language])),
            "invoices": [c.values for c in contexts],
            "penalties": with_penalties[0] if with_penalties else None,
            "customer": latest.customer,
            "creditor": self._creditor,
        }
        template = self._templates.get_template(f"{latest.customer.language}/digest.txt")
        module = template.make_module({"d": values})
        return Email(
            message_id=request.message_id,
            workflow_id=request.workflow_id,
            to_email=str(latest.customer.email),
            to_name=latest.customer.name,
            subject=str(module.subject).strip(),  # type: ignore[attr-defined]
            text=str(module).strip() + "\n",
            custom_args={"step": request.step, "message_id": request.message_id},
            notes=tuple(note for c in contexts for note in c.notes),
        )


def deliver_digest(
    ledger: Ledger, request: DigestRequest, email: Email, adapter: ChannelAdapter[Email]
) -> DigestResult:
    trail = Trail(email, adapter.name)
    claim = ledger.claim(request.message_id, request.workflow_id, request.step, CHANNEL)
    if claim.state is ClaimState.SENT:
        # That attempt may have died before marking every invoice: marked now.
        provider = claim.provider or adapter.name
        for m in request.entries:
            ledger.mark_sent(m.message_id, provider, claim.provider_message_id)
        return DigestResult(delivery=trail.delivery(request, provider, claim.provider_message_id, claim.sent_at))
    if claim.state is ClaimState.IN_DOUBT:
        activity.logger.warning("%s: an earlier attempt died while sending; not re-sent", request.message_id)
        detail = (
            f"an earlier attempt died while sending: check {adapter.name} for message_id {request.message_id}"
            " before sending by hand"
        )
        return DigestResult(delivery=trail.unconfirmed(request, detail))
    claimed, taken = [request.message_id], list[str]()
    for m in request.entries:
        state = ledger.claim(m.message_id, m.workflow_id, m.step, CHANNEL, presume_dead=False).state
        (claimed if state is ClaimState.CLAIMED else taken).append(m.message_id)
    if taken:
        _release(ledger, claimed)
        return DigestResult(taken=taken)
    try:
        receipt = adapter.send(email)
    except InDoubtDeliveryError as err:
        # The claims stay: a retry reports the digest unconfirmed, a case's own attempt its message.
        raise ApplicationError(str(err), type="InDoubtDeliveryError") from err
    except CancelledError:
        raise
    except PermanentDeliveryError as err:
        _release(ledger, claimed)
        raise ApplicationError(str(err), type="PermanentDeliveryError", non_retryable=True) from err
    except TransientDeliveryError as err:
        _release(ledger, claimed)
        raise ApplicationError(str(err), type="TransientDeliveryError") from err
    except Exception:
        _release(ledger, claimed)
        raise
    # Outside the try: if recording fails, the provider has the message and the claims must stay.
    accepted_at = ledger.mark_sent(request.message_id, receipt.provider, receipt.provider_message_id)
    for message_id in claimed[1:]:
        ledger.mark_sent(message_id, receipt.provider, receipt.provider_message_id)
    delivery = trail.delivery(request, receipt.provider, receipt.provider_message_id, accepted_at)
    return DigestResult(delivery=delivery.model_copy(update={"detail": "; ".join(email.notes) or None}))


def _release(ledger: Ledger, message_ids: list[str]) -> None:
    for message_id in message_ids:
        ledger.release(message_id)


@dataclass(frozen=True)
class Trail:
    """What every case's trail records of the digest: its id, recipient and content hash."""

    email: Email
    provider: str

    def delivery(
        self, request: DigestRequest, provider: str, provider_message_id: str | None, accepted_at: datetime | None
    ) -> Delivery:
        return Delivery(
            message_id=request.message_id,
            status=DeliveryStatus.SENT,
            provider=provider,
            provider_message_id=provider_message_id,
            accepted_at=accepted_at,
            recipient=self.email.sent_to,
            content_sha256=hashlib.sha256(self.email.sent_content).hexdigest(),
        )

    def unconfirmed(self, request: DigestRequest, detail: str) -> Delivery:
        sent = self.delivery(request, self.provider, None, None)
        return sent.model_copy(update={"status": DeliveryStatus.UNCONFIRMED, "detail": detail})


class DigestActivities:
    def __init__(
        self, ledger: Ledger, adapter: ChannelAdapter[Email], creditor: Creditor, template_dir: Path | None = None
    ) -> None:
        self._ledger = ledger
        self._adapter = adapter
        self.render = DigestRenderer(creditor, template_dir).render

    @activity.defn(name=ActivityName.SEND_DIGEST)
    def send_digest(self, request: DigestRequest) -> DigestResult:
        # Rendering first: a template error must not leave a claim behind.
        email = self.render(request)
        try:
            result = deliver_digest(self._ledger, request, email, self._adapter)
        except ApplicationError as error:
            metrics.count_failure(request.step, CHANNEL, error.type or "ApplicationError")
            raise
        except Exception as error:
            metrics.count_failure(request.step, CHANNEL, type(error).__name__)
            raise
        if result.delivery is not None:
            metrics.count_reminder(request.step, CHANNEL, result.delivery.status)
            status = result.delivery.status.value
            activity.logger.info(
                "%s digest by email: %s", request.step, status, extra={"step": request.step, "status": status}
            )
        return result
