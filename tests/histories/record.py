"""Record the histories the replay test checks: `python -m tests.histories.record`.

Record a new history with `python -m tests.histories.record NAME` and commit the JSON file: the files stand for the
cases already running in production, which every later change to the workflow must still replay.
"""

import asyncio
import json
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from domain.calendar import paris_date, send_slot
from domain.digest import digest_workflow_id
from domain.ladder import Channel
from domain.models import (
    CallLogged,
    DisputeOpened,
    DisputeResolved,
    EscalationApproved,
    EscalationHeld,
    PaymentReceived,
    PromiseToPay,
)
from domain.policy import PolicyChanged
from domain.policy_file import load_policy
from domain.tracking import MessageEvent
from dunning import search_attributes
from dunning.binaries import venv_binary
from dunning.cases import start_case
from dunning.settings import ChannelSettings
from tests.conftest import clear_due_date, colliding_due_date, make_invoice
from tests.ladders import DEFAULT_POLICY
from worker import MAX_CONCURRENT_ACTIVITIES, build_activities, build_worker
from workflows.invoice_dunning import InvoiceDunning

HERE = Path(__file__).parent


async def litigation(client: Client, queue: str, env: WorkflowEnvironment, due: date) -> WorkflowHandle[Any, Any]:
    handle = await start_case(client, make_invoice(due, invoice_id="REPLAY-LITIGATION"), queue, DEFAULT_POLICY)
    await handle.result()
    return handle


async def events(client: Client, queue: str, env: WorkflowEnvironment, due: date) -> WorkflowHandle[Any, Any]:
    handle = await start_case(client, make_invoice(due, invoice_id="REPLAY-EVENTS"), queue, DEFAULT_POLICY)
    await env.sleep(send_slot(due + timedelta(days=4)) + timedelta(hours=1) - await env.get_current_time())
    await handle.signal(InvoiceDunning.call_logged, CallLogged(step="level1_call", outcome="invoice_not_received"))
    await handle.signal(InvoiceDunning.dispute_opened, DisputeOpened(reason="missing delivery note"))
    await handle.signal(
        InvoiceDunning.dispute_resolved, DisputeResolved(outcome="credit_note", credited_amount="100.00")
    )
    await handle.signal(InvoiceDunning.promise_to_pay, PromiseToPay(promised_on=due + timedelta(days=20)))
    await handle.signal(
        InvoiceDunning.payment_received,
        PaymentReceived(payment_id="P1", amount=Decimal("1100.00"), received_on=due + timedelta(days=5)),
    )
    await handle.result()
    return handle


async def late_start(client: Client, queue: str, env: WorkflowEnvironment, due: date) -> WorkflowHandle[Any, Any]:
    handle = await start_case(
        client, make_invoice(due - timedelta(days=120), invoice_id="REPLAY-LATE"), queue, DEFAULT_POLICY
    )
    await handle.result()
    return handle


async def every_step(client: Client, queue: str, env: WorkflowEnvironment, due: date) -> WorkflowHandle[Any, Any]:
    # A colliding due date (both steps run, on successive days) and no postal address (notice by e-mail).
    due = colliding_due_date(due)
    invoice = make_invoice(due, invoice_id="REPLAY-EVERY-STEP", customer={"postal_address": None})
    handle = await start_case(client, invoice, queue, DEFAULT_POLICY)
    await handle.result()
    return handle


async def deliveries(client: Client, queue: str, env: WorkflowEnvironment, due: date) -> WorkflowHandle[Any, Any]:
    # Named as the replay test names it: the message ids the signals carry derive from the workflow id.
    handle = await start_case(client, make_invoice(due, invoice_id="2026-12-delivery-reports"), queue, DEFAULT_POLICY)
    await env.sleep(send_slot(due - timedelta(days=15)) + timedelta(hours=1) - await env.get_current_time())
    # A payment that moves no date (the timer is kept), then the preventive e-mail bounces.
    await handle.signal(
        InvoiceDunning.payment_received,
        PaymentReceived(payment_id="P1", amount=Decimal("200.00"), received_on=due - timedelta(days=15)),
    )
    [sent] = (await handle.query(InvoiceDunning.status)).messages
    bounce = MessageEvent(
        event_id="sg-1",
        message_id=sent.message_id,
        channel=Channel.EMAIL,
        kind="bounced",
        at=await env.get_current_time(),
    )
    await handle.signal(InvoiceDunning.message_event, bounce)
    await env.sleep(send_slot(due - timedelta(days=7)) + timedelta(hours=1) - await env.get_current_time())
    # The invoice never arrived: a copy by post (the e-mail bounced); then a promise that is not kept.
    await handle.signal(
        InvoiceDunning.call_logged,
        CallLogged(step="preventive_call", outcome="invoice_not_received", contact="M. Petit"),
    )
    await handle.signal(
        InvoiceDunning.call_logged,
        CallLogged(step="preventive_call", outcome="promised", promised_on=due + timedelta(days=3)),
    )
    await handle.result()
    return handle


