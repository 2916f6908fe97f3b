"""Prometheus metrics scraped over HTTP: the worker's (the SDK's and the product's, from the Temporal
runtime's exporter) after a real send, and the API's (served by uvicorn) after a real bank import; the
probes without a token. On this module's own dev server: a bank import lists the cases by visibility."""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.calendar import paris_date
from dunning.settings import ChannelSettings, TemporalSettings
from dunning.telemetry import metrics_runtime
from starter import cases
from starter.api import IngressSettings, create_app
from tests.codec_keys import TEST_CONVERTER
from tests.conftest import TRACKING_KEY, make_invoice
from tests.fake_sendgrid import FakeSendGrid
from tests.ingress.conftest import TOKEN, created
from tests.ports import free_ports
from worker import MAX_CONCURRENT_ACTIVITIES, build_activities, build_worker

QUEUE = f"metrics-{uuid.uuid4().hex[:6]}"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the one sample of `name` carrying `labels` (among others), 0 if none."""
    found = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{key}="{value}"' in match.group(1) for key, value in labels.items()):
            found += float(match.group(2))
    return found


@pytest.fixture
async def api_url(dev: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[str]:
    (port,) = free_ports(1)
    settings = IngressSettings(
        api_token=TOKEN,
        var_dir=tmp_path / "api",
        temporal=TemporalSettings(address=dev.client.service_client.config.target_host, task_queue=QUEUE),
        # The case must send at once, whatever the hour the test runs at (the dev server's clock is real).
        quiet_hours=False,
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings, dev.client), port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    for _ in range(100):  # bounded wait for the socket, not a timed assertion
        if server.started:
            break
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


async def test_worker_and_api_metrics_after_a_send_and_a_bank_import(
    dev: WorkflowEnvironment, api_url: str, sendgrid: FakeSendGrid, tmp_path: Path
) -> None:
    (worker_port,) = free_ports(1)
    runtime = metrics_runtime(f"127.0.0.1:{worker_port}")
    worker_client = await Client.connect(
        dev.client.service_client.config.target_host,
        namespace=dev.client.namespace,
        data_converter=TEST_CONVERTER,
        runtime=runtime,
    )
    settings = ChannelSettings(
        sendgrid_api_key="SG.test-key",
        sendgrid_api_host=sendgrid.url,
        tracking_key=TRACKING_KEY,
        var_dir=tmp_path / "worker",
    )
    today = paris_date(await dev.get_current_time())
    # Overdue on arrival: the case sends its first reminder at once.
    invoice = make_invoice(today - timedelta(days=3))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        httpx.AsyncClient(base_url=api_url, headers=headers, trust_env=False) as api,
        httpx.AsyncClient(base_url=api_url, trust_env=False) as anonymous,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker_port}", trust_env=False) as scrape,
    ):
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
        assert (await anonymous.get("/readyz")).json() == {"status": "ok"}
        assert (await anonymous.get("/metrics")).status_code == 401
        before = (await api.get("/metrics")).text

        with ThreadPoolExecutor(MAX_CONCURRENT_ACTIVITIES) as executor:
            async with build_worker(worker_client, QUEUE, build_activities(settings), executor):
                assert (await api.post("/events", json=created(invoice))).json()["results"][0]["outcome"] == "started"
                for _ in range(100):
                    worker_metrics = (await scrape.get("/metrics")).text
                    if sample(worker_metrics, "dunning_reminders_total", status="sent"):
                        break
                    await asyncio.sleep(0.2)
                for _ in range(50):  # visibility lags: the import finds only the cases it lists
                    if await cases.list_cases(dev.client, customer_id=invoice.customer.customer_id):
                        break
                    await asyncio.sleep(0.2)
                bank_file = (
                    "date,amount,reference,payer\n"
                    f"{today},1200.00,{invoice.payment_reference},ACME\n"
                    f"{today},77.00,NOTHING KNOWN,SOMEONE\n"
                )
                imported = await api.post(
                    "/bank-statements", params={"filename": "day.csv"}, content=bank_file.encode()
                )
                assert imported.status_code == 200, imported.text
        after = (await api.get("/metrics")).text

    assert len(sendgrid.requests) == 1
    sent = sample(worker_metrics, "dunning_reminders_total", channel="email", status="sent")
    assert sent == 1, worker_metrics
    assert sample(worker_metrics, "dunning_reminder_failures_total") == 0
    assert re.search(r"^temporal_\w+", worker_metrics, re.MULTILINE), "no SDK metric"
    assert "compta@martin.example" not in worker_metrics
    assert invoice.invoice_id not in worker_metrics

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("dunning_events_total", outcome="started") == 1
    assert delta("dunning_bank_payments_total", match="matched") == 1
    assert delta("dunning_bank_payments_total", match="unmatched") == 1
    assert delta("dunning_bank_lines_total", outcome="paid") == 1


async def test_not_ready_without_temporal(tmp_path: Path) -> None:
    (closed_port,) = free_ports(1)
    settings = IngressSettings(
        api_token=TOKEN, var_dir=tmp_path / "api", temporal=TemporalSettings(address=f"127.0.0.1:{closed_port}")
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as api:
        assert (await api.get("/healthz")).status_code == 200
        response = await api.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
