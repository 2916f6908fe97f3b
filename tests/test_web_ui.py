"""What credit controllers see in the web UI, on a real dev server: the search attributes the
workflow keeps current, the case summary and its current details."""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.models import PaymentReceived
from dunning.cases import start_case
from dunning.settings import ChannelSettings
from tests.conftest import close_case, make_invoice
from tests.ladders import DEFAULT_POLICY
from worker import MAX_CONCURRENT_ACTIVITIES, build_activities, build_worker


async def ids_matching(client: Client, query: str, expected: set[str]) -> set[str]:
    """Visibility lags the cases by about a second: poll, bounded."""
    found: set[str] = set()
    for _ in range(50):
        found = {w.id async for w in client.list_workflows(query)}
        if found == expected:
            break
        await asyncio.sleep(0.2)
    return found


async def test_search_attributes_summary_and_details_follow_the_case(dev: WorkflowEnvironment, tmp_path: Path) -> None:
    client, queue = dev.client, f"ui-{uuid.uuid4().hex[:6]}"
    invoice = make_invoice(date.today() + timedelta(days=60), customer={"customer_id": f"C-{uuid.uuid4().hex[:6]}"})
    wid = invoice.workflow_id
    by_customer = f"CustomerId = '{invoice.customer.customer_id}'"
    with ThreadPoolExecutor(MAX_CONCURRENT_ACTIVITIES) as executor:
        worker = build_worker(client, queue, build_activities(ChannelSettings(var_dir=tmp_path)), executor)
        async with worker:
            handle = await start_case(client, invoice, queue, DEFAULT_POLICY)
            query = f"{by_customer} AND DunningStage = 'scheduled' AND Segment = 'standard' AND AmountDue = 1200"
            assert await ids_matching(client, query, {wid}) == {wid}
            description = await handle.describe()
            assert (
                await description.static_summary() == f"{invoice.invoice_id} · {invoice.customer.customer_id}"
                f" · 1200.00 EUR due {invoice.due_on}"
            )

            await handle.signal(
                "payment_received", PaymentReceived(payment_id="P1", amount=Decimal("200.00"), received_on=date.today())
            )
            assert await ids_matching(client, f"{by_customer} AND AmountDue = 1000", {wid}) == {wid}
            metadata = await handle.query("__temporal_workflow_metadata")
            assert "**Balance** 1000.00 EUR of 1200.00" in metadata.current_details
            assert "**Next** preventive_email at" in metadata.current_details

            await handle.signal(
                "payment_received",
                PaymentReceived(payment_id="P2", amount=Decimal("1000.00"), received_on=date.today()),
            )
            settled = f"{by_customer} AND DunningStage = 'settled' AND AmountDue = 0"
            assert await ids_matching(client, settled, {wid}) == {wid}
            next_day = invoice.due_on + timedelta(days=1)
            due_filter = (
                f"{by_customer} AND DueDate >= '{invoice.due_on}T00:00:00Z' AND DueDate < '{next_day}T00:00:00Z'"
            )
            assert await ids_matching(client, due_filter, {wid}) == {wid}
            await close_case(handle)
    closed = f"{by_customer} AND DunningStage = 'cancelled'"
    assert await ids_matching(client, closed, {wid}) == {wid}
