"""Policies on running cases, on the time-skipping server: each case keeps its own, a person moves it,
approves a gated step, changes its segment."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.converter import PayloadConverter

from domain.ladder import Channel
from domain.models import (
    Action,
    ActionStatus,
    DunningResult,
    EscalationApproved,
    Outcome,
    Segment,
    SegmentChanged,
    Stage,
)
from domain.policy import Policy, PolicyChanged
from domain.policy_file import load_policy, parse_policy
from dunning import search_attributes as sa
from tests.conftest import Harness, advance_to, at_step, make_invoice
from tests.ladders import BAD_PAYER, DEFAULT_POLICY, LEGACY_POLICY, STANDARD, STRATEGIC
from workflows.invoice_dunning import InvoiceDunning

ROOT = Path(__file__).parent.parent
BY_AMOUNT = load_policy(ROOT / "samples" / "policies" / "by-amount.toml")


def edited_default() -> Policy:
    """The default file as an operator edits it: no SMS, the first reminder two days later."""
    text = (ROOT / "domain" / "data" / "policies" / "default.toml").read_text()
    text = text.replace('name = "default"', 'name = "edited"')
    text = text.replace(
        '{ name = "level1_email",             offset_days =   1,', '{ name = "level1_email", offset_days = 3,'
    )
    lines = [line for line in text.splitlines() if 'name = "level2_sms"' not in line]
    return parse_policy("\n".join(lines), "edited.toml")


def ladder_taken(actions: list[Action]) -> list[str]:
    return [a.step for a in actions if a.status in (ActionStatus.SENT, ActionStatus.OPEN, ActionStatus.SKIPPED)]


async def attribute(handle: WorkflowHandle[InvoiceDunning, DunningResult], client: Client, name: str) -> list[Any]:
    """A search attribute as the server holds it."""
    # Raw: the SDK's describe() decodes every attribute and trips over the test server's datetimes.
    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace=client.namespace, execution=WorkflowExecution(workflow_id=handle.id))
    )
    fields = described.workflow_execution_info.search_attributes.indexed_fields
    if name not in fields:
        return []
    value = PayloadConverter.default.from_payload(fields[name])
    return list(value) if isinstance(value, list) else [value]


async def policy_version(handle: WorkflowHandle[InvoiceDunning, DunningResult], client: Client) -> str | None:
    values = await attribute(handle, client, sa.POLICY_VERSION.name)
    return str(values[0]) if values else None


async def test_an_edited_policy_reaches_new_cases_only(harness: Harness) -> None:
    due = await harness.today() + timedelta(days=30)
    edited = edited_default()
    before, after = make_invoice(due), make_invoice(due)
    async with harness.worker():
        running = await harness.start(before, DEFAULT_POLICY)
        # The file is edited while the first case runs: only the case started after sees it.
        await advance_to(harness, at_step(due, -7))
        started_after = await harness.start(after, edited)
        results = [await running.result(), await started_after.result()]
        kept = await running.query(InvoiceDunning.status)
        moved = await started_after.query(InvoiceDunning.status)
        versions = [await policy_version(running, harness.client), await policy_version(started_after, harness.client)]

    assert [r.outcome for r in results] == [Outcome.LITIGATION, Outcome.LITIGATION]
    assert ladder_taken(kept.actions) == [s.name for s in STANDARD]
    assert "level2_sms" not in ladder_taken(moved.actions)
    first_reminder = next(a for a in moved.actions if a.step == "level1_email")
    assert first_reminder.at.date() >= due + timedelta(days=3)
    assert [kept.policy_version, moved.policy_version] == [DEFAULT_POLICY.version, edited.version]
    assert versions == [DEFAULT_POLICY.version, edited.version]


async def test_policy_changed_moves_a_running_case_without_resending(harness: Harness) -> None:
    due = await harness.today() + timedelta(days=30)
    invoice = make_invoice(due, amount="300.00")
    async with harness.worker():
        handle = await harness.start(invoice, LEGACY_POLICY)
        await advance_to(harness, at_step(due, 10))
        sent_before = list(harness.sendgrid.steps())
        await handle.signal(InvoiceDunning.policy_changed, PolicyChanged(policy=BY_AMOUNT, event_id="policy-1"))
        await handle.signal(InvoiceDunning.policy_changed, PolicyChanged(policy=BY_AMOUNT, event_id="policy-1"))
        result = await handle.result()
        status = await handle.query(InvoiceDunning.status)
        version = await policy_version(handle, harness.client)

    assert result.outcome is Outcome.LITIGATION
    taken = ladder_taken(status.actions)
    # Under 500 EUR the new policy calls where the old one sent a registered reminder.
    assert "level2_call" in taken
    assert "level2_registered_letter" not in taken
    assert [a.step for a in status.actions].count("policy_changed") == 1
    # Every e-mail step once: those before the change were not sent again after it.
    assert sent_before == ["preventive_email", "level1_email", "level1_followup_email", "level2_email"]
    assert harness.sendgrid.steps() == [s.name for s in STANDARD if s.channel is Channel.EMAIL]
    assert version == BY_AMOUNT.version
    assert status.policy_version == BY_AMOUNT.version


async def test_a_strategic_formal_notice_waits_for_approval_then_runs(harness: Harness) -> None:
    due = await harness.today() + timedelta(days=30)
    invoice = make_invoice(due, customer={"segment": "strategic"})
    notice = next(s for s in STRATEGIC if s.name == "formal_notice")
    async with harness.worker():
        handle = await harness.start(invoice)
        # Well past the notice's date: the case has not sent it, it waits for a person.
        await advance_to(harness, at_step(due, notice.offset_days + 20))
        waiting = await handle.query(InvoiceDunning.status)
        stage_attribute = await attribute(handle, harness.client, sa.STAGE.name)
        calls_attribute = await attribute(handle, harness.client, sa.OPEN_CALLS.name)
        await handle.signal(InvoiceDunning.escalation_approved, EscalationApproved(by="controller-7"))
        result = await handle.result()
        status = await handle.query(InvoiceDunning.status)

    assert waiting.stage is Stage.AWAITING_APPROVAL
    assert waiting.awaiting_approval == "formal_notice"
    assert "formal_notice_approval" in waiting.open_calls
    assert "formal_notice" not in [m.step for m in waiting.messages]
    assert stage_attribute == ["awaiting_approval"]
    assert "formal_notice_approval" in calls_attribute
    assert result.outcome is Outcome.LITIGATION
    notices = [m for m in status.messages if m.step == "formal_notice"]
    assert len(notices) == 1
    approved = next(a for a in status.actions if a.step == "escalation_approved")
    assert notices[0].sent_at >= approved.at
    assert approved.detail == "formal_notice approved by controller-7"


async def test_segment_changed_puts_a_running_case_on_the_firmer_ladder(harness: Harness) -> None:
    due = await harness.today() + timedelta(days=30)
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, at_step(due, 4))
        await handle.signal(
            InvoiceDunning.segment_changed,
            SegmentChanged(segment=Segment.BAD_PAYER, reason="bad_payer: 3 late invoices since 2026-03"),
        )
        result = await handle.result()
        status = await handle.query(InvoiceDunning.status)
        segment = await attribute(handle, harness.client, sa.SEGMENT.name)

    assert result.outcome is Outcome.LITIGATION
    taken = ladder_taken(status.actions)
    assert taken[:4] == ["preventive_email", "preventive_call", "level1_email", "level1_call"]
    # The rest is the bad payer's ladder: its hand-over at J+35, not the standard J+60.
    assert taken[-1] == "litigation_handover"
    handover = next(a for a in status.actions if a.step == "litigation_handover")
    standard_handover = next(s for s in STANDARD if s.name == "litigation_handover")
    assert handover.at.date() < due + timedelta(days=standard_handover.offset_days)
    assert set(taken[4:]) <= {s.name for s in BAD_PAYER}
    assert len(taken) == len(set(taken))
    assert segment == ["bad_payer"]
    assert status.segment is Segment.BAD_PAYER
    assert status.balance == Decimal("1200.00")
