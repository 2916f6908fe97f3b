"""Retention: a closed case's personal data goes once its period is over (`dunning purge`).

When is a case closed? Temporal knows: visibility lists each closed run with its CloseTime and its
last DunningStage (settled, cancelled, litigation). The stores themselves do not (the ingress sees a
case closed only when an event bounces off it; the sent-ledger and the case files never do), and
visibility forgets a case with its history, after the namespace's retention (30 days). So each purge
first sweeps visibility for the closures since the previous sweep into the closure register
(`starter.closures`), then decides from the register. A sweep that comes later than the namespace's
retention may have missed closures: the purge says so. A case that closed before the first sweep
and is already gone from visibility is not known, so not purged: run the first purge within the
namespace's retention of going live.

The periods count from the case's close:
- DUNNING_RETENTION_DAYS (default 2009: five years, Code de commerce L110-4 and Code civil 2224, the
  limitation of claims of and against a business, e.g. a customer contesting penalties it paid,
  plus six months for a claim served on the last day to reach the creditor);
- DUNNING_LITIGATION_RETENTION_DAYS (default 3836: ten years, for as long as a judgment can be
  enforced, CPCE L111-4, plus six months) for a case closed in litigation: its dossier, letters and
  proofs are what the court case rests on. `dunning purge release INVOICE_ID` ends that hold when the
  matter is over: the case is then kept like any other closed case.

What goes (see each store's `purge`/`forget`): the ingress's invoice facts, balances and events, the
payers' names, IBANs and texts in the bank journal, the case files (letters, proofs, dossiers), the
outbox's messages, the dossiers handed over; in the sent-ledger the link to the invoice. What stays:
ids and counts that exactly-once needs (ledger claims, imported bank line ids, applied event ids,
the register itself), so that nothing is ever sent, imported or started twice.
"""

import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError

from activities.ledger import Ledger
from domain.models import workflow_id_for
from dunning import search_attributes as sa
from dunning.settings import RetentionSettings as RetentionSettings  # where its callers found it
from starter.bank import Journal
from starter.closures import Closure, ClosureRegister
from starter.store import IngressStore

RETENTION_VARIABLE = "DUNNING_RETENTION_DAYS"
LITIGATION_VARIABLE = "DUNNING_LITIGATION_RETENTION_DAYS"
# A closure is indexed by visibility a moment after the run closes: sweeps overlap by this much.
SWEEP_OVERLAP = timedelta(hours=1)
_PREFIX = workflow_id_for("")


@dataclass(frozen=True)
class Plan:
    """The register's cases as of a day: past their period (`due`, including those purged before),
    held for litigation, or closed too recently."""

    due: list[Closure]
    held: int
    recent: int

    @property
    def fresh(self) -> list[Closure]:
        return [closure for closure in self.due if closure.purged_at is None]


def plan(closures: Iterable[Closure], as_of: date, settings: RetentionSettings) -> Plan:
    cutoff, litigation_cutoff = settings.cutoff(as_of), settings.litigation_cutoff(as_of)
    due: list[Closure] = []
    held = recent = 0
    for closure in closures:
        if closure.closed_at >= cutoff:
            recent += 1
        elif closure.in_litigation and closure.released_at is None and closure.closed_at >= litigation_cutoff:
            held += 1
        else:
            due.append(closure)
    return Plan(due, held, recent)


async def sweep_closures(client: Client, register: ClosureRegister) -> list[Closure]:
    """The closed cases visibility lists since the previous sweep (all of them on the first)."""
    query = "WorkflowType = 'InvoiceDunning' AND ExecutionStatus != 'Running' AND ExecutionStatus != 'ContinuedAsNew'"
    since = register.swept_at()
    if since is not None:
        query += f" AND CloseTime >= '{(since - SWEEP_OVERLAP).astimezone(UTC).isoformat()}'"
    found = []
    async for execution in client.list_workflows(query, page_size=1000):
        if execution.close_time is None or execution.status is None:
            continue
        stage = execution.typed_search_attributes.get(sa.STAGE)
        found.append(Closure(execution.id, execution.close_time, execution.status.name.lower(), stage))
    return found


async def namespace_retention(client: Client) -> timedelta:
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
    return described.config.workflow_execution_retention_ttl.ToTimedelta()


@dataclass(frozen=True)
class FileStores:
    """Where the worker writes files for a case (`dunning.settings.ChannelSettings`)."""

    outbox_dir: Path
    case_file_dir: Path
    dossier_dir: Path


