"""The delivery flow every channel shares: render, claim in the sent-ledger, send, record.

The adapter contract: `send` raises `InDoubtDeliveryError` when, and only when, its request may have
reached the provider (sent, then no clear answer: a timeout or a connection lost while reading the
response). Every other exception means the provider has certainly not accepted the message.

This module turns the outcome into a Temporal one and settles the claim:
- `TransientDeliveryError` (429, 5xx, provider unreachable) and any unexpected exception (a failing
  outbox write, a bug) release the claim and are retried with back-off;
- `PermanentDeliveryError` releases the claim and is not retried (the workflow records a failed step);
- `InDoubtDeliveryError` keeps the claim, so the retry reports the message unconfirmed instead of
  sending it again. So does a failure to record an accepted message in the ledger, and a
  cancellation raised into the activity thread, which can land after the request went out.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError

from activities import metrics
from activities.case_file import CaseFile
from activities.ledger import ClaimState, Ledger
from domain.delivery import Delivery, DeliveryStatus, MessageRequest


class TransientDeliveryError(Exception):
    """Certainly not delivered, worth retrying (429, 5xx, connection refused)."""


class PermanentDeliveryError(Exception):
    """Certainly not delivered and retrying will not help (400, 401, 403, 413)."""


class InDoubtDeliveryError(Exception):
    """The request may have reached the provider (no answer after sending): never resend."""


@dataclass(frozen=True)
class Receipt:
    provider: str
    provider_message_id: str | None


class Rendered(Protocol):
    """A message ready to send, with what the case's trail records of it (law reference §7)."""

    @property
    def notes(self) -> tuple[str, ...]: ...

    @property
    def sent_to(self) -> str:
        """The e-mail address, the phone number, or the addressee and postal address on one line."""
        ...

    @property
    def sent_content(self) -> bytes:
        """Exactly what the recipient gets (a letter's PDF, an e-mail's or SMS's text): its SHA-256
        goes on the case."""
        ...

    @property
    def document(self) -> bytes | None:
        """A document the case file keeps as evidence (a letter's or an attachment's PDF, the
        litigation dossier's ZIP), if any."""
        ...


M = TypeVar("M", bound=Rendered, contravariant=True)
R = TypeVar("R", bound=Rendered)


class ChannelAdapter(Protocol[M]):
    """A real provider or the local outbox; chosen by configuration, same contract."""

    name: str

    def send(self, message: M) -> Receipt: ...


@dataclass(frozen=True)
class Trail:
    """What a Delivery records of the rendered message, whichever attempt reports it."""

    recipient: str
    content_sha256: str
    document: str | None


def _trail(request: MessageRequest, rendered: Rendered, case_file: CaseFile | None, suffix: str) -> Trail:
    document = None
    if rendered.document is not None:
        if case_file is None:
            raise ValueError(f"{request.message_id}: a document to keep and no case file to keep it in")
        # Rendering is deterministic, so an attempt after a sent one writes the same bytes again.
        document, _ = case_file.put(
            request.workflow_id, f"{request.step}-{request.message_id}{suffix}", rendered.document
        )
    content_sha256 = hashlib.sha256(rendered.sent_content).hexdigest()
    return Trail(recipient=rendered.sent_to, content_sha256=content_sha256, document=document)


def deliver_once(
    ledger: Ledger,
    request: MessageRequest,
    render: Callable[[MessageRequest], R],
    adapter: ChannelAdapter[R],
    case_file: CaseFile | None = None,
    document_suffix: str = ".pdf",
) -> Delivery:
    step, channel = request.step, request.channel.value
    try:
        delivery = _deliver_once(ledger, request, render, adapter, case_file, document_suffix)
    except ApplicationError as error:
        metrics.count_failure(step, channel, error.type or "ApplicationError")
        raise
    except Exception as error:
        metrics.count_failure(step, channel, type(error).__name__)
        raise
    metrics.count_reminder(step, channel, delivery.status)
    # Step, channel and status only: the recipient and the content stay in the case's trail.
    activity.logger.info(
        "%s by %s: %s",
        step,
        channel,
        delivery.status.value,
        extra={"step": step, "channel": channel, "status": delivery.status.value},
    )
    return delivery


def _deliver_once(
    ledger: Ledger,
    request: MessageRequest,
    render: Callable[[MessageRequest], R],
    adapter: ChannelAdapter[R],
    case_file: CaseFile | None,
    document_suffix: str,
) -> Delivery:
    # Rendering first: a template error must not leave a claim behind. The document is filed before
    # sending so that a message the provider has is never missing from the case file.
    rendered = render(request)
    trail = _trail(request, rendered, case_file, document_suffix)
    claim = ledger.claim(request.message_id, request.workflow_id, request.step, request.channel.value)
    if claim.state is ClaimState.SENT:
        activity.logger.info("%s already sent by an earlier attempt", request.message_id)
        return Delivery(
            message_id=request.message_id,
            status=DeliveryStatus.SENT,
            provider=claim.provider or adapter.name,
            provider_message_id=claim.provider_message_id,
            accepted_at=claim.sent_at,
            recipient=trail.recipient,
            content_sha256=trail.content_sha256,
            document=trail.document,
        )
    if claim.state is ClaimState.IN_DOUBT:
        activity.logger.warning("%s: an earlier attempt died while sending; not re-sent", request.message_id)
        return Delivery(
            message_id=request.message_id,
            status=DeliveryStatus.UNCONFIRMED,
            provider=adapter.name,
            provider_message_id=None,
            accepted_at=None,
            detail=f"an earlier attempt died while sending: check {adapter.name} for message_id"
            f" {request.message_id} before sending by hand",
            recipient=trail.recipient,
            content_sha256=trail.content_sha256,
            document=trail.document,
        )
    try:
        receipt = adapter.send(rendered)
    except InDoubtDeliveryError as err:
        # The claim stays: the retry reports this message as unconfirmed instead of sending it again.
        raise ApplicationError(str(err), type="InDoubtDeliveryError") from err
    except CancelledError:
        # Raised into this thread at any instant, possibly once the provider has the request.
        raise
    except PermanentDeliveryError as err:
        ledger.release(request.message_id)
        raise ApplicationError(str(err), type="PermanentDeliveryError", non_retryable=True) from err
    except TransientDeliveryError as err:
        ledger.release(request.message_id)
        raise ApplicationError(str(err), type="TransientDeliveryError") from err
    except Exception:
        # Not in doubt by the adapter contract, so not sent: a claim left open here would make the
        # retry report the message unconfirmed and it would never go out. Temporal retries it as is.
        ledger.release(request.message_id)
        raise
    # Outside the try: if recording fails, the provider has the message and the claim must stay.
    accepted_at = ledger.mark_sent(request.message_id, receipt.provider, receipt.provider_message_id)
    return Delivery(
        message_id=request.message_id,
        status=DeliveryStatus.SENT,
        provider=receipt.provider,
        provider_message_id=receipt.provider_message_id,
        accepted_at=accepted_at,
        detail="; ".join(rendered.notes) or None,
        recipient=trail.recipient,
        content_sha256=trail.content_sha256,
        document=trail.document,
    )
