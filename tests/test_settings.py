"""dunning/settings.py: the variables' defaults and parsing, and every process refusing to start on a bad
value with a message naming the variable (and never echoing a secret)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dunning.settings import (
    MIB,
    ChannelSettings,
    CodecServerSettings,
    IngressSettings,
    Settings,
    SettingsError,
    TemporalSettings,
    variables,
)
from starter import codec_server
from starter.cli import app

ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the variables a test sets: none of the machine's own."""
    for name in variables() - {"DUNNING_CODEC_KEYS"}:
        monkeypatch.delenv(name, raising=False)


def test_the_defaults_are_the_documented_ones() -> None:
    settings = Settings.load()
    assert settings.temporal.task_queue == "dunning"
    assert (settings.worker.max_concurrent_activities, settings.worker.workflow_cache) == (20, 1000)
    assert settings.worker.metrics_address is None
    assert (settings.ingress.max_body_bytes, settings.ingress.max_bank_file_bytes) == (2 * MIB, 20 * MIB)
    assert settings.codec_server.ui_origins == ("http://localhost:8233", "http://127.0.0.1:8233")
    assert settings.channels.outbox_dir == Path("var/outbox")
    assert settings.channels.creditor.city == "Paris"
    assert settings.penalties.rates_file == Path("var/rates.csv")
    assert (settings.local.temporal_port, settings.local.api_port) == (7233, 8000)


def test_variables_are_parsed_and_an_empty_one_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNNING_CODEC_UI_ORIGINS", "https://ui.example.fr, http://localhost:8080")
    monkeypatch.setenv("DUNNING_WORKFLOW_CACHE", "0")
    monkeypatch.setenv("SENDGRID_API_KEY", "")  # compose's ${SENDGRID_API_KEY:-}
    monkeypatch.setenv("DUNNING_VAR_DIR", "/srv/dunning")
    monkeypatch.setenv("DUNNING_OUTBOX_DIR", "/srv/outbox")
    monkeypatch.setenv("DUNNING_CREDITOR_NAME", "Atelier Roux SARL")
    settings = Settings.load()
    assert settings.codec_server.ui_origins == ("https://ui.example.fr", "http://localhost:8080")
    assert settings.worker.workflow_cache == 0
    assert settings.channels.sendgrid_api_key is None
    assert settings.channels.case_file_dir == Path("/srv/dunning/cases")
    assert settings.channels.outbox_dir == Path("/srv/outbox")
    assert settings.channels.creditor.name == "Atelier Roux SARL"
    assert settings.ingress.var_dir == settings.penalties.var_dir == Path("/srv/dunning")


def test_a_keyword_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("DUNNING_API_TOKEN", "from-the-environment")
    assert TemporalSettings().address == "temporal:7233"
    assert TemporalSettings(address="127.0.0.1:7233").address == "127.0.0.1:7233"
    ingress = IngressSettings(var_dir=Path("elsewhere"))
    assert (ingress.api_token, ingress.var_dir) == ("from-the-environment", Path("elsewhere"))
    assert CodecServerSettings(ui_origins=("http://ui",)).ui_origins == ("http://ui",)
    assert ChannelSettings(var_dir=Path("v")).ledger_path == Path("v/sent-ledger.sqlite3")


def test_every_bad_variable_is_named_at_once_and_no_secret_is_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNNING_MAX_BODY_BYTES", "2MB")
    monkeypatch.setenv("DUNNING_WORKFLOW_CACHE", "-1")
    monkeypatch.setenv("TEMPORAL_PORT", "http")
    monkeypatch.setenv("MERCI_FACTEUR_USER_ID", "admin")
    monkeypatch.setenv("DUNNING_LEDGER_URL", "mysql://dunning:s3cret-pw@db/ledger")
    monkeypatch.setenv("DUNNING_IMPUTATION", "capital")
    with pytest.raises(SettingsError) as refused:
        Settings.load()
    lines = str(refused.value).splitlines()
    assert lines == [
        "MERCI_FACTEUR_USER_ID: Input should be a valid integer, unable to parse string as an integer (got 'admin')",
        "DUNNING_LEDGER_URL must be a postgresql:// URL",
        "DUNNING_IMPUTATION must be interest or principal, not 'capital'",
        "DUNNING_MAX_BODY_BYTES: Input should be a valid integer, unable to parse string as an integer (got '2MB')",
        "DUNNING_WORKFLOW_CACHE: Input should be greater than or equal to 0 (got '-1')",
        "TEMPORAL_PORT: Input should be a valid integer, unable to parse string as an integer (got 'http')",
    ]
    assert "s3cret" not in str(refused.value)


def test_the_worker_does_not_start_on_a_bad_value() -> None:
    run = subprocess.run(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        # Nothing listens there: the refusal comes before any connection attempt.
        env={**_environment(), "TEMPORAL_ADDRESS": "127.0.0.1:1", "DUNNING_MAX_CONCURRENT_ACTIVITIES": "twenty"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert "worker not started: DUNNING_MAX_CONCURRENT_ACTIVITIES: Input should be a valid integer" in run.stderr


def test_make_run_starts_nothing_on_a_bad_port() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "deploy.local"],
        cwd=ROOT,
        env={**_environment(), "DUNNING_API_PORT": "80000"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert "nothing started: DUNNING_API_PORT: Input should be less than 65536 (got '80000')" in run.stderr


def test_the_cli_and_the_codec_server_do_not_start_on_a_bad_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNNING_MAX_BANK_FILE_BYTES", "0")
    result = CliRunner().invoke(app, ["events", "held"])
    assert result.exit_code == 2
    assert "not started: DUNNING_MAX_BANK_FILE_BYTES: Input should be greater than 0" in result.output
    monkeypatch.setattr(sys, "argv", ["codec_server"])
    with pytest.raises(SystemExit, match="codec server not started: DUNNING_MAX_BANK_FILE_BYTES"):
        codec_server.main()


def _environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in variables() - {"DUNNING_CODEC_KEYS"}}
