"""Secrets as environment variables: names, and values written as dotenv or shell lines that
the programs meant to read them read back to exactly the same bytes.

The dotenv dialect (`portable`, the default) is the one subset that python-dotenv, npm `dotenv`,
Docker Compose and `set -a; . FILE` in POSIX shells all read the same way, with nothing in it
that any of them executes or expands:

- `NAME='value'` when the value has no `'`, no carriage return, no `\\\\` and does not end in
  `\\` (python-dotenv turns `\\\\` into `\\` inside single quotes, and a final `\\` would escape
  the closing quote for python-dotenv and Compose);
- else `NAME="value"` when the value has none of `\\ " $` and the backtick (a shell would
  expand or unescape them, npm dotenv keeps the backslash of `\\"`);
- anything else is refused: a carriage return (python-dotenv and npm dotenv read it as a
  newline), `${...}` (python-dotenv expands it in any quoting), and `'` together with one of
  `\\ " $` or the backtick.

Newlines stay raw inside the quotes: every consumer reads a quoted value across lines.
`--dotenv-dialect` picks a wider encoding that one consumer reads exactly (see DIALECTS).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import UsageError

_NOT_ENV = re.compile(r"[^A-Za-z0-9_]")
_SHELL_SAFE = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+\Z")
# What python-dotenv's interpolation replaces (its default): `${NAME}` and `${NAME:-default}`.
_PY_INTERPOLATION = re.compile(r"\$\{[^}:]*(?::-[^}]*)?\}")

PORTABLE = "portable"
DIALECTS: dict[str, str] = {
    PORTABLE: "python-dotenv, npm dotenv, Docker Compose and `set -a; . FILE` (bash, dash) alike",
    "python-dotenv": "python-dotenv only (double quotes with backslash escapes)",
    "node": "npm dotenv only (single, backtick or double quotes)",
    "compose": "Docker Compose only (double quotes with escapes, $$ for $)",
    "shell": "POSIX shells only (`set -a; . FILE`; '\\'' for a quote)",
}
CONSUMERS = {PORTABLE: "python-dotenv, npm dotenv, Docker Compose and sh", "node": "npm dotenv"}


def env_name(secret_name: str) -> str:
    """`db-password` -> `DB_PASSWORD`; a leading digit gets a `_` so the name is valid."""
    name = _NOT_ENV.sub("_", secret_name).upper()
    return f"_{name}" if name[:1].isdigit() else name


def shell_quote(value: str) -> str:
    if value and _SHELL_SAFE.match(value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def shell_line(name: str, value: str) -> str:
    return f"export {name}={shell_quote(value)}\n"


class Unwritable(ValueError):
    """No quoting in the chosen dialect reads back as this value; the message says why."""


# A C string ends at NUL: shells drop it (bash warns, dash truncates) and no process environment
# can hold it, so a line with one never reads back as the value in any format but JSON.
NUL_REFUSAL = "it holds a NUL byte, which shells drop and no process environment can hold"


def nul_refusal(value: str) -> str | None:
    return NUL_REFUSAL if "\0" in value else None


def _single_ok(value: str) -> bool:
    return "'" not in value and "\r" not in value and "\\\\" not in value and not value.endswith("\\")


def _portable(value: str) -> str:
    if "\r" in value:
        raise Unwritable("it holds a carriage return, which python-dotenv and npm dotenv read as a newline")
    if _PY_INTERPOLATION.search(value):
        raise Unwritable("it holds ${...}, which python-dotenv expands whatever the quoting")
    if _single_ok(value):
        return f"'{value}'"
    specials = [ch for ch in ("\\", '"', "$", "`") if ch in value]
    if not specials:
        return f'"{value}"'
    if "'" not in value:
        raise Unwritable("it holds \\\\ or ends in \\, read differently by python-dotenv or Compose in single quotes")
    shown = " ".join("backtick" if ch == "`" else ch for ch in specials)
    raise Unwritable(f"it holds ' together with {shown}: no quoting keeps both for every consumer")


def _python_dotenv(value: str) -> str:
    if _PY_INTERPOLATION.search(value):
        raise Unwritable("it holds ${...}, which python-dotenv expands whatever the quoting")
    if _single_ok(value):
        return f"'{value}'"
    # python-dotenv reads files with universal newlines, so a carriage return must be escaped.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")
    return f'"{escaped}"'


def _node(value: str) -> str:
    # npm dotenv turns every raw CR into LF, keeps backslashes except \n and \r in double
    # quotes, and a closing quote after a backslash may not end the value.
    if value.endswith("\\"):
        raise Unwritable("it ends in \\, which npm dotenv may read as an escaped closing quote")
    if "\r" not in value:
        for quote in ("'", "`"):
            if quote not in value:
                return f"{quote}{value}{quote}"
    if '"' not in value and not re.search(r"\\[nr]", value):
        return '"' + value.replace("\r", "\\r") + '"'
    raise Unwritable("npm dotenv has no quoting for this mix of quotes, backslashes and carriage returns")


def _compose(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
    return '"' + escaped.replace("$", "$$") + '"'


_ENCODERS: dict[str, Callable[[str], str]] = {
    PORTABLE: _portable,
    "python-dotenv": _python_dotenv,
    "node": _node,
    "compose": _compose,
    "shell": lambda value: "'" + value.replace("'", "'\\''") + "'",
}


def dotenv_quote(value: str, dialect: str = PORTABLE) -> str:
    """The value quoted for the dialect; `Unwritable` when no quoting reads back exactly."""
    if "\0" in value:
        raise Unwritable(NUL_REFUSAL)
    return _ENCODERS[dialect](value)


def dotenv_line(name: str, value: str, dialect: str = PORTABLE) -> str:
    try:
        return f"{name}={dotenv_quote(value, dialect)}\n"
    except Unwritable as exc:
        raise UsageError(
            f"the value for ${name} cannot be written as dotenv: {exc}",
            hint="use -o env or -o json for this secret",
        ) from None


_UNESCAPES = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t", "$": "$", "'": "'"}


def parse_dotenv(text: str, source: str = "env file") -> list[tuple[str, str, int]]:
    """`NAME=value` lines (optionally `export NAME=value`), `#` comments, quoted values that may
    span lines. Returns (name, value, line number). Reads what `dotenv_line` (any dialect but
    compose) and `shell_line` write: adjacent quoted parts and `\\'` join as in a shell."""
    entries: list[tuple[str, str, int]] = []
    i = 0
    line_no = 1
    n = len(text)
    while i < n:
        start_line = line_no
        # skip blank space and comments
        if text[i] in " \t\r":
            i += 1
            continue
        if text[i] == "\n":
            i += 1
            line_no += 1
            continue
        if text[i] == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        end = text.find("\n", i)
        line = text[i : end if end != -1 else n]
        match = re.match(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*", line)
        if not match:
            raise UsageError(
                f"{source}, line {start_line}: expected NAME=VALUE", hint="names are letters, digits and _"
            )
        name = match.group(1)
        i += match.end()
        if i < n and text[i] in ("'", '"'):
            chars: list[str] = []
            while i < n and (text[i] in ("'", '"') or text.startswith("\\'", i)):
                if text[i] == "\\":  # `'\''`: a shell's way to put a quote inside single quotes
                    chars.append("'")
                    i += 2
                    continue
                i, line_no = _quoted(text, i, chars, line_no, name, f"{source}, line {start_line}")
            rest_end = text.find("\n", i)
            rest = text[i : rest_end if rest_end != -1 else n].strip()
            if rest and not rest.startswith("#"):
                raise UsageError(f"{source}, line {start_line}: unexpected text after the quoted value of {name}")
            i = rest_end if rest_end != -1 else n
            value = "".join(chars)
        else:
            stop = text.find("\n", i)
            raw = text[i : stop if stop != -1 else n]
            value = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
            i = stop if stop != -1 else n
        entries.append((name, value, start_line))
    return entries


def _quoted(text: str, i: int, chars: list[str], line_no: int, name: str, where: str) -> tuple[int, int]:
    """One quoted part starting at text[i]; appends its value and returns the index after it."""
    quote = text[i]
    i += 1
    n = len(text)
    while True:
        if i >= n:
            raise UsageError(f"{where}: unterminated {quote}-quoted value for {name}")
        ch = text[i]
        if ch == quote:
            return i + 1, line_no
        if ch == "\\" and quote == '"' and i + 1 < n and text[i + 1] in _UNESCAPES:
            chars.append(_UNESCAPES[text[i + 1]])
            i += 2
            continue
        if ch == "\n":
            line_no += 1
        chars.append(ch)
        i += 1
