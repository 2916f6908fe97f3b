"""What changes between two policies, in the words a credit team uses: steps added, removed, moved to
another day or channel; routes; settings. `dunning policy diff` prints it.

Steps are matched by name, as a case moved to another policy matches them (domain.case_steering):
a renamed step reads as one removed and one added, which is also what it does to running cases.
"""

from decimal import Decimal
from typing import Any

from domain.ladder import Step
from domain.policy import Policy, Route

# Compared by `_settings`; ladders and routes have their own, more readable, comparisons.
_OWN_COMPARISON = {"ladders", "routes"}
_STEP_FIELDS = ("channel", "stage", "template", "approval")


def offset(days: int) -> str:
    """A step's day as the team writes it: J-15, J+0, J+35."""
    return f"J{days:+d}"


def band(low: Decimal | None, high: Decimal | None) -> str:
    """An amount condition: `any amount`, `from 500`, `below 500`, `500 to 5000`."""
    if low is None and high is None:
        return "any amount"
    if high is None:
        return f"from {low}"
    if low is None:
        return f"below {high}"
    return f"{low} to {high}"


def describe_step(step: Step) -> str:
    extras = [step.channel.value, step.stage.value]
    if step.template:
        extras.append(f"template {step.template}")
    if step.approval:
        extras.append("approval")
    if step.amount_from is not None or step.amount_below is not None:
        extras.append(band(step.amount_from, step.amount_below))
    return f"{step.name} ({offset(step.offset_days)}, {', '.join(extras)})"


def describe_route(route: Route) -> str:
    handed = f", handed to {route.handover.value}" if route.handover else ""
    return f"{route.segment.value}, {band(route.amount_from, route.amount_below)} -> {route.ladder}{handed}"


def diff_policies(old: Policy, new: Policy) -> list[str]:
    """One line per difference, empty when the two have the same content (the same version)."""
    if old.version == new.version:
        return []
    return [
        f"version: {old.version} -> {new.version}",
        *_settings(old, new),
        *_ladders(old, new),
        *_routes(old.routes, new.routes),
    ]


def _settings(old: Policy, new: Policy) -> list[str]:
    before = _flat(old.model_dump(mode="json", exclude=_OWN_COMPARISON))
    after = _flat(new.model_dump(mode="json", exclude=_OWN_COMPARISON))
    return [
        f"{key}: {_text(before.get(key))} -> {_text(after.get(key))}"
        for key in [*before, *(k for k in after if k not in before)]
        if before.get(key) != after.get(key)
    ]


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _text(value: Any) -> str:
    return "(none)" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _ladders(old: Policy, new: Policy) -> list[str]:
    lines = []
    for name in [*old.ladders, *(n for n in new.ladders if n not in old.ladders)]:
        where = f"ladders.{name}"
        if name not in new.ladders:
            lines.append(f"{where}: removed")
        elif name not in old.ladders:
            lines.append(f"{where}: added")
            lines += [f"{where}: + {describe_step(s)}" for s in new.ladders[name]]
        else:
            lines += [f"{where}: {line}" for line in _steps(old.ladders[name], new.ladders[name])]
    return lines


def _steps(old: tuple[Step, ...], new: tuple[Step, ...]) -> list[str]:
    before = {s.name: s for s in old}
    after = {s.name: s for s in new}
    lines = [f"- {describe_step(s)}" for s in old if s.name not in after]
    for step in new:
        was = before.get(step.name)
        if was is None:
            lines.append(f"+ {describe_step(step)}")
            continue
        if was.offset_days != step.offset_days:
            lines.append(f"{step.name} moved {offset(was.offset_days)} -> {offset(step.offset_days)}")
        for field in _STEP_FIELDS:
            if getattr(was, field) != getattr(step, field):
                lines.append(f"{step.name} {field} {_value(getattr(was, field))} -> {_value(getattr(step, field))}")
        if (was.amount_from, was.amount_below) != (step.amount_from, step.amount_below):
            lines.append(
                f"{step.name} amount {band(was.amount_from, was.amount_below)}"
                f" -> {band(step.amount_from, step.amount_below)}"
            )
    kept_before = [s.name for s in old if s.name in after]
    kept_after = [s.name for s in new if s.name in before]
    if kept_before != kept_after:
        lines.append(f"order {', '.join(kept_before)} -> {', '.join(kept_after)}")
    return lines


def _value(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "required" if value else "none"
    return str(getattr(value, "value", value))


def _routes(old: tuple[Route, ...], new: tuple[Route, ...]) -> list[str]:
    before = [describe_route(r) for r in old]
    after = [describe_route(r) for r in new]
    lines = [f"routes: - {r}" for r in before if r not in after]
    lines += [f"routes: + {r}" for r in after if r not in before]
    if not lines and before != after:
        # The first matching route wins: the same routes in another order may route differently.
        lines.append("routes: order " + "; ".join(before) + " -> " + "; ".join(after))
    return lines
