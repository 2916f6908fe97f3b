"""Run the dunning worker: `python worker.py` (settings from the environment: dunning/settings.py, README)."""

import asyncio
import compileall
import logging
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import rendering
from activities.case_file import CaseFile
from activities.email import EmailActivities
from activities.email.adapters import OutboxEmail, SendGridEmail
from activities.email.digest import DigestActivities
from activities.ledger import open_ledger
from activities.letters import LetterActivities
from activities.letters.merci_facteur import MerciFacteurLetters, PostalMode
from activities.letters.postal import OutboxLetters, PostalAdapter
from activities.letters.tracking import LetterTracker
from activities.litigation import LitigationActivities, OutboxLitigation
from activities.sms import OutboxSms, SmsActivities, TwilioSms
from domain.calendar import paris_date
from dunning import search_attributes
from dunning.client import connect
from dunning.codec import CodecKeyError, CodecKeys
from dunning.digests import DigestHandOver
from dunning.health import serve_probes, temporal_probe
from dunning.logs import configure_logging
from dunning.rates import penalty_policy
from dunning.settings import ChannelSettings, PenaltySettings, Settings, SettingsError, WorkerSettings
from dunning.telemetry import install_worker_metrics
from dunning.tracking_ref import KEY_VARIABLE, TrackingRefs, new_key
from workflows.customer_digest import CustomerDigest
from workflows.invoice_dunning import InvoiceDunning

# The worker's sizes (WorkerSettings, from DUNNING_MAX_CONCURRENT_ACTIVITIES) by default: the tests and
# the benchmark size their activity pools by this.
MAX_CONCURRENT_ACTIVITIES = WorkerSettings.model_fields["max_concurrent_activities"].get_default()
# pydantic's EmailStr imports these lazily, at the first validation inside a workflow: pass them
# through so the sandbox does not re-import them for every run.
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna")
)


def tracking_refs(settings: ChannelSettings) -> TrackingRefs:
    providers = [
        name
        for name, value in (
            ("SENDGRID_API_KEY", settings.sendgrid_api_key),
            ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
        )
        if value
    ]
    if settings.tracking_key:
        try:
            return TrackingRefs(settings.tracking_key)
        except ValueError as error:
            raise SettingsError(str(error)) from error
    if providers:
        raise SettingsError(
            f"{KEY_VARIABLE} is not set but {' and '.join(providers)} is: set it (the same value for the ingress"
            " API) to `python -c 'from dunning.tracking_ref import new_key; print(new_key())'`"
        )
    # Only the outbox: nothing will ever be reported back, so a key of this process alone is enough.
    return TrackingRefs(new_key())


def sms_adapter(settings: ChannelSettings, refs: TrackingRefs) -> TwilioSms | OutboxSms:
    if not settings.twilio_account_sid:
        return OutboxSms(settings.outbox_dir)
    token, sender, base_url = settings.twilio_auth_token, settings.twilio_from, settings.webhook_base_url
    if not (token and sender and base_url):
        required = {"TWILIO_AUTH_TOKEN": token, "TWILIO_FROM": sender, "DUNNING_WEBHOOK_BASE_URL": base_url}
        missing = ", ".join(name for name, value in required.items() if not value)
        raise SettingsError(f"TWILIO_ACCOUNT_SID is set but not {missing}")
    return TwilioSms(settings.twilio_account_sid, token, sender, base_url, refs)


def build_activities(
    settings: ChannelSettings, postal_adapter: PostalAdapter | None = None
) -> Sequence[Callable[..., Any]]:
    """`postal_adapter`: the configured provider or the outbox unless given (the cost bench's, which
    plays a letter's delivery)."""
    refs = tracking_refs(settings)
    sms = sms_adapter(settings, refs)
    ledger = open_ledger(settings.ledger_url, settings.ledger_path)
    creditor = settings.creditor
    email_adapter: SendGridEmail | OutboxEmail
    if settings.sendgrid_api_key:
        email_adapter = SendGridEmail(
            settings.sendgrid_api_key, settings.sendgrid_api_host, settings.from_email, creditor.name, refs
        )
    else:
        email_adapter = OutboxEmail(settings.outbox_dir)
    postal = settings.postal
    if postal_adapter is None and postal.service_id:
        postal_adapter = MerciFacteurLetters(
            postal.service_id,
            postal.secret_key,
            postal.user_id,
            creditor,
            PostalMode(postal.mode),
            postal.api_url,
            postal.authorized_ip,
        )
    elif postal_adapter is None:
        postal_adapter = OutboxLetters(settings.outbox_dir)
    case_file = CaseFile(settings.case_file_dir)
    templates = settings.template_dir
    return [
        EmailActivities(ledger, email_adapter, creditor, case_file, templates).send_email,
        DigestActivities(ledger, email_adapter, creditor, templates).send_digest,
        SmsActivities(ledger, sms, creditor, templates).send_sms,
        LetterActivities(ledger, postal_adapter, creditor, case_file, templates).send_registered_letter,
        LetterTracker(postal_adapter, case_file).track_letter,
        LitigationActivities(
            ledger,
            OutboxLitigation(settings.outbox_dir, settings.dossier_dir),
            creditor,
            case_file,
            settings.handover,
        ).hand_over_to_litigation,
    ]


