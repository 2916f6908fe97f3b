"""What people change on running cases, by the CLI and the API, on the time-skipping server: moving
cases to the configured policy, approving or holding a gated step, changing a segment."""

from datetime import timedelta

import httpx
import pytest

from domain.models import ActionStatus, CaseStatus, Segment, Stage
from domain.policy import PolicyChanged
from starter.steering import policy_event_id
from tests.conftest import Harness, advance_to, at_step, close_case, make_invoice
from tests.ingress.conftest import invoke, status_of
from tests.ladders import DEFAULT_POLICY, LEGACY_POLICY, gated
from tests.tables import table_row
from workflows.invoice_dunning import InvoiceDunning

GATED = gated(DEFAULT_POLICY)


def trail(status: CaseStatus, step: str) -> list[str]:
    return [a.detail or "" for a in status.actions if a.step == step]


@pytest.fixture(autouse=True)
def default_policy_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUNNING_POLICY_FILE", raising=False)


@pytest.mark.usefixtures("cli_env")
async def test_policy_apply_moves_named_cases_once(harness: Harness, api: httpx.AsyncClient) -> None:
    due = await harness.today() + timedelta(days=40)
    first, second, closed = (make_invoice(due) for _ in range(3))
    handles = [await harness.start(invoice, LEGACY_POLICY) for invoice in (first, second, closed)]
    async with harness.worker():
        code, output = await invoke("policy", "apply", first.invoice_id, "--dry-run")
        assert code == 0, output
        assert table_row(output, first.invoice_id)[:3] == [first.invoice_id, "would move", LEGACY_POLICY.version]
        assert (await status_of(harness, first.invoice_id)).policy_version == LEGACY_POLICY.version

        code, output = await invoke("policy", "apply", first.invoice_id, "F-NOPE")
        assert code == 1, output  # one case was not found
        assert table_row(output, first.invoice_id) == [
            first.invoice_id,
            "moved",
            LEGACY_POLICY.version,
            "stage scheduled, next preventive_email",
        ]
        assert table_row(output, "F-NOPE")[:2] == ["F-NOPE", "no case"]
        assert "1 moved, 1 no case" in output
        code, output = await invoke("policy", "apply", first.invoice_id)
        assert code == 0, output
        assert "1 unchanged" in output
        status = await status_of(harness, first.invoice_id)
        assert status.policy_version == DEFAULT_POLICY.version
        assert trail(status, "policy_changed") == [f"{LEGACY_POLICY.version} -> {DEFAULT_POLICY.version}"]
        # A stale copy of that move (a rerun racing a later change) changes nothing: same event id.
        await handles[0].signal(InvoiceDunning.policy_changed, PolicyChanged(policy=LEGACY_POLICY, event_id="back"))
        again = PolicyChanged(policy=DEFAULT_POLICY, event_id=policy_event_id(DEFAULT_POLICY, first.invoice_id))
        await handles[0].signal(InvoiceDunning.policy_changed, again)
        assert (await status_of(harness, first.invoice_id)).policy_version == LEGACY_POLICY.version

        response = await api.post(f"/cases/{second.invoice_id}/policy")
        assert response.status_code == 200, response.text
        assert response.json() | {"detail": ""} == {
            "invoice_id": second.invoice_id,
            "outcome": "moved",
            "policy_before": LEGACY_POLICY.version,
            "policy_version": DEFAULT_POLICY.version,
            "detail": "",
        }
        response = await api.post(f"/cases/{second.invoice_id}/policy")
        assert response.json()["outcome"] == "unchanged"
        assert (await api.post("/cases/F-NOPE/policy")).status_code == 404
        assert (await api.post("/cases/bad id/policy")).status_code == 422

        await close_case(handles[2])
        response = await api.post(f"/cases/{closed.invoice_id}/policy")
        assert response.status_code == 409, response.text
        assert "closed (cancelled)" in response.json()["detail"]
        for handle in handles[:2]:
            await close_case(handle)


