"""Every setting of every process (worker, API, CLI, codec server, `make run`), from the environment.

`Settings.load()` is the one entry point: each process calls it when it starts, and a value that is not
valid (a port that is not a number, a mode that does not exist, a provider without its key) stops it with
a message naming the variable. Its sections (one class per concern) read the same variables when built
on their own, as tests do with keyword arguments (`ChannelSettings(var_dir=...)`): a keyword given
overrides the environment. An empty variable counts as unset (compose's `${SENDGRID_API_KEY:-}`).

The variables are the field aliases below, all of them listed by `variables()`; the Temporal SDK reads
`PROFILE_VARIABLES` itself, through the `temporal` CLI's profiles.
"""

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from temporalio.envconfig import ClientConfigProfile

from domain.calendar import PARIS
from domain.policy import Policy
from domain.policy_file import DEFAULT, load_policy, packaged
from dunning.health import split_address

MIB = 1024 * 1024
# Read by the Temporal SDK's profile loader (temporalio.envconfig), not by a field here.
PROFILE_VARIABLES = frozenset(
    {
        "TEMPORAL_CONFIG_FILE",
        "TEMPORAL_PROFILE",
        "TEMPORAL_API_KEY",
        "TEMPORAL_TLS",
        "TEMPORAL_TLS_CLIENT_CERT_PATH",
        "TEMPORAL_TLS_CLIENT_KEY_PATH",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
        "TEMPORAL_TLS_SERVER_NAME",
    }
)


class SettingsError(ValueError):
    """A setting that is not valid, or a provider configured without what it needs: the process does not start."""


def _env(name: str, default: Any = None, **constraints: Any) -> Any:
    """A field read from the variable `name`."""
    return Field(default, validation_alias=name, **constraints)


class _Section(BaseSettings):
    # case_sensitive: only the exact names below are read; extra="ignore": the rest of the environment too.
    model_config = SettingsConfigDict(
        frozen=True, populate_by_name=True, env_ignore_empty=True, case_sensitive=True, extra="ignore"
    )


_S = TypeVar("_S", bound=_Section)


def temporal_profile() -> ClientConfigProfile:
    """The Temporal connection as the `temporal` CLI reads it: a TOML profile (TEMPORAL_CONFIG_FILE,
    default ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE, default "default") overridden by
    TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH,
    TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME."""
    return ClientConfigProfile.load()


class TemporalSettings(_Section):
    address: str = Field(
        default_factory=lambda: temporal_profile().address or "localhost:7233", validation_alias="TEMPORAL_ADDRESS"
    )
    namespace: str = Field(
        default_factory=lambda: temporal_profile().namespace or "default", validation_alias="TEMPORAL_NAMESPACE"
    )
    task_queue: str = _env("DUNNING_TASK_QUEUE", "dunning")


class Creditor(_Section):
    """Who is owed: printed on every reminder, required on a formal notice (fr-late-payment-law §5)."""

    name: str = _env("DUNNING_CREDITOR_NAME", "Exemple Services SAS")
    legal_form: str = _env("DUNNING_CREDITOR_LEGAL_FORM", "SAS au capital de 10 000 €")
    siren: str = _env("DUNNING_CREDITOR_SIREN", "732829320")
    rcs: str = _env("DUNNING_CREDITOR_RCS", "RCS Paris 732 829 320")
    address: str = _env("DUNNING_CREDITOR_ADDRESS", "10 rue de la Paix, 75002 Paris")
    iban: str = _env("DUNNING_CREDITOR_IBAN", "FR7630003036200002026123456")
    contact_email: str = _env("DUNNING_CONTACT_EMAIL", "comptabilite@exemple-services.fr")
    contact_phone: str = _env("DUNNING_CONTACT_PHONE", "01 23 45 67 89")
    # The place on a letter's date line ("Paris, le 4 février 2026").
    city: str = _env("DUNNING_CREDITOR_CITY", "Paris")
    # Who signs the letters: a formal notice names a person with authority, not a department.
    signatory_name: str = _env("DUNNING_SIGNATORY_NAME", "Claire Lemaire")
    signatory_role: str = _env("DUNNING_SIGNATORY_ROLE", "Responsable du recouvrement")


