"""Settings from the environment, read once at process start (worker, API, CLI)."""

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class TemporalSettings:
    address: str = field(default_factory=lambda: _env("TEMPORAL_ADDRESS", "localhost:7233"))
    namespace: str = field(default_factory=lambda: _env("TEMPORAL_NAMESPACE", "default"))
    task_queue: str = field(default_factory=lambda: _env("DUNNING_TASK_QUEUE", "dunning"))


@dataclass(frozen=True)
class Creditor:
    """Who is owed: printed on every reminder, required on a formal notice (fr-late-payment-law §5)."""

    name: str = field(default_factory=lambda: _env("DUNNING_CREDITOR_NAME", "Exemple Services SAS"))
    siren: str = field(default_factory=lambda: _env("DUNNING_CREDITOR_SIREN", "732829320"))
    address: str = field(default_factory=lambda: _env("DUNNING_CREDITOR_ADDRESS", "10 rue de la Paix, 75002 Paris"))
    iban: str = field(default_factory=lambda: _env("DUNNING_CREDITOR_IBAN", "FR7630003036200002026123456"))
    contact_email: str = field(
        default_factory=lambda: _env("DUNNING_CONTACT_EMAIL", "comptabilite@exemple-services.fr")
    )
    contact_phone: str = field(default_factory=lambda: _env("DUNNING_CONTACT_PHONE", "01 23 45 67 89"))


@dataclass(frozen=True)
class ChannelSettings:
    # Without a SendGrid key, e-mails are written to the outbox: a fresh checkout never e-mails anyone.
    sendgrid_api_key: str | None = field(default_factory=lambda: os.environ.get("SENDGRID_API_KEY") or None)
    sendgrid_api_host: str = field(default_factory=lambda: _env("SENDGRID_API_HOST", "https://api.sendgrid.com"))
    from_email: str = field(default_factory=lambda: _env("DUNNING_FROM_EMAIL", "relances@exemple-services.fr"))
    # Without a Twilio account, SMS are written to the outbox.
    twilio_account_sid: str | None = field(default_factory=lambda: os.environ.get("TWILIO_ACCOUNT_SID") or None)
    twilio_auth_token: str | None = field(default_factory=lambda: os.environ.get("TWILIO_AUTH_TOKEN") or None)
    # The sender the customer sees: an E.164 number or an alphanumeric sender id naming the creditor.
    twilio_from: str | None = field(default_factory=lambda: os.environ.get("TWILIO_FROM") or None)
    # Public base URL of the ingress API, where Twilio posts delivery reports (/webhooks/twilio).
    webhook_base_url: str | None = field(default_factory=lambda: os.environ.get("DUNNING_WEBHOOK_BASE_URL") or None)
    # Encrypts the case reference providers carry (dunning/tracking_ref.py); required with a provider.
    tracking_key: str | None = field(default_factory=lambda: os.environ.get("DUNNING_TRACKING_KEY") or None)
    creditor: "Creditor" = field(default_factory=lambda: Creditor())
    var_dir: Path = field(default_factory=lambda: Path(_env("DUNNING_VAR_DIR", "var")))

    @property
    def ledger_path(self) -> Path:
        return Path(_env("DUNNING_LEDGER_PATH", str(self.var_dir / "sent-ledger.sqlite3")))

    @property
    def case_file_dir(self) -> Path:
        return Path(_env("DUNNING_CASE_FILE_DIR", str(self.var_dir / "cases")))

    @property
    def outbox_dir(self) -> Path:
        return Path(_env("DUNNING_OUTBOX_DIR", str(self.var_dir / "outbox")))
