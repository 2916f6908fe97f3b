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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError

from activities.ledger import ClaimState, SentLedger
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
    @property
    def notes(self) -> tuple[str, ...]: ...


M = TypeVar("M", bound=Rendered, contravariant=True)
R = TypeVar("R", bound=Rendered)


class ChannelAdapter(Protocol[M]):
    """A real provider or the local outbox; chosen by configuration, same contract."""

    name: str

    def send(self, message: M) -> Receipt: ...


def deliver_once(
    ledger: SentLedger,
    request: MessageRequest,
    render: Callable[[MessageRequest], R],
    adapter: ChannelAdapter[R],
) -> Delivery:
    # Rendering first: a template error must not leave a claim behind.
    rendered = render(request)
    claim = ledger.claim(request.message_id, request.workflow_id, request.step, request.channel.value)
    if claim.state is ClaimState.SENT:
        activity.logger.info("%s already sent by an earlier attempt", request.message_id)
        return Delivery(
            message_id=request.message_id,
            status=DeliveryStatus.SENT,
            provider=claim.provider or adapter.name,
            provider_message_id=claim.provider_message_id,
            accepted_at=claim.sent_at,
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
    )
