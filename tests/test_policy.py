"""Policy files: the packaged ones, what a file may say, and the errors a bad one gets."""

from decimal import Decimal
from pathlib import Path

import pytest

from domain.ladder import Channel
from domain.models import Segment
from domain.policy import Handover, Policy
from domain.policy_file import DEFAULT, PolicyError, load_policy, packaged, parse_policy
from tests.ladders import DEFAULT_POLICY, LEGACY_POLICY

SAMPLES = Path(__file__).parent.parent / "samples" / "policies"
DEFAULT_TEXT = (Path(__file__).parent.parent / "domain" / "data" / "policies" / "default.toml").read_text()

# The 2026-11 ladders as they were released in code (domain/ladder.py before policy files): the
# packaged 2026-11 file, which every case started without a policy runs, must never drift from them.
RELEASED_2026_11 = {
    "standard": "preventive_email@-15 preventive_call@-7 level1_email@1 level1_call@4 level1_followup_email@7"
    " level2_email@8 level2_sms@10 level2_registered_letter@15 level3_email@30 level3_call@32 formal_notice@35"
    " litigation_handover@60",
    "new": "preventive_email@-15 preventive_call@-7 level1_email@1 level1_call@4 level1_followup_email@7"
    " level2_email@8 level2_sms@10 level2_registered_letter@15 level3_email@22 level3_call@24 formal_notice@27"
    " litigation_handover@45",
    "bad_payer": "preventive_email@-15 level1_email@1 level1_call@3 level2_email@5 level2_sms@6"
    " level2_registered_letter@10 level3_email@15 level3_call@17 formal_notice@20 litigation_handover@35",
    "strategic": "preventive_email@-15 preventive_call@-7 level1_email@1 level1_call@4 level1_followup_email@10"
    " level2_email@15 level2_registered_letter@25 level3_email@40 level3_call@42 formal_notice@50"
    " litigation_handover@90",
}
CHANNEL_BY_SUFFIX = {
    "email": Channel.EMAIL,
    "call": Channel.CALL,
    "sms": Channel.SMS,
    "letter": Channel.REGISTERED_LETTER,
    "notice": Channel.REGISTERED_LETTER,
    "handover": Channel.LITIGATION,
}


def written(policy: Policy, ladder: str) -> str:
    return " ".join(f"{s.name}@{s.offset_days}" for s in policy.ladders[ladder])


@pytest.mark.parametrize("policy", [LEGACY_POLICY, DEFAULT_POLICY], ids=["2026-11", "default"])
def test_the_packaged_policies_reproduce_the_released_ladders(policy: Policy) -> None:
    assert {name: written(policy, name) for name in policy.ladders} == RELEASED_2026_11
    for steps in policy.ladders.values():
        for step in steps:
            assert step.channel is CHANNEL_BY_SUFFIX[step.name.rsplit("_", 1)[-1]], step.name
    for segment in Segment:
        assert policy.ladder_name(segment, Decimal("1.00")) == segment.value


def test_the_default_gates_only_a_strategic_customers_formal_notice() -> None:
    gated = {(ladder, s.name) for ladder, steps in DEFAULT_POLICY.ladders.items() for s in steps if s.approval}
    assert gated == {("strategic", "formal_notice")}
    assert not any(s.approval for steps in LEGACY_POLICY.ladders.values() for s in steps)


def test_the_version_names_the_content() -> None:
    again = parse_policy(DEFAULT_TEXT, "copy.toml")
    assert again.version == DEFAULT_POLICY.version
    assert again.version.startswith("default.")
    edited = parse_policy(
        DEFAULT_TEXT.replace("formal_notice_deadline_days = 8", "formal_notice_deadline_days = 10"), "x"
    )
    assert edited.version != DEFAULT_POLICY.version
    assert LEGACY_POLICY.version != DEFAULT_POLICY.version


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("120.00", ["level2_sms", "level2_call", "level3_email"]),
        ("499.99", ["level2_sms", "level2_call", "level3_email"]),
        ("500.00", ["level2_sms", "level2_registered_letter", "level3_email"]),
        ("4999.99", ["level2_sms", "level2_registered_letter", "level3_email"]),
        ("5000.00", ["level2_sms", "level2_letter_call", "level2_registered_letter"]),
    ],
)
def test_amount_bands_choose_the_steps(amount: str, expected: list[str]) -> None:
    policy = load_policy(SAMPLES / "by-amount.toml")
    steps = policy.ladder_for(Segment.STANDARD, Decimal(amount))
    names = [s.name for s in steps]
    start = names.index("level2_sms")
    assert names[start : start + 3] == expected
    # Whatever the amount, the formal notice goes by registered letter, then the hand-over.
    assert [(s.name, s.channel) for s in steps[-2:]] == [
        ("formal_notice", Channel.REGISTERED_LETTER),
        ("litigation_handover", Channel.LITIGATION),
    ]