def start_penalties(settings: PenaltySettings, today: date) -> None:
    """Messages compute penalties with the operator's rates file and imputation as of this start."""
    try:
        policy = penalty_policy(settings)
    except ValueError as error:  # a malformed rates file, named by line and field
        raise SystemExit(f"worker not started: {error}") from error
    rendering.use_penalty_policy(policy)
    for warning in policy.rates.warnings(today):
        logging.warning("rates: %s", warning)


def build_worker(
    client: Client,
    task_queue: str,
    activities: Sequence[Callable[..., Any]],
    executor: ThreadPoolExecutor,
    sizes: WorkerSettings | None = None,
) -> Worker:
    """`sizes` default to the environment's (DUNNING_MAX_CONCURRENT_ACTIVITIES, DUNNING_WORKFLOW_CACHE)."""
    sizes = sizes or WorkerSettings()
    # The sandbox imports the workflow module again for every case it loads (first task, cache miss,
    # query or signal to an evicted case). Without a .pyc (PYTHONDONTWRITEBYTECODE, as on this team's
    # machines and in many images) each of those imports compiles the source: about 10 ms a case and
    # a quarter of the worker's CPU while a bank import wakes evicted cases. Written once, up to date.
    compileall.compile_dir(Path(__file__).parent / "workflows", quiet=2)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[InvoiceDunning, CustomerDigest],
        workflow_runner=SANDBOX,
        # Handing e-mails to a customer's digest starts workflows: it needs the worker's client.
        activities=[*activities, DigestHandOver(client).join_digest],
        activity_executor=executor,
        max_concurrent_activities=sizes.max_concurrent_activities,
        max_cached_workflows=sizes.workflow_cache,
    )


async def main() -> None:
    configure_logging()
    try:
        settings = Settings.load()
    except SettingsError as error:
        raise SystemExit(f"worker not started: {error}") from error
    temporal = settings.temporal
    # Before the client: it binds to the runtime.
    if metrics_address := install_worker_metrics(settings.worker.metrics_address):
        logging.info("metrics on http://%s/metrics", metrics_address)
    try:
        client = await connect(temporal, CodecKeys.parse_setting(settings.codec.keys))
    except CodecKeyError as error:
        raise SystemExit(f"worker not started: {error}") from error
    try:
        added = await search_attributes.ensure(client)
    except search_attributes.MissingSearchAttributes as error:
        raise SystemExit(f"worker not started: {error}") from error
    if added:
        logging.info("registered search attributes %s", ", ".join(added))
    try:
        activities = build_activities(settings.channels)
    except SettingsError as error:
        raise SystemExit(f"worker not started: {error}") from error
    start_penalties(settings.penalties, paris_date(datetime.now(UTC)))
    with ThreadPoolExecutor(max_workers=settings.worker.max_concurrent_activities) as executor:
        worker = build_worker(client, temporal.task_queue, activities, executor, settings.worker)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with worker, AsyncExitStack() as probes:
            if address := settings.worker.health_address:
                server = await serve_probes(address, lambda: worker.is_running, temporal_probe(client))
                probes.push_async_callback(server.wait_closed)
                probes.callback(server.close)
                logging.info("probes on http://%s/healthz and /readyz", address)
            logging.info("worker polling %s on %s/%s", temporal.task_queue, temporal.address, temporal.namespace)
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    # Stopped cleanly. The Temporal client's Rust threads can abort CPython's own teardown
    # ("PyGILState_Release ... finalizing", temporalio/sdk-python#300): an exit code of -6 for an
    # orchestrator's SIGTERM. Everything is shut down and the logs flushed, so skip that teardown.
    logging.shutdown()
    os._exit(0)
