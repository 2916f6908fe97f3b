"""Billing events through the HTTP API on the time-skipping server: every type, duplicates, early
payments, validation errors and auth."""

from datetime import timedelta
from decimal import Decimal

import httpx

from domain.models import ActionStatus, DunningResult, Outcome, PaymentReceived, Stage
from starter.dispatch import Dispatcher
from tests.conftest import Harness, make_invoice
from tests.ingress.conftest import created, event, status_of


async def test_every_event_type_reaches_the_case(harness: Harness, api: httpx.AsyncClient) -> None:
    today = await harness.today()
    invoice = make_invoice(today + timedelta(days=40))
    iid = invoice.invoice_id
    async with harness.worker():
        response = await api.post("/events", json=created(invoice))
        assert response.status_code == 200, response.text
        assert response.json()["results"] == [{"event_id": f"created-{iid}", "outcome": "started"}]

        batch = [
            event("e-upd", "invoice.updated", iid, amount="1500.00"),
            event("e-pay", "payment.received", iid, payment_id="P-1", amount="100.00", received_on=str(today)),
            event("e-rev", "payment.reversed", iid, payment_id="P-1", reason="returned AC04"),
            event("e-dsp", "dispute.opened", iid, reason="wrong quantity"),
            event("e-res", "dispute.resolved", iid, outcome="credit_note", credited_amount="200.00"),
            event("e-prm", "promise_to_pay.recorded", iid, promised_on=str(today + timedelta(days=50))),
            event(
                "e-pln",
                "installment_plan.agreed",
                iid,
                installments=[
                    {"due_on": str(today + timedelta(days=60)), "amount": "650.00"},
                    {"due_on": str(today + timedelta(days=90)), "amount": "650.00"},
                ],
            ),
            event("e-call", "call.logged", iid, step="preventive_call", outcome="reached", note="ok"),
        ]
        response = await api.post("/events", json=batch)
        assert response.status_code == 200, response.text
        assert [r["outcome"] for r in response.json()["results"]] == ["signalled"] * len(batch)

        status = await status_of(harness, iid)
        assert status.amount == Decimal("1500.00")
        assert status.paid == Decimal("0.00")  # paid then reversed
        assert status.credited == Decimal("200.00")
        assert status.balance == Decimal("1300.00")
        steps = [a.step for a in status.actions if a.status in (ActionStatus.RECORDED, ActionStatus.DONE)]
        for step in (
            "invoice_updated",
            "dispute_opened",
            "dispute_resolved",
            "promise_to_pay",
            "installment_plan_agreed",
        ):
            assert step in steps
        assert "preventive_call" in steps

        response = await api.post("/events", json=event("e-cnl", "invoice.cancelled", iid, reason="credit note C-1"))
        assert response.json()["results"][0]["outcome"] == "signalled"
        result = await harness.client.get_workflow_handle(f"invoice-{iid}", result_type=DunningResult).result()
        assert result.outcome is Outcome.CANCELLED

        # After the case closed: kept in the closed store, reported, not lost.
        response = await api.post(
            "/events",
            json=event("e-late", "payment.received", iid, payment_id="P-2", amount="10.00", received_on=str(today)),
        )
        assert response.json()["results"][0]["outcome"] == "closed"
        response = await api.post("/events", json=created(invoice, event_id="created-again"))
        assert response.json()["results"][0]["outcome"] == "closed"


