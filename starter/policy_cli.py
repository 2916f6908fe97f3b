"""`dunning policy`: check a policy file (and the templates its steps need), compare two, show the
configured one, and move running cases to it.

Exit codes: check 0 valid, 2 invalid (every problem named `file:line: field: message`); diff 0 the
same, 1 different, 2 a file invalid; apply 0 done, 1 a case not found or not answering.
"""

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from temporalio.service import RPCError, RPCStatusCode

from activities.rendering import LOCALES
from domain.ladder import Channel, Step
from domain.models import Segment
from domain.policy import FORMAL_NOTICE, Policy
from domain.policy_diff import band, describe_route, diff_policies, offset
from domain.policy_file import DEFAULT, PolicyError, line_of, load_policy
from dunning.client import connect
from dunning.settings import ChannelSettings, PolicySettings, TemporalSettings
from starter import steering
from starter.templates_cli import FOLDERS, TemplateDir, template_files

policy_app = typer.Typer(help="Policies: check, compare, show, and move running cases.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

# The template folder of each channel a ladder step sends by; calls and the hand-over have none.
FOLDER_OF = {Channel.EMAIL: "email", Channel.SMS: "sms", Channel.REGISTERED_LETTER: "letters"}
PolicyFile = Annotated[Path, typer.Argument(dir_okay=False, help="a policy TOML file")]


@dataclass(frozen=True)
class TemplateProblem:
    ladder: str
    index: int
    message: str


def template_problems(policy: Policy, template_dir: Path | None) -> tuple[list[TemplateProblem], list[TemplateProblem]]:
    """(errors, warnings): a step whose own channel has no template in some language is an error; one
    whose fallback channel has none (an e-mail that bounced goes by SMS, a formal notice with no
    usable address by e-mail) is a warning: only some customers would reach it."""
    present = {(t.folder, t.language, t.name) for t in template_files(template_dir)}

    def missing(ladder: str, index: int, step: Step, channel: Channel, why: str) -> list[TemplateProblem]:
        folder, name = FOLDER_OF[channel], step.template or step.name
        return [
            TemplateProblem(
                ladder,
                index,
                f"ladders.{ladder}[{index}] {step.name}: no {channel.value} template {name!r} in {language}"
                f" ({folder}/{language}/{name}.{FOLDERS[folder][1]}){why}",
            )
            for language in LOCALES
            if (folder, language, name) not in present
        ]

    found: list[TemplateProblem] = []
    fallbacks: list[TemplateProblem] = []
    for ladder, steps in policy.ladders.items():
        for index, step in enumerate(steps):
            if step.channel not in FOLDER_OF:
                continue
            found += missing(ladder, index, step, step.channel, "")
            if step.channel is Channel.EMAIL:
                fallbacks += missing(ladder, index, step, Channel.SMS, ": needed when the e-mail address bounced")
            if step.name == FORMAL_NOTICE:
                fallbacks += missing(ladder, index, step, Channel.EMAIL, ": needed when no postal address is usable")
    return found, fallbacks


def _load(path: Path) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as error:
        for problem in error.problems:
            errors.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from error


@policy_app.command("check")
def check(file: PolicyFile, template_dir: TemplateDir = None) -> None:
    """Validate FILE, print its ladders and settings, and check every step has its templates."""
    policy = _load(file)
    print_policy(policy, str(file))
    directory = template_dir or ChannelSettings().template_dir
    found, fallbacks = template_problems(policy, directory)
    text = file.read_text(encoding="utf-8")
    for problem in fallbacks:
        where = f"{file}:{line_of(text, ('ladders', problem.ladder, problem.index))}"
        errors.print(f"warning: {where}: {problem.message}", markup=False, highlight=False, soft_wrap=True)
    for problem in found:
        where = f"{file}:{line_of(text, ('ladders', problem.ladder, problem.index))}"
        errors.print(f"{where}: {problem.message}", markup=False, highlight=False, soft_wrap=True)
    if found:
        directory_text = directory or "none"
        errors.print(
            f"{file}: {len(found)} missing template(s) (operator directory: {directory_text})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    console.print(f"{file}: valid, version {policy.version}", markup=False, highlight=False, soft_wrap=True)


@policy_app.command("diff")
def diff(old: PolicyFile, new: PolicyFile) -> None:
    """What changes from OLD to NEW: steps, routes and settings. Exit 0 the same, 1 different."""
    lines = diff_policies(_load(old), _load(new))
    if not lines:
        console.print(f"{old} and {new}: the same policy", markup=False, highlight=False, soft_wrap=True)
        return
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _configured() -> tuple[Policy, str]:
    source = PolicySettings()
    try:
        policy = source.load()
    except PolicyError as error:
        for problem in error.problems:
            errors.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from error
    return policy, f"DUNNING_POLICY_FILE={source.file}" if source.file else f"packaged {DEFAULT}"


@policy_app.command("show")
def show() -> None:
    """The policy new cases start with: DUNNING_POLICY_FILE, else the packaged default."""
    policy, source = _configured()
    print_policy(policy, source)


def print_policy(policy: Policy, source: str) -> None:
    console.print(f"[bold]{policy.name}[/] ({source}), version {policy.version}", highlight=False, soft_wrap=True)
    if policy.description:
        console.print(policy.description, markup=False, highlight=False, soft_wrap=True)
    for name, steps in policy.ladders.items():
        table = Table(title=f"ladder {name}")
        for column in ("step", "J offset", "channel", "stage", "template", "approval", "amount condition"):
            table.add_column(column, justify="right" if column == "J offset" else "left")
        for step in steps:
            table.add_row(
                step.name,
                offset(step.offset_days),
                step.channel.value,
                step.stage.value,
                (step.template or step.name) if step.channel in FOLDER_OF else "",
                "required" if step.approval else "",
                band(step.amount_from, step.amount_below),
            )
        console.print(table)
    routes = Table("#", "segment, amount -> ladder", title="routes (the first match applies)")
    for index, route in enumerate(policy.routes):
        routes.add_row(str(index), describe_route(route))
    console.print(routes)
    hours, pauses, rules = policy.send_hours, policy.pauses, policy.segments
    settings = Table(show_header=False, title="settings")
    for label, value in (
        (
            "send hours",
            f"{hours.start:%H:%M}-{hours.end:%H:%M} Europe/Paris"
            + (", business days only" if hours.business_days_only else ", every day"),
        ),
        ("after a dispute", f"resume {pauses.dispute_resume_days} days after its resolution"),
        ("after a promise", f"check {pauses.promise_grace_business_days} business days after the date"),
        ("after an installment", f"check {pauses.installment_grace_days} days after its due date"),
        ("formal notice deadline", f"{policy.formal_notice_deadline_days} days"),
        ("hand-over", policy.handover.value if policy.handover else "the operator's DUNNING_HANDOVER_DESTINATION"),
        ("digest", "one message per customer and step" if policy.digest else "off"),
        (
            "segment bad_payer",
            f"{rules.bad_payer_late_invoices} late invoices within {rules.late_window_months} months",
        ),
        ("segment new", f"first invoice within {rules.new_for_months} months"),
    ):
        settings.add_row(label, value)
    console.print(settings)


@policy_app.command("apply")
def apply(
    invoice_ids: Annotated[list[str] | None, typer.Argument(help="cases to move, by invoice id")] = None,
    query: Annotated[str | None, typer.Option(help="running cases matching this visibility query")] = None,
    segment: Annotated[Segment | None, typer.Option(help="running cases of this segment")] = None,
    outdated: Annotated[bool, typer.Option(help="running cases on another policy version")] = False,
    dry_run: Annotated[bool, typer.Option(help="say what would move, signal nothing")] = False,
) -> None:
    """Move cases to the configured policy from where they stand (signal policy_changed).

    Cases by invoice id, or every running case that matches --query, --segment and --outdated
    together. A case already on the policy is unchanged; running it twice moves nothing twice.
    """
    if not invoice_ids and query is None and segment is None and not outdated:
        raise typer.BadParameter("name cases (INVOICE_ID ...) or select them (--query, --segment, --outdated)")
    if invoice_ids and (query is not None or segment is not None or outdated):
        raise typer.BadParameter("give either INVOICE_ID ... or a selection (--query, --segment, --outdated)")
    policy, source = _configured()

    async def work() -> list[steering.PolicyMove]:
        client = await connect(TemporalSettings())
        targets = invoice_ids or await steering.select_cases(
            client, steering.selection_query(policy, segment=segment, outdated=outdated, query=query)
        )
        return await steering.move_many(client, targets, policy, dry_run=dry_run)

    try:
        moves = asyncio.run(work())
    except ValueError as error:
        errors.print(str(error), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from error
    except RPCError as error:
        if error.status != RPCStatusCode.INVALID_ARGUMENT:
            raise
        errors.print(f"--query refused by Temporal: {error.message}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from error
    console.print(f"to {policy.version} ({source}){' (dry run)' if dry_run else ''}", highlight=False, soft_wrap=True)
    table = Table("invoice", "outcome", "policy before", "detail", title="Cases")
    for move in moves:
        table.add_row(move.invoice_id, move.outcome.value, move.before or "", move.detail)
    console.print(table)
    counts = {outcome: sum(m.outcome is outcome for m in moves) for outcome in steering.Move}
    console.print(", ".join(f"{n} {o.value}" for o, n in counts.items() if n) or "no case selected", soft_wrap=True)
    if counts[steering.Move.NO_ANSWER] or counts[steering.Move.MISSING]:
        raise typer.Exit(1)
