"""The product's worker metrics, recorded on the activity's Temporal metric meter so that they come out
of the same exporter as the SDK's (a no-op when the runtime has none). Labels are step, channel, status
and error kind: never a recipient, a name or an invoice."""

from temporalio import activity

from domain.delivery import DeliveryStatus


def count_reminder(step: str, channel: str, status: DeliveryStatus) -> None:
    """A send that finished: `sent`, or `unconfirmed` (the provider may have it; a person must check)."""
    activity.metric_meter().create_counter(
        "dunning_reminders", "reminders finished by the worker, by step, channel and status"
    ).add(1, {"step": step, "channel": channel, "status": status.value})


def count_failure(step: str, channel: str, kind: str) -> None:
    """An attempt the provider refused or that failed (`kind`: the error type); Temporal may retry it."""
    activity.metric_meter().create_counter(
        "dunning_reminder_failures", "send attempts that failed, by step, channel and error type"
    ).add(1, {"step": step, "channel": channel, "kind": kind})