class PostalSettings(_Section):
    """Merci Facteur, for registered letters. Without a service id they go to the outbox."""

    service_id: str | None = _env("MERCI_FACTEUR_SERVICE_ID")
    secret_key: str = _env("MERCI_FACTEUR_SECRET_KEY", "")
    # The Merci Facteur user the letters are sent as (the account's admin user will do).
    user_id: int = _env("MERCI_FACTEUR_USER_ID", 0)
    api_url: str = _env("MERCI_FACTEUR_API_URL", "https://www.merci-facteur.com/api/1.2/prod/service")
    # "paper" (LRAR) or "electronic" (electronic registered letter where the customer allows it).
    mode: str = _env("MERCI_FACTEUR_MODE", "paper")
    # The IP addresses allowed to use the token, ";"-separated, unless Merci Facteur lifted the check.
    authorized_ip: str | None = _env("MERCI_FACTEUR_AUTHORIZED_IP")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.mode not in ("paper", "electronic"):
            raise ValueError(f"MERCI_FACTEUR_MODE must be paper or electronic, not {self.mode!r}")
        if self.service_id and (not self.secret_key or self.user_id <= 0):
            raise ValueError("MERCI_FACTEUR_SERVICE_ID needs MERCI_FACTEUR_SECRET_KEY and MERCI_FACTEUR_USER_ID")
        return self


class HandoverSettings(_Section):
    """Where the litigation dossier goes (README, "Litigation dossier"): to a person who files the
    draft requête at court, or to a partner collection agency (seed 001: bad-faith customers go there)."""

    destination: str = _env("DUNNING_HANDOVER_DESTINATION", "court")
    agency_name: str | None = _env("DUNNING_AGENCY_NAME")
    agency_email: str | None = _env("DUNNING_AGENCY_EMAIL")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.destination not in ("court", "agency"):
            raise ValueError(f"DUNNING_HANDOVER_DESTINATION must be court or agency, not {self.destination!r}")
        if self.destination == "agency" and not (self.agency_name and self.agency_email):
            raise ValueError("DUNNING_HANDOVER_DESTINATION=agency needs DUNNING_AGENCY_NAME and DUNNING_AGENCY_EMAIL")
        return self