@pytest.mark.usefixtures("cli_env")
async def test_a_gated_step_is_held_then_approved_by_the_cli(harness: Harness) -> None:
    due = await harness.today() + timedelta(days=30)
    invoice = make_invoice(due)
    iid = invoice.invoice_id
    handle = await harness.start(invoice, GATED)
    async with harness.worker():
        await advance_to(harness, at_step(due, -15))
        code, output = await invoke("approve", iid, "--by", "controller-2", "--step", "level1_email")
        assert code == 1
        assert "level1_email is not a step this case's ladder gates" in output

        code, output = await invoke("status", iid)
        assert code == 0, output
        assert table_row(output, "awaiting approval") == ["awaiting approval", "preventive_email"]
        assert table_row(output, "stage") == ["stage", "awaiting_approval"]
        assert table_row(output, "segment") == ["segment", "standard"]
        assert table_row(output, "policy") == ["policy", GATED.version]

        code, output = await invoke("hold", iid, "--by", "controller-2", "--reason", "x", "--step", "level1_email")
        assert code == 1
        assert "waits for the approval of preventive_email, not of level1_email" in output
        for _ in range(2):  # the same hold twice: one line on the trail
            code, output = await invoke("hold", iid, "--by", "controller-2", "--reason", "account manager first")
            assert code == 0, output
            assert f"{iid}: preventive_email held; stage awaiting_approval" in output

        code, output = await invoke("approve", iid, "--by", "controller-7")
        assert code == 0, output
        assert f"{iid}: preventive_email approved" in output
        code, output = await invoke("approve", iid, "--by", "controller-7")
        assert code == 1
        assert f"{iid} is not waiting for an approval" in output
        assert "--step" in output
        code, output = await invoke("approve", iid, "--by", "controller-7", "--step", "preventive_email")
        assert code == 0, output
        assert "preventive_email already approved" in output
        code, output = await invoke("hold", iid, "--by", "controller-2", "--reason", "too late")
        assert code == 1
        assert "nothing to hold" in output

        # The approved step runs: its e-mail goes out.
        await advance_to(harness, at_step(due, -15, after=timedelta(hours=2)))
        status = await status_of(harness, iid)
        await close_case(handle)
    assert trail(status, "escalation_held") == ["preventive_email held by controller-2: account manager first"]
    assert trail(status, "escalation_approved") == ["preventive_email approved by controller-7"]
    assert [a.status for a in status.actions if a.step == "preventive_email"][-1] is ActionStatus.SENT
    assert status.awaiting_approval is None
    code, output = await invoke("approve", "F-NOPE", "--by", "controller-7")
    assert code == 1
    assert "no case for invoice F-NOPE" in output


async def test_approval_and_hold_by_the_api(harness: Harness, api: httpx.AsyncClient) -> None:
    due = await harness.today() + timedelta(days=30)
    invoice = make_invoice(due)
    iid = invoice.invoice_id
    handle = await harness.start(invoice, GATED)
    async with harness.worker():
        response = await api.post(f"/cases/{iid}/approval", json={"decision": "approve", "by": "controller-7"})
        assert response.status_code == 409  # nothing waits yet, no step named
        assert "is not waiting for an approval" in response.json()["detail"]

        await advance_to(harness, at_step(due, -15))
        response = await api.get(f"/cases/{iid}")
        assert response.json()["awaiting_approval"] == "preventive_email"
        assert response.json()["stage"] == Stage.AWAITING_APPROVAL.value
        assert response.json()["segment"] == "standard"
        assert response.json()["policy_version"] == GATED.version

        hold = {"decision": "hold", "by": "controller-2"}
        assert (await api.post(f"/cases/{iid}/approval", json=hold)).status_code == 422  # no reason
        response = await api.post(f"/cases/{iid}/approval", json=hold | {"reason": "call first"})
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "held"
        assert response.json()["case"]["awaiting_approval"] == "preventive_email"

        response = await api.post(f"/cases/{iid}/approval", json={"decision": "approve", "by": "controller-7"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["step"], body["outcome"], body["case"]["awaiting_approval"]) == (
            "preventive_email",
            "approved",
            None,
        )
        response = await api.post(f"/cases/{iid}/approval", json={"decision": "approve", "by": "controller-7"})
        assert response.status_code == 409
        assert (await api.post("/cases/F-NOPE/approval", json=hold | {"reason": "x"})).status_code == 404
        unauthorised = await api.post(
            f"/cases/{iid}/approval", json=hold | {"reason": "x"}, headers={"Authorization": "Bearer wrong"}
        )
        assert unauthorised.status_code == 401
        await close_case(handle)


@pytest.mark.usefixtures("cli_env")
async def test_segment_changes_by_the_cli_and_the_api(harness: Harness, api: httpx.AsyncClient) -> None:
    due = await harness.today() + timedelta(days=40)
    invoice = make_invoice(due)
    iid = invoice.invoice_id
    handle = await harness.start(invoice)
    async with harness.worker():
        code, output = await invoke("segment", iid, "bad_payer", "--reason", "three payments late this year")
        assert code == 0, output
        assert f"{iid}: standard -> bad_payer; stage scheduled, next preventive_email" in output
        code, output = await invoke("segment", iid, "bad_payer", "--reason", "again")
        assert code == 0, output
        assert "already bad_payer, unchanged" in output
        assert (await status_of(harness, iid)).segment is Segment.BAD_PAYER

        response = await api.post(f"/cases/{iid}/segment", json={"segment": "strategic", "reason": "key account"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["segment_before"], body["segment"], body["outcome"]) == ("bad_payer", "strategic", "changed")
        assert body["case"]["segment"] == "strategic"
        response = await api.post(f"/cases/{iid}/segment", json={"segment": "vip", "reason": "x"})
        assert response.status_code == 422
        response = await api.post("/cases/F-NOPE/segment", json={"segment": "new", "reason": "x"})
        assert response.status_code == 404
        status = await status_of(harness, iid)
        await close_case(handle)
        response = await api.post(f"/cases/{iid}/segment", json={"segment": "new", "reason": "x"})
        assert response.status_code == 409
    assert trail(status, "segment_changed") == [
        "standard -> bad_payer: three payments late this year",
        "bad_payer -> strategic: key account",
    ]
    code, output = await invoke("segment", iid, "vip", "--reason", "x")
    assert code == 2
