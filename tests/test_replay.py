"""Cases already running must keep running: replay saved histories against today's workflow code.

A change to the ladder that is not guarded by `workflow.patched()` fails here with a
NondeterminismError. Timer lengths and activity arguments are not checked by replay: review those.
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from domain import ladder
from domain.ladder import STANDARD, Channel, Step
from domain.models import Segment
from tests.codec_keys import TEST_CONVERTER
from worker import SANDBOX
from workflows.invoice_dunning import InvoiceDunning

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
TEXTS = {path: path.read_text() for path in HISTORIES}


async def replay_failure(path: Path) -> Exception | None:
    history = WorkflowHistory.from_json(f"invoice-{path.stem}", TEXTS[path])
    replayer = Replayer(workflows=[InvoiceDunning], data_converter=TEST_CONVERTER, workflow_runner=SANDBOX)
    return (await replayer.replay_workflow(history, raise_on_replay_failure=False)).replay_failure


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 2


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays(path: Path) -> None:
    failure = await replay_failure(path)
    assert failure is None, f"{path.name}: {failure}"


def later_ladder() -> tuple[Step, ...]:
    """A next version that would move every timer and drop the SMS: what running cases must not see."""
    return tuple(
        s.model_copy(update={"offset_days": s.offset_days + 3}) for s in STANDARD if s.channel is not Channel.SMS
    )


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_a_new_ladder_version_leaves_running_cases_on_theirs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    released = ladder.LADDERS["2026-11"]
    monkeypatch.setitem(ladder.LADDERS, "2099-01", {**released, Segment.STANDARD: later_ladder()})
    assert ladder.current_version() == "2099-01"
    failure = await replay_failure(path)
    assert failure is None, f"{path.name}: {failure}"


async def test_editing_a_released_ladder_in_place_fails_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    # The negative control: the same change made to the released version is caught.
    released = ladder.LADDERS["2026-11"]
    monkeypatch.setitem(ladder.LADDERS, "2026-11", {**released, Segment.STANDARD: later_ladder()})
    failure = await replay_failure(Path(__file__).parent / "histories" / "2026-11-litigation.json")
    assert isinstance(failure, NondeterminismError)
