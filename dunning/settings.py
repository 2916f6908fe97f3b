"""Settings from the environment, read once at process start (worker, API, CLI)."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.envconfig import ClientConfigProfile


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _optional_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def temporal_profile() -> ClientConfigProfile:
    """The Temporal connection as the `temporal` CLI reads it: a TOML profile (TEMPORAL_CONFIG_FILE,
    default ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE, default "default") overridden by
    TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH,
    TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME."""
    return ClientConfigProfile.load()


@dataclass(frozen=True)
class TemporalSettings:
    address: str = field(
        default_factory=lambda: _env("TEMPORAL_ADDRESS", temporal_profile().address or "localhost:7233")
    )
    namespace: str = field(
        default_factory=lambda: _env("TEMPORAL_NAMESPACE", temporal_profile().namespace or "default")
    )
    task_queue: str = field(default_factory=lambda: _env("DUNNING_TASK_QUEUE", "dunning"))


@dataclass(frozen=True)
class Creditor:
    """Who is owed: printed on every reminder, required on a formal notice (fr-late-payment-law §5)."""

    name: str = field(default_factory=lambda: _env("DUNNING_CREDITOR_NAME", "Exemple Services SAS"))
    legal_form: str = field(default_factory=lambda: _env("DUNNING_CREDITOR_LEGAL_FORM", "SAS au capital de 10 000 €"))
    siren: str = field(default_factory=lambda: _env("DUNNING_CREDITOR_SIREN", "732829320"))
    rcs: str = field(default_factory=lambda: _env("DUNNING_CREDITOR_RCS", "RCS Paris 732 829 320"))
    address: str = field(default_factory=lambda: _env("DUNNING_CREDITOR_ADDRESS", "10 rue de la Paix, 75002 Paris"))
    iban: str = field(default_factory=lambda: _env("DUNNING_CREDITOR_IBAN", "FR7630003036200002026123456"))
    contact_email: str = field(
        default_factory=lambda: _env("DUNNING_CONTACT_EMAIL", "comptabilite@exemple-services.fr")
    )
    contact_phone: str = field(default_factory=lambda: _env("DUNNING_CONTACT_PHONE", "01 23 45 67 89"))
    # The place on a letter's date line ("Paris, le 4 février 2026").
    city: str = field(default_factory=lambda: _env("DUNNING_CREDITOR_CITY", "Paris"))
    # Who signs the letters: a formal notice names a person with authority, not a department.
    signatory_name: str = field(default_factory=lambda: _env("DUNNING_SIGNATORY_NAME", "Claire Lemaire"))
    signatory_role: str = field(default_factory=lambda: _env("DUNNING_SIGNATORY_ROLE", "Responsable du recouvrement"))


@dataclass(frozen=True)
class PostalSettings:
    """Merci Facteur, for registered letters. Without a service id they go to the outbox."""

    service_id: str | None = field(default_factory=lambda: os.environ.get("MERCI_FACTEUR_SERVICE_ID") or None)
    secret_key: str = field(default_factory=lambda: os.environ.get("MERCI_FACTEUR_SECRET_KEY", ""))
    # The Merci Facteur user the letters are sent as (the account's admin user will do).
    user_id: int = field(default_factory=lambda: int(_env("MERCI_FACTEUR_USER_ID", "0")))
    api_url: str = field(
        default_factory=lambda: _env("MERCI_FACTEUR_API_URL", "https://www.merci-facteur.com/api/1.2/prod/service")
    )
    # "paper" (LRAR) or "electronic" (electronic registered letter where the customer allows it).
    mode: str = field(default_factory=lambda: _env("MERCI_FACTEUR_MODE", "paper"))
    # The IP addresses allowed to use the token, ";"-separated, unless Merci Facteur lifted the check.
    authorized_ip: str | None = field(default_factory=lambda: os.environ.get("MERCI_FACTEUR_AUTHORIZED_IP") or None)

    def __post_init__(self) -> None:
        if self.mode not in ("paper", "electronic"):
            raise ValueError(f"MERCI_FACTEUR_MODE must be paper or electronic, not {self.mode!r}")
        if self.service_id and (not self.secret_key or self.user_id <= 0):
            raise ValueError("MERCI_FACTEUR_SERVICE_ID needs MERCI_FACTEUR_SECRET_KEY and MERCI_FACTEUR_USER_ID")


@dataclass(frozen=True)
class HandoverSettings:
    """Where the litigation dossier goes (README, "Litigation dossier"): to a person who files the
    draft requête at court, or to a partner collection agency (seed 001: bad-faith customers go there)."""

    destination: str = field(default_factory=lambda: _env("DUNNING_HANDOVER_DESTINATION", "court"))
    agency_name: str | None = field(default_factory=lambda: os.environ.get("DUNNING_AGENCY_NAME") or None)
    agency_email: str | None = field(default_factory=lambda: os.environ.get("DUNNING_AGENCY_EMAIL") or None)

    def __post_init__(self) -> None:
        if self.destination not in ("court", "agency"):
            raise ValueError(f"DUNNING_HANDOVER_DESTINATION must be court or agency, not {self.destination!r}")
        if self.destination == "agency" and not (self.agency_name and self.agency_email):
            raise ValueError("DUNNING_HANDOVER_DESTINATION=agency needs DUNNING_AGENCY_NAME and DUNNING_AGENCY_EMAIL")


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
    postal: PostalSettings = field(default_factory=lambda: PostalSettings())
    handover: HandoverSettings = field(default_factory=lambda: HandoverSettings())
    var_dir: Path = field(default_factory=lambda: Path(_env("DUNNING_VAR_DIR", "var")))
    # Templates of the operator's own that override the packaged ones (README, "Templates").
    template_dir: Path | None = field(default_factory=lambda: _optional_path("DUNNING_TEMPLATE_DIR"))

    # postgresql://user:password@host/db: one sent-ledger shared by workers on several hosts. Unset,
    # each host keeps its own SQLite file at ledger_path, which is right only for a single host.
    ledger_url: str | None = field(default_factory=lambda: os.environ.get("DUNNING_LEDGER_URL") or None)

    def __post_init__(self) -> None:
        if self.ledger_url and not self.ledger_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("DUNNING_LEDGER_URL must be a postgresql:// URL")

    @property
    def ledger_path(self) -> Path:
        return Path(_env("DUNNING_LEDGER_PATH", str(self.var_dir / "sent-ledger.sqlite3")))

    @property
    def case_file_dir(self) -> Path:
        return Path(_env("DUNNING_CASE_FILE_DIR", str(self.var_dir / "cases")))

    @property
    def dossier_dir(self) -> Path:
        """Where the litigation dossiers (ZIP) wait for the person or agency they are handed to."""
        return Path(_env("DUNNING_DOSSIER_DIR", str(self.var_dir / "dossiers")))

    @property
    def outbox_dir(self) -> Path:
        return Path(_env("DUNNING_OUTBOX_DIR", str(self.var_dir / "outbox")))


@dataclass(frozen=True)
class PenaltySettings:
    """How penalties are computed: the operator's rates file and the imputation of partial payments."""

    var_dir: Path = field(default_factory=lambda: Path(_env("DUNNING_VAR_DIR", "var")))
    # Rows that add semesters to the packaged rates, or replace theirs (README, "Penalties and rates").
    rates_file_override: Path | None = field(default_factory=lambda: _optional_path("DUNNING_RATES_FILE"))
    # "interest" (Code civil 1343-1, the legal default: a partial payment settles accrued interest
    # first) or "principal" (the creditor waives that and reduces the principal first).
    imputation: str = field(default_factory=lambda: _env("DUNNING_IMPUTATION", "interest"))

    def __post_init__(self) -> None:
        if self.imputation not in ("interest", "principal"):
            raise ValueError(f"DUNNING_IMPUTATION must be interest or principal, not {self.imputation!r}")

    @property
    def rates_file(self) -> Path:
        return self.rates_file_override or self.var_dir / "rates.csv"
