"""Cases already running must keep running: replay saved histories against today's workflow code.

A change to the ladder that is not guarded by `workflow.patched()` fails here with a
NondeterminismError. Timer lengths and activity arguments are not checked by replay: review those.
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from domain import policy_file
from domain.ladder import Channel
from domain.policy import Policy
from tests.codec_keys import TEST_CONVERTER
from tests.ladders import DEFAULT_POLICY, LEGACY_POLICY
from worker import SANDBOX
from workflows.customer_digest import CustomerDigest
from workflows.invoice_dunning import InvoiceDunning

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
TEXTS = {path: path.read_text() for path in HISTORIES}


async def replay_failure(path: Path) -> Exception | None:
    history = WorkflowHistory.from_json(f"invoice-{path.stem}", TEXTS[path])
    workflows = [InvoiceDunning, CustomerDigest]
    replayer = Replayer(workflows=workflows, data_converter=TEST_CONVERTER, workflow_runner=SANDBOX)
    return (await replayer.replay_workflow(history, raise_on_replay_failure=False)).replay_failure


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 2


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays(path: Path) -> None:
    failure = await replay_failure(path)
    assert failure is None, f"{path.name}: {failure}"


def later_policy(policy: Policy) -> Policy:
    """A version that would move every timer and drop the SMS: what running cases must not see."""
    standard = tuple(
        s.model_copy(update={"offset_days": s.offset_days + 3})
        for s in policy.ladders["standard"]
        if s.channel is not Channel.SMS
    )
    return policy.model_copy(update={"ladders": {**policy.ladders, "standard": standard}})


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_editing_the_default_policy_leaves_running_cases_on_theirs(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # New cases copy the policy into their start input: the packaged default is read by no replay.
    released = policy_file.packaged
    edited = later_policy(DEFAULT_POLICY)
    monkeypatch.setattr(policy_file, "packaged", lambda name: edited if name == policy_file.DEFAULT else released(name))
    assert policy_file.packaged(policy_file.DEFAULT).version != DEFAULT_POLICY.version
    failure = await replay_failure(path)
    assert failure is None, f"{path.name}: {failure}"


async def test_editing_the_released_legacy_policy_in_place_fails_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    # The negative control: cases started without a policy run the 2026-11 release; changing it is caught.
    monkeypatch.setattr(policy_file, "legacy", lambda: later_policy(LEGACY_POLICY))
    failure = await replay_failure(Path(__file__).parent / "histories" / "2026-11-litigation.json")
    assert isinstance(failure, NondeterminismError)