async def test_repeated_events_change_nothing(harness: Harness, api: httpx.AsyncClient, dispatcher: Dispatcher) -> None:
    today = await harness.today()
    invoice = make_invoice(today + timedelta(days=40))
    payment = event(
        "pay-1", "payment.received", invoice.invoice_id, payment_id="P-9", amount="200.00", received_on=str(today)
    )
    async with harness.worker():
        first = await api.post("/events", json=[created(invoice), payment])
        again = await api.post("/events", json=[created(invoice), payment])
        assert [r["outcome"] for r in first.json()["results"]] == ["started", "signalled"]
        assert [r["outcome"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
        # Even past the local check (another ingress instance), the workflow dedups on event_id.
        same = PaymentReceived(event_id="pay-1", payment_id="P-9", amount=Decimal("200.00"), received_on=today)
        resent = await dispatcher.send(invoice.invoice_id, "payment_received", same)
        assert resent == "signalled"
        status = await status_of(harness, invoice.invoice_id)
    assert status.paid == Decimal("200.00")
    assert status.balance == Decimal("1000.00")


async def test_payment_before_invoice_is_kept_then_applied(harness: Harness, api: httpx.AsyncClient) -> None:
    today = await harness.today()
    invoice = make_invoice(today + timedelta(days=40))
    iid = invoice.invoice_id
    async with harness.worker():
        early = [
            event("early-1", "payment.received", iid, payment_id="P-E", amount="1000.00", received_on=str(today)),
            event("early-2", "promise_to_pay.recorded", iid, promised_on=str(today + timedelta(days=45))),
        ]
        response = await api.post("/events", json=early)
        assert [r["outcome"] for r in response.json()["results"]] == ["pending", "pending"]
        response = await api.post("/events", json=created(invoice))
        assert response.json()["results"][0]["outcome"] == "started"
        status = await status_of(harness, iid)
    assert status.paid == Decimal("1000.00")
    assert status.balance == Decimal("200.00")
    assert any(a.step == "promise_to_pay" for a in status.actions)


async def test_settling_payment_event_closes_the_case(harness: Harness, api: httpx.AsyncClient) -> None:
    today = await harness.today()
    invoice = make_invoice(today + timedelta(days=10))
    async with harness.worker():
        await api.post("/events", json=created(invoice))
        pay = event(
            "p", "payment.received", invoice.invoice_id, payment_id="P", amount="1200.00", received_on=str(today)
        )
        await api.post("/events", json=pay)
        status = await status_of(harness, invoice.invoice_id)
    assert status.balance == Decimal("0.00")
    assert status.stage is Stage.SETTLED


async def test_invalid_events_are_rejected_with_the_field_named(api: httpx.AsyncClient, harness: Harness) -> None:
    invoice = make_invoice(await harness.today() + timedelta(days=40))
    bad_amount = event(
        "b1", "payment.received", invoice.invoice_id, payment_id="P", amount="0", received_on="2026-01-01"
    )
    typo = event("b2", "dispute.opened", invoice.invoice_id, reason="x", resaon="y")
    response = await api.post(
        "/events", json=[created(invoice), bad_amount, typo, {"event_id": "b3", "type": "nope", "data": {}}]
    )
    assert response.status_code == 422
    assert response.json()["detail"]["errors"] == [
        "event 1: data.amount: Input should be greater than 0",
        "event 2: data.resaon: Extra inputs are not permitted",
        "event 3: type: Input tag 'nope' found using 'type' does not match any of the expected tags: "
        "'invoice.created', 'invoice.updated', 'invoice.cancelled', 'payment.received', 'payment.reversed', "
        "'dispute.opened', 'dispute.resolved', 'installment_plan.agreed', 'promise_to_pay.recorded', 'call.logged'",
    ]
    # A batch is all or nothing: the valid invoice.created was not applied.
    assert (await api.get(f"/cases/{invoice.invoice_id}")).status_code == 404

    two_ids = event("b4", "dispute.opened", invoice.invoice_id, reason="x")
    two_ids["data"]["event_id"] = "other"
    response = await api.post("/events", json=two_ids)
    assert response.json()["detail"]["errors"] == ["data: Value error, event_id belongs in the envelope, not in data"]

    response = await api.post("/events", content=b'{"event_id": "x", ', headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"]["errors"][0].startswith("body: invalid JSON: Expecting property name")


async def test_wrong_token_gets_401_and_changes_nothing(harness: Harness, api: httpx.AsyncClient) -> None:
    invoice = make_invoice(await harness.today() + timedelta(days=40))
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": ""}):
        response = await api.post("/events", json=created(invoice), headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await api.get("/cases", headers={"Authorization": "Bearer wrong"})).status_code == 401
    assert (await api.get(f"/cases/{invoice.invoice_id}")).status_code == 404
    docs = await api.get("/openapi.json", headers={"Authorization": ""})
    assert docs.status_code == 200
    assert "/bank-statements" in docs.json()["paths"]
