"""`dunning purge`: closed cases' personal data out of every store once its period is over
(`starter.retention`), and `dunning purge release` to end a litigation hold.

Prints counts per store only, never what was removed. Run it daily where the stores are (the same
DUNNING_VAR_DIR, DUNNING_LEDGER_URL and directories as the worker), e.g. from cron:

    17 3 * * *  cd /srv/dunning && .venv/bin/dunning purge >> var/purge.log 2>&1
"""

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer

from activities.ledger import open_ledger
from domain.calendar import paris_date
from domain.models import workflow_id_for
from dunning.client import connect
from dunning.settings import ChannelSettings
from starter.api import IngressSettings
from starter.bank import Journal
from starter.reconcile import journal_path
from starter.retention import FileStores, PurgeReport, RetentionSettings, run_purge
from starter.store import IngressStore

purge_app = typer.Typer(help="Purge closed cases' personal data after the retention period.")


@purge_app.callback(invoke_without_command=True)
def purge(
    context: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would go, remove nothing")] = False,
    as_of: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="the day periods are counted to; default today")
    ] = None,
) -> None:
    """Copy the closures visibility lists into the register, then remove the personal data of the cases
    closed longer ago than DUNNING_RETENTION_DAYS (litigation: DUNNING_LITIGATION_RETENTION_DAYS unless
    released). Ids that keep a message from being sent twice stay."""
    if context.invoked_subcommand is not None:
        return
    try:
        settings = RetentionSettings()
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    ingress, channels = IngressSettings(), ChannelSettings()
    files = FileStores(channels.outbox_dir, channels.case_file_dir, channels.dossier_dir)
    day = as_of.date() if as_of else paris_date(datetime.now(UTC))

    async def work() -> PurgeReport:
        client = await connect(ingress.temporal)
        ledger = open_ledger(channels.ledger_url, channels.ledger_path)
        with IngressStore.in_dir(ingress.var_dir) as store, Journal(journal_path(ingress.var_dir)) as journal:
            return await run_purge(client, store, journal, ledger, files, as_of=day, settings=settings, dry_run=dry_run)

    _print(asyncio.run(work()))


@purge_app.command("release")
def release(invoice_id: Annotated[str, typer.Argument(help="the invoice whose litigation case is over")]) -> None:
    """End the litigation hold of a closed case: it is then kept like any closed case."""
    with IngressStore.in_dir(IngressSettings().var_dir) as store:
        closure = store.closures.release(workflow_id_for(invoice_id), datetime.now(UTC))
    if closure is None:
        typer.echo("no closed case of that invoice is recorded (has `dunning purge` run since it closed?)", err=True)
        raise typer.Exit(1)
    if not closure.in_litigation:
        typer.echo(f"released; it was not held (closed in stage {closure.stage})")
        return
    typer.echo(f"released: its data goes at the first purge {RetentionSettings().days} days after its close")


def _print(report: PurgeReport) -> None:
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    mode = "dry run, nothing removed" if report.dry_run else "removed"
    typer.echo(
        f"Purge as of {report.as_of} ({mode}): cases closed before {report.cutoff:%Y-%m-%d},"
        f" in litigation before {report.litigation_cutoff:%Y-%m-%d} unless released"
    )
    plan = report.plan
    typer.echo(
        f"  closure register: {report.recorded} closures recorded from visibility; {len(plan.due)} cases past"
        f" their period ({len(plan.fresh)} purged now), {plan.held} held for litigation, {plan.recent} closed"
        " too recently"
    )
    for store, counts in report.removed.items():
        typer.echo(f"  {store}: " + ", ".join(f"{kind} {n}" for kind, n in counts.items()))
