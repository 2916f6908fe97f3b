"""Property tests of the events import: whatever a line holds, it is an event or a rejection naming its
line and the field at fault, never a crash."""

import json
from datetime import date
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from starter.importer import parse_event_lines
from tests.conftest import make_invoice
from tests.ingress.conftest import created, event

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SAMPLES: list[dict[str, Any]] = [
    created(make_invoice(date(2027, 3, 1), invoice_id="F-2027-0001")),
    event("e-1", "payment.received", "F-2027-0001", payment_id="P-1", amount="120.00", received_on="2027-03-02"),
    event("e-2", "installment_plan.agreed", "F-2027-0001", installments=[{"due_on": "2027-04-01", "amount": "60"}]),
    event("e-3", "dispute.resolved", "F-2027-0001", outcome="rejected"),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def paths(value: Any, base: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of a JSON value, as `describe_errors` spells it (list indexes as numbers)."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    found = [base] if base else []
    for key, child in children:
        found += paths(child, (*base, str(key)))
    return found


def replaced(value: Any, path: tuple[str, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [replaced(v, rest, new) if str(i) == head else v for i, v in enumerate(value)]
    return {k: replaced(v, rest, new) if k == head else v for k, v in value.items()}


def related(reported: str, changed: str) -> bool:
    """The error is about the changed field: the field itself, inside it, or the object holding it
    (a check across fields, a missing required one)."""
    if reported in ("(event)", changed):
        return True
    return changed.startswith(reported + ".") or reported.startswith(changed + ".")


@st.composite
def mutated_events(draw: st.DrawFn) -> tuple[str, str]:
    """A valid event with one field replaced, removed or one unknown field added; and that field's path."""
    sample = draw(st.sampled_from(SAMPLES))
    path = draw(st.sampled_from(paths(sample)))
    how = draw(st.sampled_from(["replace", "remove", "add"]))
    if how == "replace":
        return json.dumps(replaced(sample, path, draw(json_values))), ".".join(path)
    parent = path[:-1]
    holder: Any = sample
    for key in parent:
        holder = holder[int(key)] if isinstance(holder, list) else holder[key]
    if not isinstance(holder, dict):
        return json.dumps(replaced(sample, path, draw(json_values))), ".".join(path)
    if how == "remove":
        smaller = {k: v for k, v in holder.items() if k != path[-1]}
        return json.dumps(replaced(sample, parent, smaller)), ".".join(path)
    extra = draw(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10).filter(lambda k: k not in holder)
    )
    return json.dumps(replaced(sample, parent, {**holder, extra: draw(json_values)})), ".".join((*parent, extra))


def test_the_samples_are_valid_events() -> None:
    # The control for the mutations below: unchanged, every sample is accepted.
    items = list(parse_event_lines(json.dumps(sample) for sample in SAMPLES))
    assert [(event is not None, errors) for _, event, errors in items] == [(True, [])] * len(SAMPLES)


@FAST
# Mostly not JSON, and JSON that is no event: the property is only that nothing escapes as a crash.
@given(st.lists(st.text(max_size=120) | json_values.map(json.dumps), max_size=5))
@example(["[" * 100_000 + "]" * 100_000])  # deeper than the JSON parser recurses
@example(['{"event_id": "e", "type": "payment.received", "data": {"amount": 1' + "0" * 5000 + "}}"])
def test_any_text_is_an_event_or_a_rejection_naming_line_and_field(lines: list[str]) -> None:
    items = list(parse_event_lines(lines))
    assert [line_no for line_no, _, _ in items] == [n for n, line in enumerate(lines, start=1) if line.strip()]
    for _, parsed, errors in items:
        assert (parsed is None) == bool(errors)
        assert all(": " in error and error.split(": ", 1)[0] for error in errors)


@FAST
@given(mutated_events())
def test_a_bad_field_is_rejected_by_its_own_name(mutation: tuple[str, str]) -> None:
    line, changed = mutation
    [(line_no, parsed, errors)] = list(parse_event_lines(["", line]))
    assert line_no == 2
    if parsed is None:
        reported = [error.split(": ", 1)[0] for error in errors]
        assert reported
        assert all(related(where, changed) for where in reported), (changed, errors)
