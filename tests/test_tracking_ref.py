"""The case reference providers carry: only our key turns it back into the workflow id."""

import pytest

from dunning.tracking_ref import InvalidReference, TrackingRefs, new_key

WORKFLOW_ID = "invoice-F-2026-0042"


def test_a_reference_hides_the_workflow_id_and_is_the_same_on_every_retry() -> None:
    refs = TrackingRefs(new_key())
    ref = refs.ref(WORKFLOW_ID)
    assert "F-2026-0042" not in ref
    assert ref == refs.ref(WORKFLOW_ID)
    assert ref != refs.ref("invoice-F-2026-0043")
    assert refs.workflow_id(ref) == WORKFLOW_ID


@pytest.mark.parametrize(
    "ref",
    ["", "not base64 é", WORKFLOW_ID, TrackingRefs(new_key()).ref(WORKFLOW_ID)],
    ids=["empty", "not base64", "plain workflow id", "another key"],
)
def test_a_reference_we_did_not_make_is_refused(ref: str) -> None:
    with pytest.raises(InvalidReference):
        TrackingRefs(new_key()).workflow_id(ref)


def test_a_flipped_character_is_refused() -> None:
    refs = TrackingRefs(new_key())
    ref = refs.ref(WORKFLOW_ID)
    flipped = ref[:10] + ("A" if ref[10] != "A" else "B") + ref[11:]
    with pytest.raises(InvalidReference):
        refs.workflow_id(flipped)
