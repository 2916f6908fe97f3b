"""Record the histories the replay test checks: `python -m tests.histories.record`.

Run it once per released workflow version and commit the JSON files it writes: they stand for the
cases already running in production, which every later change to the workflow must still replay.
"""

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from domain.calendar import paris_date, send_slot
from domain.models import CallLogged, DisputeOpened, DisputeResolved, PaymentReceived, PromiseToPay
from dunning import search_attributes
from dunning.binaries import venv_binary
from dunning.cases import start_case
from dunning.client import DATA_CONVERTER
from dunning.settings import ChannelSettings
from tests.conftest import clear_due_date, make_invoice
from worker import MAX_CONCURRENT_ACTIVITIES, build_activities, build_worker

HERE = Path(__file__).parent


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=DATA_CONVERTER
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace=env.client.namespace, search_attributes=search_attributes.indexed_types())
    )
    with TemporaryDirectory() as var, ThreadPoolExecutor(MAX_CONCURRENT_ACTIVITIES) as executor:
        queue = f"record-{uuid.uuid4().hex[:6]}"
        worker = build_worker(env.client, queue, build_activities(ChannelSettings(var_dir=Path(var))), executor)
        async with worker:
            today = paris_date(await env.get_current_time())
            due = clear_due_date(today + timedelta(days=30))
            unpaid = await start_case(env.client, make_invoice(due, invoice_id="REPLAY-LITIGATION"), queue)
            await unpaid.result()
            eventful = await start_case(env.client, make_invoice(due, invoice_id="REPLAY-EVENTS"), queue)
            await env.sleep(send_slot(due + timedelta(days=4)) + timedelta(hours=1) - await env.get_current_time())
            await eventful.signal("call_logged", CallLogged(step="level1_call", outcome="invoice_not_received"))
            await eventful.signal("dispute_opened", DisputeOpened(reason="missing delivery note"))
            await eventful.signal("dispute_resolved", DisputeResolved(outcome="credit_note", credited_amount="100.00"))
            await eventful.signal("promise_to_pay", PromiseToPay(promised_on=due + timedelta(days=20)))
            await eventful.signal(
                "payment_received",
                PaymentReceived(payment_id="P1", amount=Decimal("1100.00"), received_on=due + timedelta(days=5)),
            )
            await eventful.result()
            for handle, name in ((unpaid, "litigation"), (eventful, "dispute-credit-promise-paid")):
                history = await handle.fetch_history()
                (HERE / f"2026-11-{name}.json").write_text(json.dumps(json.loads(history.to_json()), indent=1))
    await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