class ChannelSettings(_Section):
    """What the worker's activities send with, and where they keep what they sent."""

    # Without a SendGrid key, e-mails are written to the outbox: a fresh checkout never e-mails anyone.
    sendgrid_api_key: str | None = _env("SENDGRID_API_KEY")
    sendgrid_api_host: str = _env("SENDGRID_API_HOST", "https://api.sendgrid.com")
    from_email: str = _env("DUNNING_FROM_EMAIL", "relances@exemple-services.fr")
    # Without a Twilio account, SMS are written to the outbox.
    twilio_account_sid: str | None = _env("TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = _env("TWILIO_AUTH_TOKEN")
    # The sender the customer sees: an E.164 number or an alphanumeric sender id naming the creditor.
    twilio_from: str | None = _env("TWILIO_FROM")
    # Public base URL of the ingress API, where Twilio posts delivery reports (/webhooks/twilio).
    webhook_base_url: str | None = _env("DUNNING_WEBHOOK_BASE_URL")
    # Encrypts the case reference providers carry (dunning/tracking_ref.py); required with a provider.
    tracking_key: str | None = _env("DUNNING_TRACKING_KEY")
    creditor: Creditor = Field(default_factory=lambda: Creditor())
    postal: PostalSettings = Field(default_factory=lambda: PostalSettings())
    handover: HandoverSettings = Field(default_factory=lambda: HandoverSettings())
    var_dir: Path = _env("DUNNING_VAR_DIR", Path("var"))
    # Templates of the operator's own that override the packaged ones (README, "Templates").
    template_dir: Path | None = _env("DUNNING_TEMPLATE_DIR")
    # postgresql://user:password@host/db: one sent-ledger shared by workers on several hosts. Unset,
    # each host keeps its own SQLite file at ledger_path, which is right only for a single host.
    ledger_url: str | None = _env("DUNNING_LEDGER_URL")
    # Each under var_dir unless set.
    ledger_file: Path | None = _env("DUNNING_LEDGER_PATH")
    case_files: Path | None = _env("DUNNING_CASE_FILE_DIR")
    dossiers: Path | None = _env("DUNNING_DOSSIER_DIR")
    outbox: Path | None = _env("DUNNING_OUTBOX_DIR")

    @field_validator("ledger_url")
    @classmethod
    def _postgresql(cls, url: str | None) -> str | None:
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("DUNNING_LEDGER_URL must be a postgresql:// URL")
        return url

    @property
    def ledger_path(self) -> Path:
        return self.ledger_file or self.var_dir / "sent-ledger.sqlite3"

    @property
    def case_file_dir(self) -> Path:
        return self.case_files or self.var_dir / "cases"

    @property
    def dossier_dir(self) -> Path:
        """Where the litigation dossiers (ZIP) wait for the person or agency they are handed to."""
        return self.dossiers or self.var_dir / "dossiers"

    @property
    def outbox_dir(self) -> Path:
        return self.outbox or self.var_dir / "outbox"


class PenaltySettings(_Section):
    """How penalties are computed: the operator's rates file and the imputation of partial payments."""

    var_dir: Path = _env("DUNNING_VAR_DIR", Path("var"))
    # Rows that add semesters to the packaged rates, or replace theirs (README, "Penalties and rates").
    rates_file_override: Path | None = _env("DUNNING_RATES_FILE")
    # "interest" (Code civil 1343-1, the legal default: a partial payment settles accrued interest
    # first) or "principal" (the creditor waives that and reduces the principal first).
    imputation: str = _env("DUNNING_IMPUTATION", "interest")

    @model_validator(mode="after")
    def _known(self) -> Self:
        if self.imputation not in ("interest", "principal"):
            raise ValueError(f"DUNNING_IMPUTATION must be interest or principal, not {self.imputation!r}")
        return self

    @property
    def rates_file(self) -> Path:
        return self.rates_file_override or self.var_dir / "rates.csv"


class WebhookSettings(_Section):
    """What the API checks the providers' delivery reports with (starter/webhooks.py)."""

    # "Verification key" of SendGrid's signed Event Webhook (base64, no PEM armour).
    sendgrid_public_key: str | None = _env("SENDGRID_WEBHOOK_PUBLIC_KEY")
    twilio_auth_token: str | None = _env("TWILIO_AUTH_TOKEN")
    # The public URL the worker gave Twilio: Twilio signs that one, not the one this server sees.
    base_url: str | None = _env("DUNNING_WEBHOOK_BASE_URL")
    tracking_key: str | None = _env("DUNNING_TRACKING_KEY")
    # A signed SendGrid request older than this is refused: a captured one cannot be replayed later.
    max_age: timedelta = timedelta(minutes=10)


class PolicySettings(_Section):
    """The policy new cases start with: DUNNING_POLICY_FILE, else the packaged default."""

    file: Path | None = _env("DUNNING_POLICY_FILE")

    def load(self) -> Policy:
        return load_policy(self.file) if self.file else packaged(DEFAULT)


class IngressSettings(_Section):
    """The ingress API (`dunning serve`) and the CLI."""

    api_token: str = _env("DUNNING_API_TOKEN", "")
    var_dir: Path = _env("DUNNING_VAR_DIR", Path("var"))
    temporal: TemporalSettings = Field(default_factory=lambda: TemporalSettings())
    webhooks: WebhookSettings = Field(default_factory=lambda: WebhookSettings())
    concurrency: int = 16
    # A batch of 1000 invoices is about 1 MB; a month of camt.053 for a busy account a few MB.
    max_body_bytes: PositiveInt = _env("DUNNING_MAX_BODY_BYTES", 2 * MIB)
    max_bank_file_bytes: PositiveInt = _env("DUNNING_MAX_BANK_FILE_BYTES", 20 * MIB)
    # Read once: a bad file stops the process at start, naming its line and field.
    policy: Policy = Field(default_factory=lambda: PolicySettings().load())


class CodecSettings(_Section):
    # `id:base64key,...`, parsed and checked by dunning.codec.CodecKeys (which names the entry at fault).
    keys: str = _env("DUNNING_CODEC_KEYS", "")


class JwtSettings(_Section):
    """The codec server's production mode (starter/codec_auth.py): the web UI user's own access token."""

    jwks_url: str | None = _env("DUNNING_CODEC_JWKS_URL")
    public_key_file: Path | None = _env("DUNNING_CODEC_PUBLIC_KEY_FILE")
    issuer: str | None = _env("DUNNING_CODEC_ISSUER")
    audience: str | None = _env("DUNNING_CODEC_AUDIENCE")
    required_role: str | None = _env("DUNNING_CODEC_REQUIRED_ROLE")
    # A dotted path into the token's claims (`realm_access.roles` for Keycloak).
    role_claim: str = _env("DUNNING_CODEC_ROLE_CLAIM", "roles")
    # Comma-separated in the variable.
    algorithms: Annotated[tuple[str, ...], NoDecode] = _env("DUNNING_CODEC_JWT_ALGORITHMS", ("RS256",))

    @field_validator("algorithms", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return tuple(a.strip() for a in value.split(",") if a.strip()) if isinstance(value, str) else value

    @property
    def enabled(self) -> bool:
        return bool(self.jwks_url or self.public_key_file)


class RetentionSettings(_Section):
    """How long closed cases keep their personal data (starter/retention.py), in days from the close:
    the 5-year limitation plus six months by default; ten years plus six months for a case handed to
    litigation, as long as a judgment can be enforced."""

    days: PositiveInt = _env("DUNNING_RETENTION_DAYS", 2009)
    litigation_days: PositiveInt = _env("DUNNING_LITIGATION_RETENTION_DAYS", 3836)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.litigation_days < self.days:
            raise ValueError(
                f"DUNNING_LITIGATION_RETENTION_DAYS ({self.litigation_days}) is shorter than DUNNING_RETENTION_DAYS"
            )
        return self

    def cutoff(self, as_of: date) -> datetime:
        """What closed, or was received, before this instant is past the ordinary period on `as_of`."""
        return datetime.combine(as_of - timedelta(days=self.days), time(), PARIS)

    def litigation_cutoff(self, as_of: date) -> datetime:
        return datetime.combine(as_of - timedelta(days=self.litigation_days), time(), PARIS)


class CodecServerSettings(_Section):
    token: str = _env("DUNNING_CODEC_TOKEN", "")
    # Comma-separated in the variable.
    ui_origins: Annotated[tuple[str, ...], NoDecode] = _env(
        "DUNNING_CODEC_UI_ORIGINS", ("http://localhost:8233", "http://127.0.0.1:8233")
    )
    # The UI decodes one page of history events a request; a whole 50 MB history never comes at once.
    max_body_bytes: PositiveInt = _env("DUNNING_CODEC_MAX_BODY_BYTES", 8 * MIB)
    jwt: JwtSettings = Field(default_factory=lambda: JwtSettings())

    @field_validator("ui_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return tuple(origin.strip() for origin in value.split(",")) if isinstance(value, str) else value


class WorkerSettings(_Section):
    # Activities are synchronous (the SendGrid client is urllib): they run in a pool this large. Each
    # slot holds one provider call of up to 10 s.
    max_concurrent_activities: PositiveInt = _env("DUNNING_MAX_CONCURRENT_ACTIVITIES", 20)
    # Cases kept in memory between tasks (~90 KB each, temporal-python.md §10); evicted ones replay on
    # demand. 0 also turns off sticky task queues.
    workflow_cache: int = _env("DUNNING_WORKFLOW_CACHE", 1000, ge=0)
    # host:port of the Prometheus exporter (dunning/telemetry.py); off when unset.
    metrics_address: str | None = _env("DUNNING_WORKER_METRICS_ADDRESS")
    # host:port of /healthz and /readyz (dunning/health.py); off when unset.
    health_address: str | None = _env("DUNNING_WORKER_HEALTH_ADDRESS")

    @field_validator("metrics_address", "health_address")
    @classmethod
    def _host_port(cls, address: str | None, info: ValidationInfo) -> str | None:
        if address is not None:
            try:
                split_address(address)
            except ValueError as error:
                alias = cls.model_fields[info.field_name or ""].validation_alias
                raise ValueError(f"{alias}: {error}") from error
        return address


Port = Annotated[int, Field(gt=0, lt=65536)]


class LocalRunSettings(_Section):
    """`make run` (deploy/local.py): the ports of the service on this machine, and what it would generate."""

    temporal_port: Port = _env("TEMPORAL_PORT", 7233)
    ui_port: Port = _env("TEMPORAL_UI_PORT", 8233)
    api_port: Port = _env("DUNNING_API_PORT", 8000)
    codec_port: Port = _env("DUNNING_CODEC_PORT", 8081)
    var_dir: Path | None = _env("DUNNING_VAR_DIR")  # default: var/ of the checkout
    api_token: str | None = _env("DUNNING_API_TOKEN")
    codec_token: str | None = _env("DUNNING_CODEC_TOKEN")
    codec_keys: str | None = _env("DUNNING_CODEC_KEYS")
    tracking_key: str | None = _env("DUNNING_TRACKING_KEY")


class Settings(BaseModel):
    """All of it, one section a concern; built by `load()`."""

    model_config = ConfigDict(frozen=True)

    temporal: TemporalSettings
    channels: ChannelSettings
    penalties: PenaltySettings
    ingress: IngressSettings
    codec: CodecSettings
    codec_server: CodecServerSettings
    worker: WorkerSettings
    local: LocalRunSettings
    retention: RetentionSettings
    # Where the ingress's policy comes from (the policy itself is `ingress.policy`).
    policy: PolicySettings

    @classmethod
    def load(cls) -> "Settings":
        """Read the environment; SettingsError names every variable that is not valid, one a line."""
        problems: list[str] = []

        def read(section: type[_S], **parts: tuple[type[_Section], _Section | None]) -> _S | None:
            # A part not valid (and named already) stands in with its defaults: this section's own
            # variables are checked all the same.
            given: dict[str, Any] = {name: part or kind.model_construct() for name, (kind, part) in parts.items()}
            try:
                built = section(**given)
            except ValidationError as error:
                problems.extend(describe(error))
                return None
            return built if all(part for _, part in parts.values()) else None

        temporal = read(TemporalSettings)
        channels = read(
            ChannelSettings,
            creditor=(Creditor, read(Creditor)),
            postal=(PostalSettings, read(PostalSettings)),
            handover=(HandoverSettings, read(HandoverSettings)),
        )
        sections = {
            "temporal": temporal,
            "channels": channels,
            "penalties": read(PenaltySettings),
            "ingress": read(
                IngressSettings,
                temporal=(TemporalSettings, temporal),
                webhooks=(WebhookSettings, read(WebhookSettings)),
            ),
            "codec": read(CodecSettings),
            "codec_server": read(CodecServerSettings),
            "worker": read(WorkerSettings),
            "local": read(LocalRunSettings),
            "retention": read(RetentionSettings),
            "policy": read(PolicySettings),
        }
        if problems:
            raise SettingsError("\n".join(problems))
        return cls.model_validate(sections)


def describe(error: ValidationError) -> list[str]:
    """`VARIABLE: what is wrong (got 'value')`, one per problem. The value is shown for a wrong type or
    range only: the rules of our own (value_error) say what they need, and never echo a secret."""
    lines = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] != "value_error" and isinstance(problem.get("input"), str | int):
            message += f" (got {problem['input']!r})"
        lines.append(message if not where or where in message else f"{where}: {message}")
    return lines


def variables(model: type[BaseModel] = Settings) -> set[str]:
    """Every variable a section reads (aliases), nested sections included."""
    names: set[str] = set()
    for info in model.model_fields.values():
        if isinstance(info.validation_alias, str):
            names.add(info.validation_alias)
        names |= _nested(info)
    return names


def _nested(info: FieldInfo) -> set[str]:
    kind = info.annotation
    return variables(kind) if isinstance(kind, type) and issubclass(kind, BaseModel) else set()
