"""Secrets as environment variables: names, and values written as dotenv or shell lines that
read back to exactly the same bytes."""

from __future__ import annotations

import re

from .errors import UsageError

_NOT_ENV = re.compile(r"[^A-Za-z0-9_]")
_SHELL_SAFE = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+\Z")


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


_DOUBLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "$": "\\$"}


def dotenv_quote(value: str) -> str:
    """Single quotes (literal) when possible, else double quotes with backslash escapes."""
    if "'" not in value:
        return f"'{value}'"
    return '"' + "".join(_DOUBLE_ESCAPES.get(ch, ch) for ch in value) + '"'


def dotenv_line(name: str, value: str) -> str:
    return f"{name}={dotenv_quote(value)}\n"


_UNESCAPES = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t", "$": "$", "'": "'"}


def parse_dotenv(text: str, source: str = "env file") -> list[tuple[str, str, int]]:
    """`NAME=value` lines (optionally `export NAME=value`), `#` comments, quoted values that may
    span lines. Returns (name, value, line number). The inverse of `dotenv_line`."""
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
            quote = text[i]
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise UsageError(f"{source}, line {start_line}: unterminated {quote}-quoted value for {name}")
                ch = text[i]
                if ch == quote:
                    i += 1
                    break
                if ch == "\\" and quote == '"' and i + 1 < n and text[i + 1] in _UNESCAPES:
                    chars.append(_UNESCAPES[text[i + 1]])
                    i += 2
                    continue
                if ch == "\n":
                    line_no += 1
                chars.append(ch)
                i += 1
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
