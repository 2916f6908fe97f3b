"""What one workflow history costs on Temporal Cloud: its events by type, its billable Actions, its size.

The Actions follow the mapping of history events to Action types on the Temporal Cloud Actions page
(`ACTIONS_PAGE`). That page warns that history events "do not always map 1:1 to Action Types" and that
some Actions never appear in a history (queries, activity heartbeats): the figures here are the
estimate it describes, by counting a representative history, and the caller adds what the history
cannot show (bench/cost.py adds the ingress's queries).
"""

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent

from dunning.codec import ENCODING

ACTIONS_PAGE = "https://docs.temporal.io/cloud/actions"
# The page's source, as read for this mapping (the page itself carries no date).
ACTIONS_SOURCE = "temporalio/documentation docs/evaluate/cloud/actions.mdx at 24afc58a45403e4942a36ac4e4805c05c4298fb9"
# Exempt from counting, per the page: the SDK's versioning attribute.
CHANGE_VERSION = "TemporalChangeVersion"
_PREFIX = "EVENT_TYPE_"


@dataclass(frozen=True)
class ActionRule:
    event: str  # the history event type, without EVENT_TYPE_
    action: str  # the page's Usage Name
    rule: str  # how many Actions one such event is


MAPPING: tuple[ActionRule, ...] = (
    ActionRule("WORKFLOW_EXECUTION_STARTED", "Start Workflow", "1 each"),
    ActionRule("START_CHILD_WORKFLOW_EXECUTION_INITIATED", "Start Child Workflow", "2 each (the intent, the start)"),
    ActionRule("WORKFLOW_EXECUTION_OPTIONS_UPDATED", "Update Workflow Options", "1 each"),
    ActionRule(
        "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
        "Upsert Workflow Search Attributes",
        f"1 each, whatever the number of attributes; none for one of `{CHANGE_VERSION}` alone",
    ),
    ActionRule("WORKFLOW_TASK_FAILED", "Reset Workflow", "1 each whose cause is RESET_WORKFLOW"),
    ActionRule("ACTIVITY_TASK_SCHEDULED", "Schedule Activity", "1 each"),
    ActionRule("ACTIVITY_TASK_STARTED", "Retry Activity", "its `attempt` - 1 (the attempts before it failed)"),
    ActionRule("MARKER_RECORDED", "Record Activity Markers", "1 per workflow task that recorded any (patches too)"),
    ActionRule(
        "WORKFLOW_TASK_COMPLETED",
        "Retry Local Activity",
        "its `metering_metadata.nonfirst_local_activity_execution_attempts`",
    ),
    ActionRule("TIMER_STARTED", "Start Timer", "1 each"),
    ActionRule("WORKFLOW_EXECUTION_SIGNALED", "Signal Workflow", "1 each"),
    ActionRule("WORKFLOW_EXECUTION_UPDATE_ACCEPTED", "Accept Workflow Update", "1 each"),
    ActionRule("NEXUS_OPERATION_SCHEDULED", "Schedule Nexus Operation", "1 each"),
    ActionRule("NEXUS_OPERATION_CANCEL_REQUESTED", "Request Nexus Operation Cancellation", "1 each"),
)
# Billed, but in no history: the caller counts them from what it knows sends them.
NOT_IN_HISTORY = (
    ("Query Workflow", "every query a worker answers (the ingress's, the web UI's call stack)"),
    ("Record Activity Heartbeat", "each heartbeat reaching the server (no activity here heartbeats)"),
    ("Export Workflow History", "each closed history exported (not configured here)"),
)
RESET_CAUSE = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW


def event_type(event: HistoryEvent) -> str:
    return EventType.Name(event.event_type).removeprefix(_PREFIX)


def event_counts(events: Iterable[HistoryEvent]) -> dict[str, int]:
    return dict(Counter(event_type(event) for event in events).most_common())


def actions(events: Sequence[HistoryEvent]) -> dict[str, int]:
    """Billable Actions by the page's Usage Name, only those this history has."""
    counted: Counter[str] = Counter()
    tasks_with_markers: set[int] = set()
    for event in events:
        kind = event_type(event)
        if kind == "START_CHILD_WORKFLOW_EXECUTION_INITIATED":
            counted["Start Child Workflow"] += 2
        elif kind == "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES":
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            if set(fields) - {CHANGE_VERSION}:
                counted["Upsert Workflow Search Attributes"] += 1
        elif kind == "WORKFLOW_TASK_FAILED":
            if event.workflow_task_failed_event_attributes.cause == RESET_CAUSE:
                counted["Reset Workflow"] += 1
        elif kind == "ACTIVITY_TASK_STARTED":
            counted["Retry Activity"] += max(event.activity_task_started_event_attributes.attempt - 1, 0)
        elif kind == "MARKER_RECORDED":
            tasks_with_markers.add(event.marker_recorded_event_attributes.workflow_task_completed_event_id)
        elif kind == "WORKFLOW_TASK_COMPLETED":
            metering = event.workflow_task_completed_event_attributes.metering_metadata
            counted["Retry Local Activity"] += metering.nonfirst_local_activity_execution_attempts
        else:
            one = next((m.action for m in MAPPING if m.event == kind), None)
            if one is not None:
                counted[one] += 1
    counted["Record Activity Markers"] += len(tasks_with_markers)
    return {action: n for action, n in counted.items() if n}


@dataclass(frozen=True)
class Sizes:
    json_bytes: int  # the history as `temporal workflow show --output json` and the web UI download it
    proto_bytes: int  # as the server serialises it: what storage is closest to
    encrypted_payload_bytes: int  # payloads through the codec (inputs, results, signals, activity I/O)
    clear_payload_bytes: int  # payloads no codec touches: search attributes, summaries


def sizes(events: Sequence[HistoryEvent], history_json: str) -> Sizes:
    encrypted = clear = 0
    for event in events:
        for payload in _payloads(event):
            if payload.metadata.get("encoding") == ENCODING:
                encrypted += payload.ByteSize()
            else:
                clear += payload.ByteSize()
    return Sizes(
        json_bytes=len(history_json.encode()),
        proto_bytes=sum(event.ByteSize() for event in events),
        encrypted_payload_bytes=encrypted,
        clear_payload_bytes=clear,
    )


def active_byte_hours(events: Sequence[HistoryEvent]) -> float:
    """Byte-hours the history held while the run was open: each event counts from when it was written
    to the close, as Active Storage is metered on what an open run holds, hour by hour."""
    closed = events[-1].event_time.ToDatetime()
    return sum(event.ByteSize() * (closed - event.event_time.ToDatetime()).total_seconds() / 3600 for event in events)


def open_hours(events: Sequence[HistoryEvent]) -> float:
    return (events[-1].event_time.ToDatetime() - events[0].event_time.ToDatetime()).total_seconds() / 3600


def _payloads(message: Message) -> Iterator[Payload]:
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if isinstance(value, Mapping):  # a map field: its values may be messages (map<string, Payload>)
            for item in value.values():
                if isinstance(item, Message):
                    yield from _payloads(item)
        elif field.is_repeated:
            for item in value:
                yield from _payloads(item)
        else:
            yield from _payloads(value)
