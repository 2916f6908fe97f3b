"""The worker's log of a real send, as a log shipper reads it: JSON with the workflow id and step, and no
personal data of the customer."""

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from temporalio import activity, workflow

from dunning.logs import case_key, configure_logging
from tests.conftest import Harness, advance_to, at_step, clear_due_date, close_case, make_invoice
from workflows.invoice_dunning import InvoiceDunning


@pytest.fixture
def log_stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    # Undone after the test: configure_logging changes Temporal's adapters and the root logger.
    monkeypatch.setattr(activity.logger, "activity_info_on_message", activity.logger.activity_info_on_message)
    monkeypatch.setattr(workflow.logger, "workflow_info_on_message", workflow.logger.workflow_info_on_message)
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()  # not a terminal: JSON
    handler = configure_logging(stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


async def test_a_send_is_logged_as_json_without_personal_data(harness: Harness, log_stream: io.StringIO) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, at_step(due, -15))
        for _ in range(100):  # the send runs in real time once the clock is there: bounded poll
            if (await handle.query(InvoiceDunning.status)).messages:
                break
            await advance_to(harness, await harness.now() + timedelta(minutes=1))
        await close_case(handle)

    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    sends = [line for line in lines if line.get("step") == "preventive_email" and line.get("status") == "sent"]
    assert len(sends) == 1, lines
    send = sends[0]
    assert send["case"] == case_key(invoice.workflow_id)
    assert "workflow_id" not in send
    assert send["channel"] == "email"
    assert send["activity_type"] == "send_email"
    assert send["message"] == "preventive_email by email: sent"
    text = log_stream.getvalue()
    for personal in (
        invoice.customer.email,
        invoice.customer.name,
        invoice.customer.phone,
        "Oberkampf",
        invoice.invoice_id,
    ):
        assert str(personal) not in text