def test_routes_choose_the_ladder_by_amount() -> None:
    policy = load_policy(SAMPLES / "by-amount.toml")
    assert policy.ladder_name(Segment.STRATEGIC, Decimal("19999.99")) == "strategic_small"
    assert policy.ladder_name(Segment.STRATEGIC, Decimal("20000.00")) == "strategic"
    notice = {a: policy.ladder_for(Segment.STRATEGIC, Decimal(a))[-2] for a in ("3000", "30000")}
    assert [notice["3000"].approval, notice["30000"].approval] == [False, True]


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if fragment in line)


@pytest.mark.parametrize(
    ("change", "line_fragment", "field", "message"),
    [
        # A misspelt key in a step: its line, the step's position and the key.
        (
            ('offset_days =  10, channel = "sms"', 'ofset_days =  10, channel = "sms"'),
            'name = "level2_sms"',
            "ladders.standard.6.ofset_days",
            "Extra inputs are not permitted",
        ),
        (
            ('channel = "sms",               stage = "level_2" },', 'channel = "fax", stage = "level_2" },'),
            'channel = "fax"',
            "ladders.standard.6.channel",
            "Input should be",
        ),
        (
            ("formal_notice_deadline_days = 8", "formal_notice_deadline_days = 0"),
            "formal_notice_deadline_days",
            "formal_notice_deadline_days",
            "greater than or equal to 1",
        ),
        (("start = 09:00:00", "start = 19:00:00"), "[send_hours]", "send_hours", "must be before end"),
        (
            ('{ segment = "new", ladder = "new" },', '{ segment = "new", ladder = "newest" },'),
            'ladder = "newest"',
            "routes.1",
            "no ladder named 'newest'",
        ),
    ],
)
def test_a_bad_policy_is_refused_naming_file_line_and_field(
    change: tuple[str, str], line_fragment: str, field: str, message: str
) -> None:
    old, new = change
    assert old in DEFAULT_TEXT
    text = DEFAULT_TEXT.replace(old, new, 1)
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, "ops/policy.toml")
    where = f"ops/policy.toml:{line_of(text, line_fragment)}: {field}: "
    problems = [p for p in raised.value.problems if p.startswith(where)]
    assert problems, raised.value.problems
    assert message in problems[0]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # A ladder listed out of order would run a step before the one above it.
        ("offset_days =  30, channel", "offset_days =  12, channel", "is before the previous step's"),
        # No hand-over without a formal notice by registered letter first.
        (
            '{ name = "formal_notice",            offset_days =  35, channel = "registered_letter"',
            '{ name = "formal_notice",            offset_days =  35, channel = "email"',
            "the formal notice goes by registered_letter",
        ),
        ('{ segment = "bad_payer", ladder = "bad_payer" },\n', "", "no route for segment bad_payer"),
    ],
)
def test_ladders_that_break_the_law_or_the_order_are_refused(old: str, new: str, message: str) -> None:
    assert old in DEFAULT_TEXT
    with pytest.raises(PolicyError, match=message):
        parse_policy(DEFAULT_TEXT.replace(old, new, 1), "policy.toml")


def test_a_broken_toml_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('name = "x"\nroutes = [\n  { segment = "standard" ladder = "a" },\n]\n')
    with pytest.raises(PolicyError, match=r"policy.toml: .*line 3"):
        load_policy(path)
    with pytest.raises(PolicyError, match="cannot read it"):
        load_policy(tmp_path / "missing.toml")


def test_the_packaged_default_is_what_new_cases_get() -> None:
    assert packaged(DEFAULT) is DEFAULT_POLICY


def test_a_route_may_hand_its_cases_to_the_collection_agency() -> None:
    policy = load_policy(SAMPLES / "by-amount.toml")
    assert policy.handover_for(Segment.BAD_PAYER, Decimal("900")) is Handover.COLLECTION_AGENCY
    assert policy.handover_for(Segment.STANDARD, Decimal("900")) is Handover.COURT
    assert DEFAULT_POLICY.handover_for(Segment.BAD_PAYER, Decimal("900")) is None
