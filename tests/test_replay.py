"""Cases already running must keep running: replay saved histories against today's workflow code.

A change to the ladder that is not guarded by `workflow.patched()` fails here with a
NondeterminismError. Timer lengths and activity arguments are not checked by replay: review those.
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from dunning.client import DATA_CONVERTER
from worker import SANDBOX
from workflows.invoice_dunning import InvoiceDunning

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
TEXTS = {path: path.read_text() for path in HISTORIES}


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 2


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(f"invoice-{path.stem}", TEXTS[path])
    replayer = Replayer(workflows=[InvoiceDunning], data_converter=DATA_CONVERTER, workflow_runner=SANDBOX)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
