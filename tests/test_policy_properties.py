"""Property tests of policy files: whatever a line of the packaged file is changed into, the file is a
policy or a rejection naming the line and the field at fault, never a crash."""

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.policy_file import PolicyError, parse_policy

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = (Path(__file__).parent.parent / "domain" / "data" / "policies" / "default.toml").read_text()
LINES = TEXT.splitlines()
# Lines that set something (not comments, blanks or brackets): the ones an operator edits.
EDITABLE = [n for n, line in enumerate(LINES) if "=" in line and not line.lstrip().startswith("#")]
PROBLEM = re.compile(r"^policy\.toml:(\d+): (\S+): .+", re.S)
VALUE = re.compile(r'("[^"]*"|-?\d[\d:.]*|true|false)')

toml_scalars = st.one_of(
    st.integers(min_value=-10_000, max_value=10_000).map(str),
    st.text(alphabet=st.characters(codec="ascii", exclude_characters='"\\\n\r'), max_size=12).map(lambda t: f'"{t}"'),
    st.sampled_from(["true", "false", "1.5", "-0", "25:00:00", '"registered_letter"', '"litigation"', '"level_9"']),
)


def enclosing(number: int) -> set[int]:
    """The 1-based lines a problem caused at line `number` may be reported at: the line itself, the
    steps next to it (an offset out of order is the later step's), the array or table holding it,
    and the top of the file for checks across the whole policy."""
    lines = {number, number + 1, number + 2, 1}
    for above in range(number, -1, -1):
        if re.match(r"^\s*(\[|\w+ = \[)", LINES[above]):
            lines.add(above + 1)
            break
    return lines


def check(text: str, changed: int | None) -> None:
    try:
        parse_policy(text, "policy.toml")
    except PolicyError as error:
        problems = error.problems
    else:
        return
    assert problems
    for problem in problems:
        if "(at line" in problem or "at end of document" in problem:
            continue  # the TOML parser's own message, which states its line and column
        found = PROBLEM.match(problem)
        assert found, problem
        assert 1 <= int(found.group(1)) <= len(text.splitlines()) + 1, problem
    if changed is not None:
        reported = {int(m.group(1)) for p in problems if (m := PROBLEM.match(p))}
        assert reported & enclosing(changed) or not reported, (LINES[changed], problems)


@FAST
@given(line=st.sampled_from(EDITABLE), data=st.data())
def test_a_value_changed_on_any_line_is_accepted_or_refused_at_that_line(line: int, data: st.DataObject) -> None:
    values = list(VALUE.finditer(LINES[line].split("#", 1)[0]))
    if not values:
        return
    target = data.draw(st.sampled_from(values))
    new = data.draw(toml_scalars)
    edited = LINES[line][: target.start()] + new + LINES[line][target.end() :]
    check("\n".join([*LINES[:line], edited, *LINES[line + 1 :]]), line)


@FAST
@given(line=st.sampled_from(EDITABLE), how=st.sampled_from(["delete", "duplicate", "truncate"]))
def test_a_line_deleted_duplicated_or_cut_short_never_crashes(line: int, how: str) -> None:
    if how == "delete":
        lines = [*LINES[:line], *LINES[line + 1 :]]
    elif how == "duplicate":
        lines = [*LINES[: line + 1], LINES[line], *LINES[line + 1 :]]
    else:
        lines = [*LINES[:line], LINES[line][: len(LINES[line]) // 2], *LINES[line + 1 :]]
    check("\n".join(lines), None)


@FAST
@given(st.text(max_size=300))
def test_any_text_is_a_policy_or_a_named_rejection(text: str) -> None:
    check(text, None)