async def _digested(
    client: Client, queue: str, env: WorkflowEnvironment, due: date, customer_id: str, invoice_ids: list[str]
) -> list[WorkflowHandle[Any, Any]]:
    """Three invoices of one customer under a digest policy; the second paid while its level 1 e-mail
    waits in the digest (left out). Every case runs to its end."""
    policy = DEFAULT_POLICY.model_copy(update={"name": "digest", "digest": True})
    customer = {"customer_id": customer_id}
    handles = [
        await start_case(client, make_invoice(due, invoice_id=invoice_id, customer=customer), queue, policy)
        for invoice_id in invoice_ids
    ]
    await env.sleep(send_slot(due + timedelta(days=1)) + timedelta(minutes=2) - await env.get_current_time())
    await handles[1].signal(
        InvoiceDunning.payment_received,
        PaymentReceived(payment_id="P1", amount=Decimal("1200.00"), received_on=due + timedelta(days=1)),
    )
    for handle in handles:
        await handle.result()
    return handles


async def digested_case(client: Client, queue: str, env: WorkflowEnvironment, due: date) -> WorkflowHandle[Any, Any]:
    # The first named as the replay test names it: its message ids derive from the workflow id.
    ids = ["2026-12-digested-case", "REPLAY-DIGESTED-2", "REPLAY-DIGESTED-3"]
    return (await _digested(client, queue, env, due, "REPLAY-DIGESTED", ids))[0]


async def customer_digest(client: Client, queue: str, env: WorkflowEnvironment, due: date) -> WorkflowHandle[Any, Any]:
    await _digested(client, queue, env, due, "REPLAY-DIGEST", [f"REPLAY-DIGEST-{n}" for n in (1, 2, 3)])
    # It ends once idle (30 days without entries).
    handle = client.get_workflow_handle(digest_workflow_id("REPLAY-DIGEST"))
    await handle.result()
    return handle


async def policy_steering(client: Client, queue: str, env: WorkflowEnvironment, due: date) -> WorkflowHandle[Any, Any]:
    # A key account's case moved to another policy, whose formal notice a person holds, then approves.
    invoice = make_invoice(
        due, invoice_id="2026-12-policy-approval", amount="25000.00", customer={"segment": "strategic"}
    )
    handle = await start_case(client, invoice, queue, DEFAULT_POLICY)
    await env.sleep(send_slot(due + timedelta(days=2)) + timedelta(hours=1) - await env.get_current_time())
    by_amount = load_policy(HERE.parent.parent / "samples" / "policies" / "by-amount.toml")
    await handle.signal(InvoiceDunning.policy_changed, PolicyChanged(policy=by_amount, event_id="policy-1"))
    await env.sleep(send_slot(due + timedelta(days=60)) + timedelta(hours=1) - await env.get_current_time())
    await handle.signal(InvoiceDunning.escalation_held, EscalationHeld(by="controller-7", reason="visit planned"))
    await env.sleep(timedelta(days=2))
    await handle.signal(InvoiceDunning.escalation_approved, EscalationApproved(by="controller-7"))
    await handle.result()
    return handle


RECORDERS = {
    "2026-11-litigation": litigation,
    "2026-11-dispute-credit-promise-paid": events,
    "2026-11-late-start-notice-before-litigation": late_start,
    # Recorded before the notice-before-litigation patch: replays on the old path (straight hand-over).
    "2026-11-late-start-before-notice-patch": late_start,
    # The same events once the upserts carry BalanceChangedAt (the credit note and the payment).
    "2026-11-balance-changed-at": events,
    # The 2026-12 rules: every step on time, legal steps that must happen.
    "2026-12-every-step-notice-by-email": every_step,
    # Timers kept across signals, a bounced e-mail, the invoice copy by post, a call's promise and
    # contact, registered letters polled at the outbox.
    "2026-12-delivery-reports": deliveries,
    # Policy digest: a case's e-mails handed to its customer's digest, and that digest's own history.
    "2026-12-digested-case": digested_case,
    "2026-12-customer-digest": customer_digest,
    # Policies: a case started with its policy in its input, moved to another, a gated notice held
    # then approved.
    "2026-12-policy-approval": policy_steering,
}


async def main(names: list[str]) -> None:
    # Recorded in clear, without the codec: a history encrypted with this run's test key could never be
    # replayed again, and the codec decodes unencrypted payloads as they are.
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter
    )
    await search_attributes.ensure(env.client)
    with TemporaryDirectory() as var, ThreadPoolExecutor(MAX_CONCURRENT_ACTIVITIES) as executor:
        queue = f"record-{uuid.uuid4().hex[:6]}"
        worker = build_worker(env.client, queue, build_activities(ChannelSettings(var_dir=Path(var))), executor)
        async with worker:
            for name in names:
                today = paris_date(await env.get_current_time())
                handle = await RECORDERS[name](env.client, queue, env, clear_due_date(today + timedelta(days=30)))
                history = await handle.fetch_history()
                (HERE / f"{name}.json").write_text(json.dumps(json.loads(history.to_json()), indent=1))
    await env.shutdown()


if __name__ == "__main__":
    # Only the histories named (all by default): a released version's history is never re-recorded.
    asyncio.run(main(sys.argv[1:] or list(RECORDERS)))
