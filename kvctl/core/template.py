"""Templates for `inject`: text with `{{ REF }}` placeholders, each replaced by a secret's value.

Syntax: `{{`, optional spaces or tabs, a reference (no spaces, braces or quotes), optional
spaces, `}}`, all on one line. A double-quoted string in braces stands for itself, which is how
a literal `{{` is written: `{{ "{{" }}`. Backslashes mean nothing, so templates full of them
(Windows paths, regular expressions) need no care. A `{{` that opens no valid placeholder is an
error, never silently copied: a mistyped placeholder must not reach a config file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .backend import BackendFactory
from .bulk import fetch_values
from .clouds import Cloud
from .errors import UsageError
from .refs import SecretRef, parse_ref

OPEN, CLOSE = "{{", "}}"
_REF = re.compile(r'[^\s{}"]+')
_QUOTED = re.compile(r'"([^"\n]*)"')
ESCAPE_HINT = 'write {{ "{{" }} for a literal {{'


@dataclass(frozen=True)
class Placeholder:
    ref: str
    line: int


Segment = str | Placeholder


def parse_template(text: str, source: str = "template") -> list[Segment]:
    """Literal text and placeholders, in order (adjacent literal pieces joined)."""
    segments: list[Segment] = []
    literal: list[str] = []
    position, line = 0, 1
    while (start := text.find(OPEN, position)) != -1:
        literal.append(text[position:start])
        line += text.count("\n", position, start)
        cursor = _skip_spaces(text, start + len(OPEN))
        quoted = _QUOTED.match(text, cursor)
        reference = None if quoted else _REF.match(text, cursor)
        if quoted is None and reference is None:
            raise UsageError(f"{source}, line {line}: {OPEN} without a reference", hint=ESCAPE_HINT)
        body = quoted or reference
        assert body is not None
        cursor = _skip_spaces(text, body.end())
        if not text.startswith(CLOSE, cursor):
            raise _unclosed(text, start, source, line)
        if quoted is not None:
            literal.append(quoted.group(1))
        else:
            if "".join(literal):
                segments.append("".join(literal))
            literal = []
            segments.append(Placeholder(body.group(0), line))
        position = cursor + len(CLOSE)
    literal.append(text[position:])
    if "".join(literal):
        segments.append("".join(literal))
    return segments


def _unclosed(text: str, start: int, source: str, line: int) -> UsageError:
    """`{{ db password }}` is closed, but not around one reference: say that, not "not closed"."""
    end_of_line = text.find("\n", start)
    rest = text[start : len(text) if end_of_line == -1 else end_of_line]
    close = rest.find(CLOSE)
    if close != -1:
        shown = rest[: close + len(CLOSE)]
        return UsageError(
            f"{source}, line {line}: {shown!r} is not one reference",
            hint="a reference has no spaces, braces or quotes: NAME, akv://VAULT/NAME or a secret URL",
        )
    return UsageError(f"{source}, line {line}: {OPEN} is not closed by {CLOSE} on its line", hint=ESCAPE_HINT)


def _skip_spaces(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t":
        index += 1
    return index


def escape_literal(text: str) -> str:
    """Text that a template renders as exactly `text`, wherever it is placed: every `{` that
    another `{` follows (or that ends the text, as a placeholder may follow) is quoted."""
    out = []
    for index, char in enumerate(text):
        if char == "{" and (index + 1 == len(text) or text[index + 1] == "{"):
            out.append('{{ "{" }}')
        else:
            out.append(char)
    return "".join(out)


def render(segments: Sequence[Segment], values: Mapping[str, str]) -> str:
    return "".join(s if isinstance(s, str) else values[s.ref] for s in segments)


@dataclass(frozen=True)
class Injected:
    text: str
    placeholders: int
    secrets: int


def inject(
    factory: BackendFactory,
    text: str,
    source: str,
    default_vault: str | None,
    cloud: Cloud,
    *,
    concurrency: int,
) -> Injected:
    """Resolve every placeholder (all or nothing) and return the rendered text. Every invalid
    reference is reported at once, before any request."""
    segments = parse_template(text, source)
    placeholders = [s for s in segments if isinstance(s, Placeholder)]
    refs: dict[str, SecretRef] = {}
    problems = []
    for placeholder in placeholders:
        if placeholder.ref in refs:
            continue
        try:
            refs[placeholder.ref] = parse_ref(placeholder.ref, default_vault, cloud)
        except UsageError as exc:
            problems.append((placeholder.line, exc))
    if problems:
        listed = "; ".join(f"line {line}: {exc.message}" for line, exc in problems)
        raise UsageError(f"{source}: {listed}", hint=problems[0][1].hint)
    keys = list(refs)
    secrets = fetch_values(factory, [refs[k] for k in keys], concurrency=concurrency) if keys else []
    values = {key: secret.value or "" for key, secret in zip(keys, secrets, strict=True)}
    distinct = len({refs[k].key for k in keys})
    return Injected(render(segments, values), len(placeholders), distinct)
