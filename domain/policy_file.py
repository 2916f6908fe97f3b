"""Policy files: TOML read into a `domain.policy.Policy`, every error naming the file, line and field.

tomllib gives no positions, so `_Lines` reads the text once more, line by line, to know where each
key and each inline table of an array was written. It understands the layout the packaged files use
(tables, arrays of tables, one inline table per line in an array); anywhere else an error still
names the nearest enclosing key it found.

The packaged policies (domain/data/policies) are released data like the legal rates: `2026-11` is
what every case started without a policy runs, forever, so it is never edited.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from domain.policy import Policy

# The ladders of every case started before policies existed (their start input holds none).
LEGACY = "2026-11"
# What a new case follows unless the operator names a policy file (DUNNING_POLICY_FILE).
DEFAULT = "default"

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"-]+)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\"-]+(?:\s*\.\s*[A-Za-z0-9_\"-]+)*)\s*=\s*(.*)$")

Loc = tuple[str | int, ...]


class PolicyError(ValueError):
    """A policy file that cannot be used, with every problem found, each on its own line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: invalid policy\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


def parse_policy(text: str, source: str) -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(source, [f"{source}: {error}"]) from None
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        lines = _Lines(text)
        problems = []
        for item in error.errors():
            loc = tuple(item["loc"]) or _named_in(item["msg"])
            field = ".".join(str(part) for part in loc) or "(policy)"
            problems.append(f"{source}:{lines.find(loc)}: {field}: {item['msg']}")
        raise PolicyError(source, problems) from None


def line_of(text: str, loc: Loc) -> int:
    """The line of a policy text where `loc` (`("ladders", "standard", 3)`) was written, or of its
    nearest enclosing key; 1 when none is known. For checks made outside the model (templates)."""
    return _Lines(text).find(loc)


def load_policy(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(str(path), [f"cannot read it: {error.strerror}"]) from None
    return parse_policy(text, str(path))


@cache
def packaged(name: str) -> Policy:
    """A policy shipped with the service, by name: `default` or a frozen release such as `2026-11`."""
    text = resources.files("domain.data").joinpath("policies", f"{name}.toml").read_text(encoding="utf-8")
    return parse_policy(text, f"domain/data/policies/{name}.toml")


def legacy() -> Policy:
    return packaged(LEGACY)


class _Lines:
    """Where each key path was written in a TOML text, 1-based."""

    def __init__(self, text: str) -> None:
        self.at: dict[Loc, int] = {}
        table: Loc = ()
        counts: dict[Loc, int] = {}
        array: Loc | None = None
        items = 0
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.split(" #", 1)[0].strip()
            if array is not None:
                if stripped.startswith("{"):
                    self._record((*array, items), number)
                    for key in re.findall(r"([A-Za-z0-9_]+)\s*=", stripped):
                        self._record((*array, items, key), number)
                    items += 1
                if stripped.endswith("]"):
                    array = None
                continue
            header = _HEADER.match(line)
            if header:
                path: Loc = tuple(_split(header.group(2)))
                if header.group(1) == "[[":
                    counts[path] = counts.get(path, -1) + 1
                    path = (*path, counts[path])
                table = path
                self._record(table, number)
                continue
            key = _KEY.match(line)
            if key:
                path = (*table, *_split(key.group(1)))
                self._record(path, number)
                value = key.group(2).strip()
                if value.startswith("[") and not value.rstrip().endswith("]"):
                    array, items = path, 0

    def _record(self, path: Loc, number: int) -> None:
        self.at.setdefault(path, number)

    def find(self, loc: Loc) -> int:
        """The line of `loc`, or of its nearest enclosing key; 1 when none is known."""
        for end in range(len(loc), 0, -1):
            if loc[:end] in self.at:
                return self.at[loc[:end]]
        return 1


_WHOLE = re.compile(r"(?:ladders\.(\w+)\[(\d+)\]|routes\[(\d+)\]|ladder '(\w+)')")


def _named_in(message: str) -> Loc:
    """The place a whole-policy check names in its message (`ladders.new[3]`, `routes[2]`)."""
    found = _WHOLE.search(message)
    if found is None:
        return ()
    ladder, index, route, named = found.groups()
    if ladder is not None:
        return ("ladders", ladder, int(index))
    if route is not None:
        return ("routes", int(route))
    return ("ladders", named)


def _split(dotted: str) -> list[str]:
    return [part.strip().strip('"') for part in dotted.split(".")]
