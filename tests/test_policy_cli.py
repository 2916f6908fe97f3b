"""`dunning policy check|diff|show` on real files: validation with file and line, the templates every
step needs (packaged or the operator's), and the differences between two policies."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.policy_diff import diff_policies
from domain.policy_file import parse_policy
from starter.cli import app
from tests.ladders import DEFAULT_POLICY
from tests.tables import table_row

ROOT = Path(__file__).parent.parent
DEFAULT_TEXT = (ROOT / "domain" / "data" / "policies" / "default.toml").read_text()
BY_AMOUNT = ROOT / "samples" / "policies" / "by-amount.toml"
LEVEL2_EMAIL = (
    '{ name = "level2_email",             offset_days =   8, channel = "email",             stage = "level_2" }'
)
runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if fragment in line)


def test_check_prints_the_ladders_and_settings_of_a_valid_policy() -> None:
    result = runner.invoke(app, ["policy", "check", str(BY_AMOUNT)])
    assert result.exit_code == 0, result.output
    version = parse_policy(BY_AMOUNT.read_text(), "x").version
    assert f"{BY_AMOUNT}: valid, version {version}" in result.output
    assert table_row(result.output, "level2_letter_call") == [
        "level2_letter_call",
        "J+14",
        "call",
        "level_2",
        "",
        "",
        "from 5000",
    ]
    assert "ladder strategic_small" in result.output
    assert table_row(result.output, "3") == ["3", "strategic, from 20000 -> strategic"]
    assert table_row(result.output, "send hours") == ["send hours", "09:00-18:00 Europe/Paris, business days only"]
    assert table_row(result.output, "formal notice deadline") == ["formal notice deadline", "8 days"]
    assert table_row(result.output, "hand-over") == ["hand-over", "court"]
    assert table_row(result.output, "segment bad_payer") == ["segment bad_payer", "3 late invoices within 12 months"]


def test_check_names_file_line_and_field_of_an_invalid_policy(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace('offset_days =  10, channel = "sms"', 'ofset_days =  10, channel = "sms"', 1)
    path = write(tmp_path, text)
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 2
    assert f"{path}:{line_of(text, 'ofset_days')}: ladders.standard.6.ofset_days: Extra inputs" in result.output
    result = runner.invoke(app, ["policy", "check", str(tmp_path / "absent.toml")])
    assert result.exit_code == 2
    assert "cannot read it" in result.output


def test_a_step_whose_template_is_missing_is_an_error_naming_it(tmp_path: Path) -> None:
    gated = LEVEL2_EMAIL.replace('stage = "level_2" }', 'stage = "level_2", template = "level2_reminder" }')
    assert LEVEL2_EMAIL in DEFAULT_TEXT
    text = DEFAULT_TEXT.replace(LEVEL2_EMAIL, gated, 1)
    path = write(tmp_path, text)
    line = line_of(text, "level2_reminder")
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 2
    for language in ("fr", "en"):
        assert (
            f"{path}:{line}: ladders.standard[5] level2_email: no email template 'level2_reminder' in {language}"
            f" (email/{language}/level2_reminder.txt)"
        ) in result.output
        # The SMS it would go by after a bounce: only a warning.
        assert f"warning: {path}:{line}: ladders.standard[5] level2_email: no sms template" in result.output
    assert "2 missing template(s)" in result.output

    # The operator's directory supplies it (DUNNING_TEMPLATE_DIR or --template-dir).
    own = tmp_path / "templates"
    for language in ("fr", "en"):
        (own / "email" / language).mkdir(parents=True)
        (own / "email" / language / "level2_reminder.txt").write_text("Subject: x\n\ny")
    result = runner.invoke(app, ["policy", "check", str(path)], env={"DUNNING_TEMPLATE_DIR": str(own)})
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output
    assert "valid, version" in result.output
    result = runner.invoke(app, ["policy", "check", str(path), "--template-dir", str(own)])
    assert result.exit_code == 0, result.output


def test_diff_says_what_moves_and_exits_1_only_when_different(tmp_path: Path) -> None:
    same = write(tmp_path, DEFAULT_TEXT, "same.toml")
    default = ROOT / "domain" / "data" / "policies" / "default.toml"
    result = runner.invoke(app, ["policy", "diff", str(default), str(same)])
    assert result.exit_code == 0, result.output
    assert "the same policy" in result.output

    text = (
        DEFAULT_TEXT.replace(LEVEL2_EMAIL, LEVEL2_EMAIL.replace("offset_days =   8", "offset_days =   9"), 1)
        .replace(
            '{ name = "level2_sms",               offset_days =  10, channel = "sms",',
            '{ name = "level2_sms",               offset_days =  10, channel = "call",',
            1,
        )
        .replace('{ segment = "new", ladder = "new" },', '{ segment = "new", ladder = "standard" },')
        .replace('# handover = "court"', 'handover = "collection_agency"')
        .replace("start = 09:00:00", "start = 08:30:00")
    )
    changed = write(tmp_path, text, "changed.toml")
    result = runner.invoke(app, ["policy", "diff", str(default), str(changed)])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"version: {DEFAULT_POLICY.version} -> default.")
    assert set(lines[1:]) == {
        "send_hours.start: 09:00:00 -> 08:30:00",
        "handover: (none) -> collection_agency",
        "ladders.standard: level2_email moved J+8 -> J+9",
        "ladders.standard: level2_sms channel sms -> call",
        "routes: - new, any amount -> new",
        "routes: + new, any amount -> standard",
    }


def test_diff_of_ladders_and_steps_added_removed_and_reordered() -> None:
    new = DEFAULT_POLICY.ladders["new"]
    reordered = DEFAULT_POLICY.model_copy(
        update={
            "routes": (*DEFAULT_POLICY.routes[1:], DEFAULT_POLICY.routes[0]),
            "ladders": {
                **DEFAULT_POLICY.ladders,
                "new": tuple(s for s in new if s.name != "level2_sms"),
                "spare": new,
            },
        }
    )
    lines = diff_policies(DEFAULT_POLICY, reordered)
    assert "ladders.new: - level2_sms (J+10, sms, level_2)" in lines
    assert "ladders.spare: added" in lines
    assert "ladders.spare: + formal_notice (J+27, registered_letter, formal_notice)" in lines
    assert any(line.startswith("routes: order standard, any amount -> standard; new") for line in lines)
    assert diff_policies(DEFAULT_POLICY, DEFAULT_POLICY) == []


@pytest.mark.parametrize("configured", [None, BY_AMOUNT])
def test_show_prints_the_configured_policy(configured: Path | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if configured is None:
        monkeypatch.delenv("DUNNING_POLICY_FILE", raising=False)
    else:
        monkeypatch.setenv("DUNNING_POLICY_FILE", str(configured))
    result = runner.invoke(app, ["policy", "show"])
    assert result.exit_code == 0, result.output
    if configured is None:
        assert f"default (packaged default), version {DEFAULT_POLICY.version}" in result.output
        assert "ladder strategic_small" not in result.output
    else:
        assert f"by-amount (DUNNING_POLICY_FILE={configured})" in result.output
        assert "ladder strategic_small" in result.output


def test_show_names_a_bad_configured_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, DEFAULT_TEXT.replace("formal_notice_deadline_days = 8", "formal_notice_deadline_days = 0"))
    monkeypatch.setenv("DUNNING_POLICY_FILE", str(path))
    result = runner.invoke(app, ["policy", "show"])
    assert result.exit_code == 2
    assert (
        f"{path}:{line_of(DEFAULT_TEXT, 'formal_notice_deadline_days =')}: formal_notice_deadline_days" in result.output
    )
