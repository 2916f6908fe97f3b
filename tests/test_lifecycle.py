"""The whole ladder on the time-skipping server: every step at its date, then litigation."""

from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError

from domain.calendar import paris_date
from domain.models import ActionStatus, Outcome
from domain.schedule import slots
from tests.conftest import Harness, colliding_due_date, make_invoice
from tests.ladders import STANDARD
from workflows.invoice_dunning import InvoiceDunning


async def test_unpaid_invoice_walks_the_whole_ladder_to_litigation(harness: Harness) -> None:
    # A due date where a weekend pushes two steps onto one morning: both run, on successive days.
    due = colliding_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        result = await handle.result()
        status = await handle.query(InvoiceDunning.status)

    assert result.outcome is Outcome.LITIGATION
    assert result.balance == invoice.amount
    steps = [a for a in status.actions if a.status is not ActionStatus.RECORDED]
    assert [a.step for a in steps] == [s.name for s in STANDARD]
    # Both registered letters were followed at their provider (the outbox reports them posted).
    letters = [m for m in status.messages if m.channel == "registered_letter"]
    assert [(m.step, m.delivery) for m in letters] == [
        ("level2_registered_letter", "posted"),
        ("formal_notice", "posted"),
    ]
    planned = slots(STANDARD, due, 0, 0, None, spread=True)
    assert len({paris_date(at) for at in planned.values()}) == len(STANDARD)
    for index, (action, step) in enumerate(zip(steps, STANDARD, strict=True)):
        expected = planned[index]
        assert expected <= action.at < expected + timedelta(minutes=1), f"{step.name} ran at {action.at}"
    statuses = {a.step: a.status for a in steps}
    assert statuses["preventive_call"] is ActionStatus.OPEN
    assert statuses["level2_sms"] is ActionStatus.SENT
    assert statuses["formal_notice"] is ActionStatus.SENT
    # Exactly one e-mail per e-mail step reached the provider, with opaque tracking fields.
    assert harness.sendgrid.steps() == [s.name for s in STANDARD if s.channel == "email"]
    for request in harness.sendgrid.requests:
        assert set(request["custom_args"]) == {"case_ref", "step", "message_id"}
        assert invoice.invoice_id not in request["custom_args"]["case_ref"]
        assert harness.refs.workflow_id(request["custom_args"]["case_ref"]) == f"invoice-{invoice.invoice_id}"
        assert request["authorization"] == "Bearer SG.test-key"
    assert len(harness.outbox("sms")) == 1
    assert len(harness.outbox("letters")) == 2
    assert len(harness.outbox("litigation")) == 1
    assert status.stage == "litigation"
    assert status.open_calls == []


async def test_invalid_input_fails_the_run_at_once_naming_the_field(harness: Harness) -> None:
    # A client that skips validation: the run fails (closed), it does not sit half-alive retrying.
    bad = make_invoice(await harness.today()).model_dump(mode="json")
    bad["customer"]["kind"] = "martian"
    async with harness.worker():
        handle = await harness.client.start_workflow(
            "InvoiceDunning", bad, id=f"invoice-{bad['invoice_id']}", task_queue=harness.task_queue
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "customer.kind" in str(failure.value.cause)
