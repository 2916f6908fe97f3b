"""`make bench-cost`: what Temporal Cloud would bill a case, counted from its history. Checked on real runs
(the smallest case, and litigation to compare), and on hand-made events for what the clean cases never
do (retries, several markers in one task, a child workflow). Nothing here is timed."""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from bench import actions
from bench.cost import case_runner, figures, run_info
from bench.cost_report import BEGIN, END, markdown
from bench.report import BEGIN as BENCH_BEGIN
from bench.report import END as BENCH_END
from bench.report import write_markdown
from domain.policy_file import DEFAULT, packaged


def kind_of(event: HistoryEvent) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")


async def test_a_case_paid_before_due_is_billed_what_its_history_shows_and_less_than_litigation(
    tmp_path: Path,
) -> None:
    async with case_runner() as run:
        paid = await run("paid_before_due")
        events = (await paid.handle.fetch_history()).events
        early = await figures(paid)
        litigation = await figures(await run("litigation"))

    # The mapping recomputed by hand from the same history: starts, activities, timers, signals, the
    # upserts of something other than the SDK's versioning attribute, one per task that recorded markers.
    kinds = Counter(kind_of(event) for event in events)
    upserts = [
        event
        for event in events
        if kind_of(event) == "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"
        and set(event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
        != {"TemporalChangeVersion"}
    ]
    marker_tasks = {
        event.marker_recorded_event_attributes.workflow_task_completed_event_id
        for event in events
        if kind_of(event) == "MARKER_RECORDED"
    }
    in_history = (
        kinds["WORKFLOW_EXECUTION_STARTED"]
        + kinds["ACTIVITY_TASK_SCHEDULED"]
        + kinds["TIMER_STARTED"]
        + kinds["WORKFLOW_EXECUTION_SIGNALED"]
        + len(upserts)
        + len(marker_tasks)
    )
    assert early.outcome == "settled"
    assert early.event_total == len(events)
    assert early.events == dict(kinds)
    assert early.action_total == in_history + early.ingress_queries
    assert 0 < len(upserts) < kinds["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"]  # the versioning upserts are free
    # Only the preventive e-mail was sent; its delivery report, the logged call and the payment signalled.
    assert kinds["ACTIVITY_TASK_SCHEDULED"] == 1
    assert kinds["WORKFLOW_EXECUTION_SIGNALED"] == early.webhook_reports + early.calls_logged + 1 == 3
    # The call's check before its signal, and one read-back for each of the two days signalled.
    assert early.ingress_queries == early.calls_logged + early.ingress_days == 3
    assert early.activity_retries == 0
    assert round(early.open_hours / 24) == 41  # from J-30 to the close, 14 days after the payment of J-3

    assert litigation.outcome == "litigation"
    assert litigation.activity_retries == 0
    assert early.action_total < litigation.action_total
    assert early.event_total < litigation.event_total
    assert early.sizes.proto_bytes < litigation.sizes.proto_bytes
    for case in (early, litigation):
        sizes = case.sizes
        assert 0 < sizes.encrypted_payload_bytes + sizes.clear_payload_bytes < sizes.proto_bytes < sizes.json_bytes
        assert 0 < case.active_byte_hours < sizes.proto_bytes * case.open_hours

    # The generated section replaces its own block only, whatever else the file holds.
    target = tmp_path / "BENCHMARKS.md"
    target.write_text(f"# Benchmarks\n\n{BENCH_BEGIN}\nthe throughput run\n{BENCH_END}\n\nanalysis\n")
    block = markdown(run_info(datetime.now(UTC), 1.0, packaged(DEFAULT)), {"paid_before_due": early})
    for _ in range(2):
        write_markdown(target, block, BEGIN, END)
    text = target.read_text()
    assert text.count(BEGIN) == text.count(END) == 1
    assert text.startswith(f"# Benchmarks\n\n{BENCH_BEGIN}\nthe throughput run\n{BENCH_END}\n\nanalysis\n")
    assert f"| **billable Actions** | **{early.action_total}** |" in text
    assert "1,000 invoices" not in text  # the mix needs its three cases


def event(kind: str) -> HistoryEvent:
    return HistoryEvent(event_type=EventType.Value(f"EVENT_TYPE_{kind}"), event_time=Timestamp(seconds=0))


def marker(task: int) -> HistoryEvent:
    made = event("MARKER_RECORDED")
    made.marker_recorded_event_attributes.workflow_task_completed_event_id = task
    return made


def upsert(**fields: bytes) -> HistoryEvent:
    made = event("UPSERT_WORKFLOW_SEARCH_ATTRIBUTES")
    for name, data in fields.items():
        made.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields[name].data = data
    return made


def test_retries_markers_and_children_are_counted_as_the_actions_page_says() -> None:
    third_attempt = event("ACTIVITY_TASK_STARTED")
    third_attempt.activity_task_started_event_attributes.attempt = 3
    upserts = [upsert(TemporalChangeVersion=b'["rule-1"]'), upsert(DunningStage=b'"level_1"', AmountDue=b"1200.0")]
    history = [
        event("WORKFLOW_EXECUTION_STARTED"),
        marker(4),
        marker(4),
        marker(9),
        *upserts,
        event("ACTIVITY_TASK_SCHEDULED"),
        third_attempt,
        event("START_CHILD_WORKFLOW_EXECUTION_INITIATED"),
        event("TIMER_STARTED"),
        event("TIMER_FIRED"),
        event("WORKFLOW_TASK_FAILED"),  # an ordinary failure, not a reset
        event("WORKFLOW_EXECUTION_COMPLETED"),
    ]
    assert actions.actions(history) == {
        "Start Workflow": 1,
        "Record Activity Markers": 2,  # one per workflow task that recorded any
        "Upsert Workflow Search Attributes": 1,  # the versioning attribute alone is free
        "Schedule Activity": 1,
        "Retry Activity": 2,
        "Start Child Workflow": 2,
        "Start Timer": 1,
    }
    assert actions.event_counts(history)["MARKER_RECORDED"] == 3
    # Search attributes are payloads too, which the codec never sees.
    sizes = actions.sizes(history, "{}")
    assert sizes.encrypted_payload_bytes == 0
    assert sizes.clear_payload_bytes == sum(
        payload.ByteSize()
        for made in upserts
        for payload in made.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields.values()
    )
