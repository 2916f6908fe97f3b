"""Closing call tasks through the API and the CLI: the outcome, a promise, a new contact reach the case."""

from datetime import timedelta

import httpx
import pytest

from tests.conftest import Harness, advance_to, at_step, clear_due_date, close_case, make_invoice
from tests.ingress.conftest import invoke, status_of


async def test_a_call_logged_through_the_api_with_a_promise_pauses_the_ladder_and_keeps_the_contact(
    harness: Harness, api: httpx.AsyncClient
) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, at_step(due, 4))
        assert "level1_call" in (await status_of(harness, invoice.invoice_id)).open_calls
        body = {
            "outcome": "promised",
            "promised_on": str(due + timedelta(days=12)),
            "promised_amount": "1200.00",
            "reason": "funds",
            "contact": "Mme Durand, comptabilité fournisseurs",
            "event_id": "call-1",
        }
        response = await api.post(f"/calls/{invoice.invoice_id}/level1_call", json=body)
        again = await api.post(f"/calls/{invoice.invoice_id}/level1_call", json=body)
        status = await status_of(harness, invoice.invoice_id)
        await close_case(handle)
    assert response.status_code == 200, response.text
    assert response.json() == {"event_id": "call-1", "outcome": "signalled", "detail": None}
    assert again.json()["outcome"] == "duplicate"
    assert status.stage == "promised"
    assert status.contact == "Mme Durand, comptabilité fournisseurs"
    assert "level1_call" not in status.open_calls
    [logged] = [a for a in status.actions if a.step == "level1_call" and a.status == "done"]
    assert logged.detail is not None
    assert logged.detail.startswith("promised")


async def test_a_promise_date_without_the_promised_outcome_is_refused_naming_the_field(
    harness: Harness, api: httpx.AsyncClient
) -> None:
    response = await api.post("/calls/F-1/level1_call", json={"outcome": "reached", "promised_on": "2027-01-10"})
    assert response.status_code == 422
    assert "promised_on and promised_amount go with outcome 'promised'" in response.text


@pytest.mark.usefixtures("cli_env")
async def test_dunning_calls_log_closes_the_task_and_keeps_the_contact(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=30))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, at_step(due, -7))
        code, output = await invoke(
            "calls", "log", "preventive_call", invoice.invoice_id, "--outcome", "reached", "--contact", "M. Petit"
        )
        status = await status_of(harness, invoice.invoice_id)
        shown_code, shown = await invoke("status", invoice.invoice_id)
        bad_code, bad_output = await invoke(
            "calls", "log", "preventive_call", invoice.invoice_id, "--outcome", "reached", "--promised-on", "2027-01-10"
        )
        await close_case(handle)
    assert code == 0, output
    assert f"preventive_call on {invoice.invoice_id}: signalled" in output
    assert status.contact == "M. Petit"
    assert status.open_calls == []
    assert shown_code == 0, shown
    assert "M. Petit" in shown
    # The trail of messages: the preventive e-mail, its provider id and the start of its hash.
    [email] = status.messages
    assert email.content_sha256 is not None
    assert email.content_sha256[:12] in shown
    assert bad_code == 1
    assert "promised_on and promised_amount go with outcome 'promised'" in bad_output


async def test_a_promise_dated_years_ahead_is_refused_at_the_ingress(harness: Harness, api: httpx.AsyncClient) -> None:
    body = {"outcome": "promised", "promised_on": "9999-12-31"}
    response = await api.post("/calls/F-1/level1_call", json=body)
    assert response.status_code == 422
    assert "data.promised_on" in response.text
    assert "more than 366 days ahead" in response.text
