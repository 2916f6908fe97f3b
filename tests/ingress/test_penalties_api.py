"""A running case's penalties through the API and the CLI on the time-skipping server: from its own
payments, in its status answer, refused without a rate, 404 for an unknown invoice."""

import json
from datetime import timedelta
from decimal import Decimal

import httpx

from domain.penalties import statement
from tests.conftest import Harness, make_invoice
from tests.ingress.conftest import created, event, invoke
from tests.penalty_helpers import INTEREST_FIRST, PRINCIPAL_FIRST, business


async def test_penalties_of_a_case_come_from_its_payments_and_are_in_its_status(
    harness: Harness, api: httpx.AsyncClient, cli_env: None
) -> None:
    today = await harness.today()
    due = today - timedelta(days=20)
    paid_on = due + timedelta(days=5)
    invoice = make_invoice(due, amount="10000.00")
    iid = invoice.invoice_id
    async with harness.worker():
        assert (await api.post("/events", json=created(invoice))).status_code == 200
        payment = event("p-1", "payment.received", iid, payment_id="P-1", amount="4000.00", received_on=str(paid_on))
        assert (await api.post("/events", json=payment)).status_code == 200

        response = await api.get(f"/cases/{iid}/penalties", params={"as_of": str(today)})
        assert response.status_code == 200, response.text
        shown = response.json()
        expected = statement(business("10000.00", str(due), str(today), (str(paid_on), "4000.00")), INTEREST_FIRST)
        assert shown == json.loads(expected.model_dump_json())
        # 20 days late, split at the payment; interest first: part of the 4,000 settled penalties.
        assert sum(s["days"] for s in shown["segments"]) == 20
        assert Decimal(shown["interest_paid"]) > 0
        assert Decimal(shown["segments"][-1]["principal"]) == Decimal("6000.00") + Decimal(shown["interest_paid"])
        assert shown["indemnity"] == "40.00"

        status = (await api.get(f"/cases/{iid}")).json()
        assert status["payments"] == [{"received_on": str(paid_on), "amount": "4000.00"}]
        assert status["penalties"]["total_due"] == shown["total_due"]
        assert status["penalties_unavailable"] is None

        code, output = await invoke("penalties", iid, "--as-of", str(today), "--imputation", "principal", "--json")
        assert code == 0, output
        by_principal = statement(business("10000.00", str(due), str(today), (str(paid_on), "4000.00")), PRINCIPAL_FIRST)
        assert json.loads(output)["interest"] == str(by_principal.interest)

        code, output = await invoke("status", iid)
        assert code == 0, output
        assert f"total due {shown['total_due']}" in output


async def test_a_case_without_a_rate_or_unknown_is_refused(harness: Harness, api: httpx.AsyncClient) -> None:
    today = await harness.today()
    invoice = make_invoice(today - timedelta(days=3), customer={"kind": "consumer"})
    async with harness.worker():
        assert (await api.post("/events", json=created(invoice))).status_code == 200
        # Years ahead: no semester there has a row yet.
        future = today.replace(year=today.year + 5)
        response = await api.get(f"/cases/{invoice.invoice_id}/penalties", params={"as_of": str(future)})
        assert response.status_code == 200, response.text
        # A consumer without a formal notice owes nothing yet, and is told why.
        assert response.json()["interest"] == "0.00"
        assert "no formal notice yet" in response.json()["warnings"][0]

        business_case = make_invoice(today - timedelta(days=3))
        assert (await api.post("/events", json=created(business_case))).status_code == 200
        response = await api.get(f"/cases/{business_case.invoice_id}/penalties", params={"as_of": str(future)})
        assert response.status_code == 409
        assert "no verified French late-payment rates" in response.json()["detail"]

    response = await api.get("/cases/F-unknown/penalties")
    assert response.status_code == 404