def purge_files(
    files: FileStores, closures: Sequence[Closure], messages: Sequence[tuple[str, str]], *, dry_run: bool
) -> dict[str, int]:
    """Delete the outbox's messages, the case folders and the handed-over dossiers of these cases."""
    invoice_of = {c.workflow_id: c.workflow_id.removeprefix(_PREFIX) for c in closures}
    channels = [d for d in files.outbox_dir.iterdir() if d.is_dir()] if files.outbox_dir.is_dir() else []
    outbox = [channel / message_id for channel in channels for _, message_id in messages]
    dossiers = [
        files.dossier_dir / f"dossier-{quote(invoice_of[workflow_id], safe='')}-{message_id}.zip"
        for workflow_id, message_id in messages
        if workflow_id in invoice_of
    ]
    folders = [files.case_file_dir / quote(c.workflow_id, safe="") for c in closures]
    return {
        "outbox messages": _remove([p for p in outbox if p.is_dir()], dry_run),
        "case folders": _remove([p for p in folders if p.is_dir()], dry_run),
        "dossiers handed over": _remove([p for p in dossiers if p.is_file()], dry_run),
    }


def _remove(paths: list[Path], dry_run: bool) -> int:
    if not dry_run:
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    return len(paths)


@dataclass(frozen=True)
class PurgeReport:
    as_of: date
    dry_run: bool
    cutoff: datetime
    litigation_cutoff: datetime
    recorded: int  # closures copied from visibility (to be, in a dry run)
    plan: Plan
    removed: dict[str, dict[str, int]]  # store -> kind -> how many
    warnings: list[str]


def purge_stores(
    store: IngressStore,
    journal: Journal,
    ledger: Ledger,
    files: FileStores,
    *,
    as_of: date,
    settings: RetentionSettings,
    dry_run: bool,
    seen: Sequence[Closure] = (),
) -> tuple[Plan, dict[str, dict[str, int]]]:
    """Purge every store of the cases past their period; `seen`: closures swept but not recorded
    (a dry run records nothing)."""
    known = {c.workflow_id: c for c in store.closures.all()}
    for closure in seen:
        known.setdefault(closure.workflow_id, closure)
    chosen = plan(known.values(), as_of, settings)
    fresh = chosen.fresh
    fresh_ids = [c.workflow_id for c in fresh]
    invoice_ids = [c.workflow_id.removeprefix(_PREFIX) for c in chosen.due if c.workflow_id.startswith(_PREFIX)]
    cutoff = settings.cutoff(as_of)
    # Files first, while the ledger still links the messages to their case; each step can run again.
    removed = {"case files and outbox": purge_files(files, fresh, ledger.case_messages(fresh_ids), dry_run=dry_run)}
    removed["sent-ledger"] = {"claims unlinked from their invoice (kept)": ledger.forget(fresh_ids, dry_run=dry_run)}
    removed["ingress store"] = store.purge(invoice_ids, cutoff, dry_run=dry_run)
    removed["bank journal"] = journal.purge(invoice_ids, cutoff, dry_run=dry_run)
    if not dry_run:
        store.closures.mark_purged(fresh_ids, datetime.now(UTC))
    return chosen, removed


async def run_purge(
    client: Client,
    store: IngressStore,
    journal: Journal,
    ledger: Ledger,
    files: FileStores,
    *,
    as_of: date,
    settings: RetentionSettings,
    dry_run: bool,
) -> PurgeReport:
    warnings = []
    started = datetime.now(UTC)
    previous = store.closures.swept_at()
    try:
        retention = await namespace_retention(client)
    except RPCError as error:  # credentials that may list workflows but not describe the namespace
        warnings.append(f"cannot read the namespace's retention ({error.message}): is the purge run daily?")
        retention = timedelta.max
    if previous is not None and started - previous > retention:
        warnings.append(
            f"the previous sweep was {(started - previous).days} days ago, longer than the namespace's retention"
            f" ({retention.days} days): cases closed in between may have left visibility unrecorded, and are"
            " not purged. Run `dunning purge` daily."
        )
    swept = [c for c in await sweep_closures(client, store.closures) if store.closures.get(c.workflow_id) is None]
    if not dry_run:
        store.closures.record(swept)
        store.closures.mark_swept(started)
    chosen, removed = purge_stores(
        store, journal, ledger, files, as_of=as_of, settings=settings, dry_run=dry_run, seen=swept
    )
    return PurgeReport(
        as_of,
        dry_run,
        settings.cutoff(as_of),
        settings.litigation_cutoff(as_of),
        len(swept),
        chosen,
        removed,
        warnings,
    )
