"""`dunning approve`, `dunning hold` and `dunning segment`: what a credit controller decides on a case.

Exit codes: 0 done (or already so), 1 refused (the case is not waiting, is closed, has no such gated
step) or no case, 2 a bad invoice id.
"""

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from domain.models import CaseStatus, Segment
from dunning.client import connect
from dunning.settings import TemporalSettings
from starter import steering

console = Console()
errors = Console(stderr=True)
_T = TypeVar("_T")

By = Annotated[str, typer.Option("--by", help="who decides: a user id, not a name")]


def _run(work: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(work)
    except (steering.Refused, steering.CaseNotFound, steering.NoAnswer) as error:
        errors.print(str(error), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from error
    except ValueError as error:
        errors.print(str(error), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from error


def _stage(case: CaseStatus) -> str:
    waiting = f", waiting for the approval of {case.awaiting_approval}" if case.awaiting_approval else ""
    ahead = f", next {case.next_action.step}" if case.next_action else ""
    return f"stage {case.stage.value}{waiting}{ahead}"


def approve(
    invoice_id: str,
    by: By,
    step: Annotated[str | None, typer.Option(help="a gated step to approve in advance")] = None,
) -> None:
    """Let the gated step INVOICE_ID waits on run (or --step, before it falls due)."""
    _decide(invoice_id, steering.Decision.APPROVE, by, step, None)


def hold(
    invoice_id: str,
    by: By,
    reason: Annotated[str, typer.Option(help="why it waits (on the case's trail)")],
    step: Annotated[str | None, typer.Option(help="the step it waits on (default: that one)")] = None,
) -> None:
    """Keep the gated step INVOICE_ID waits on waiting, and say why."""
    _decide(invoice_id, steering.Decision.HOLD, by, step, reason)


def _decide(invoice_id: str, decision: steering.Decision, by: str, step: str | None, reason: str | None) -> None:
    async def work() -> steering.Decided:
        client = await connect(TemporalSettings())
        return await steering.decide(client, invoice_id, decision, by=by, step=step, reason=reason)

    done = _run(work())
    console.print(
        f"{invoice_id}: {done.step} {done.outcome}; {_stage(done.case)}", markup=False, highlight=False, soft_wrap=True
    )


def segment(
    invoice_id: str,
    new_segment: Annotated[Segment, typer.Argument(metavar="SEGMENT", help="standard, new, strategic, bad_payer")],
    reason: Annotated[str, typer.Option(help="why (on the case's trail; no personal data)")],
) -> None:
    """Put INVOICE_ID on the ladder of SEGMENT, from where it stands."""

    async def work() -> steering.SegmentMove:
        client = await connect(TemporalSettings())
        return await steering.change_segment(client, invoice_id, new_segment, reason)

    moved = _run(work())
    before = moved.before.value if moved.before else "unknown"
    what = f"{before} -> {moved.after.value}" if moved.changed else f"already {moved.after.value}, unchanged"
    console.print(f"{invoice_id}: {what}; {_stage(moved.case)}", markup=False, highlight=False, soft_wrap=True)
