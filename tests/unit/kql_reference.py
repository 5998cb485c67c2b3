"""A reference reader of KQL's lexical layer, written from the Kusto documentation (string literals:
"..." and '...' with backslash escapes, @"..." verbatim with doubled quotes; // comments), used to
check that the queries kvctl builds read back as intended: each value one string token."""

from __future__ import annotations

_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}


def tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) for each token: kind is "string", "word", "op" (comments are dropped)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif c in "\"'":
            value, i = _quoted(text, i)
            out.append(("string", value))
        elif c == "@" and i + 1 < len(text) and text[i + 1] in "\"'":
            value, i = _verbatim(text, i + 1)
            out.append(("string", value))
        elif c.isalnum() or c == "_":
            start = i
            while i < len(text) and (text[i].isalnum() or text[i] in "_."):
                i += 1
            out.append(("word", text[start:i]))
        else:
            two = text[i : i + 2]
            if two in ("==", "=~", "!=", ">=", "<="):
                out.append(("op", two))
                i += 2
            else:
                out.append(("op", c))
                i += 1
    return out


def _quoted(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    i += 1
    value = []
    while True:
        if i >= len(text):
            raise ValueError("unterminated string literal")
        c = text[i]
        if c in "\r\n":
            raise ValueError("a newline inside a string literal")
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in _ESCAPES:
                raise ValueError("unknown escape")
            value.append(_ESCAPES[text[i + 1]])
            i += 2
        elif c == quote:
            return "".join(value), i + 1
        else:
            value.append(c)
            i += 1


def _verbatim(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    i += 1
    value = []
    while True:
        if i >= len(text):
            raise ValueError("unterminated verbatim literal")
        if text[i] == quote:
            if text[i + 1 : i + 2] == quote:
                value.append(quote)
                i += 2
                continue
            return "".join(value), i + 1
        value.append(text[i])
        i += 1
