"""Variables from a dotenv or JSON file as secrets: the name rule and the file readers of `import`
(and of `diff VAULT FILE`).

The rule, the reverse of `export`'s: every character that is not a letter or digit becomes `-`,
letters are lower-cased, and leading and trailing `-` are dropped (`DB_PASSWORD` -> `db-password`,
`_1ST_KEY` -> `1st-key`). With a prefix, the name is PREFIX + `-` + that (no second `-` when the
prefix ends in one), so `export --prefix P` of what `import --prefix P` stored gives back the
same variables. `VAR=NAME` overrides (`--name-map`) name a secret exactly, prefix not added.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from . import validate
from .envformat import parse_dotenv
from .errors import UsageError
from .redaction import register

FILE_FORMATS = ("dotenv", "json")
_NOT_NAME = re.compile(r"[^0-9A-Za-z]")
_PREFIX = re.compile(r"^[0-9A-Za-z-]{1,126}\Z")


def secret_name_for(variable: str) -> str:
    """`DB_PASSWORD` -> `db-password`; raises UsageError when nothing usable is left."""
    name = _NOT_NAME.sub("-", variable).lower().strip("-")
    if not name:
        raise UsageError(f"variable {variable[:60]!r} leaves no secret name", hint="map it with --name-map VAR=NAME")
    if len(name) > 127:
        raise UsageError(f"variable {variable[:60]!r} is too long for a secret name (127 characters at most)")
    return name


def prefix(text: str | None) -> str | None:
    if not text:
        return None
    if not _PREFIX.match(text):
        raise UsageError(f"invalid prefix {text!r}", hint="a prefix is letters, digits and '-'")
    return text


def with_prefix(given_prefix: str | None, name: str) -> str:
    if not given_prefix:
        return name
    joined = given_prefix + ("" if given_prefix.endswith("-") else "-") + name
    if len(joined) > 127:
        raise UsageError(f"{joined[:60]}... is longer than 127 characters", hint="use a shorter --prefix")
    return joined


def name_overrides(texts: Sequence[str]) -> dict[str, str]:
    """`--name-map VAR=NAME` options."""
    out: dict[str, str] = {}
    for text in texts:
        var, sep, name = text.partition("=")
        if not sep or not var:
            raise UsageError(f"invalid --name-map {text!r}", hint="use --name-map VAR=secret-name")
        validate.secret_name(name)
        if var in out and out[var] != name:
            raise UsageError(f"--name-map gives {var} two names")
        out[var] = name
    return out


@dataclass(frozen=True)
class FileEntry:
    variable: str
    name: str  # the secret name it maps to
    value: str = field(repr=False)


def parse_file(text: str, source: str, fmt: str | None) -> list[tuple[str, str]]:
    """(variable, value) pairs of a dotenv or JSON file; the format from `fmt`, else guessed (a
    `.json` name, or text that starts with `{`, is JSON). A variable given twice is an error."""
    chosen = fmt or ("json" if source.lower().endswith(".json") or text.lstrip().startswith("{") else "dotenv")
    if chosen == "json":
        pairs = _json_pairs(text, source)
    else:
        pairs = [(var, value) for var, value, _ in parse_dotenv(text, source)]
    seen: set[str] = set()
    for var, value in pairs:
        if var in seen:
            raise UsageError(f"{source}: {var} is given twice", hint="keep one of them")
        seen.add(var)
        register(value)
    return pairs


class _Pairs(list[tuple[str, object]]):
    """A JSON object as its pairs, in order, repeats kept (so a repeated key is seen)."""


def _json_pairs(text: str, source: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(text, object_pairs_hook=_Pairs)
    except ValueError as exc:
        raise UsageError(f"{source} is not valid JSON: {str(exc).split(':')[0]}") from None
    if not isinstance(data, _Pairs):
        raise UsageError(f"{source} must hold one JSON object of names to string values", hint='{"DB_PASSWORD": "..."}')
    pairs: list[tuple[str, str]] = []
    for key, value in data:
        if not isinstance(value, str):
            raise UsageError(
                f"{source}: the value of {key[:60]!r} is not a string", hint="secret values are strings; quote it"
            )
        pairs.append((key, value))
    return pairs


def map_entries(
    pairs: Sequence[tuple[str, str]], given_prefix: str | None, overrides: Mapping[str, str], source: str
) -> list[FileEntry]:
    """Each variable with its secret name. Two variables mapping to one name (names are
    case-insensitive) is an error naming every collision; so is an override for no variable."""
    present = {var for var, _ in pairs}
    unused = [var for var in overrides if var not in present]
    if unused:
        raise UsageError(f"--name-map names {', '.join(unused)}, which {source} does not have")
    entries = []
    by_name: dict[str, list[str]] = {}
    for var, value in pairs:
        name = overrides[var] if var in overrides else with_prefix(given_prefix, secret_name_for(var))
        entries.append(FileEntry(var, name, value))
        by_name.setdefault(name.lower(), []).append(var)
    clashes = [f"{', '.join(vars_)} -> {name}" for name, vars_ in by_name.items() if len(vars_) > 1]
    if clashes:
        raise UsageError(
            "variables map to the same secret name: " + "; ".join(clashes),
            hint="give one of them its own name with --name-map VAR=NAME",
        )
    return entries
