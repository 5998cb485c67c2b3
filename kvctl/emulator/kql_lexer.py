"""Tokens of the KQL subset: identifiers (and Kusto's hyphenated operator names), string, number and
timespan literals, the raw-text literals datetime(...)/time(...)/guid(...), and punctuation."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from .kql_model import MAX_QUERY_CHARS, syntax_error

# Operator names Kusto spells with a hyphen; lexed as one word so `project-away` is not `project - away`.
HYPHENATED = frozenset(
    {
        "project-away",
        "project-rename",
        "project-keep",
        "project-reorder",
        "mv-expand",
        "mv-apply",
        "make-series",
        "parse-where",
        "parse-kv",
        "top-nested",
        "top-hitters",
    }
)
# `!has`, `!contains`, ... are single operators in Kusto.
NEGATED_WORDS = frozenset(
    {
        "has",
        "has_cs",
        "contains",
        "contains_cs",
        "startswith",
        "startswith_cs",
        "endswith",
        "endswith_cs",
        "in",
        "between",
        "hasprefix",
        "hassuffix",
        "has_any",
        "has_all",
    }
)
PUNCT = (
    "..",
    "==",
    "!=",
    "<>",
    "<=",
    ">=",
    "=~",
    "!~",
    "|",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ".",
    "=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    ":",
)
RAW_LITERALS = ("datetime", "time", "timespan", "guid")

TIMESPAN_UNITS: dict[str, float] = {
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "ms": 0.001,
    "milli": 0.001,
    "millis": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "microsecond": 1e-6,
    "microseconds": 1e-6,
    "tick": 1e-7,
    "ticks": 1e-7,
}
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}
_MAX_TIMESPAN_SECONDS = dt.timedelta.max.total_seconds() - 86400


@dataclass(frozen=True)
class Token:
    kind: str  # "ident", "string", "long", "real", "timespan", "datetime", "time", "guid", "op", "eof"
    text: str
    pos: int
    value: Any = None


def timespan_from(amount: float, unit: str, pos: int, text: str) -> dt.timedelta:
    seconds = amount * TIMESPAN_UNITS[unit]
    if not seconds <= _MAX_TIMESPAN_SECONDS:
        raise syntax_error(f"timespan literal '{text}' at position {pos} is out of range", pos, text)
    return dt.timedelta(seconds=seconds)


def tokenize(query: str) -> list[Token]:
    if len(query) > MAX_QUERY_CHARS:
        raise syntax_error(f"query is longer than {MAX_QUERY_CHARS} characters", 0)
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c in " \t\r\n\f\v\ufeff":
            i += 1
        elif query.startswith("//", i):
            end = query.find("\n", i)
            i = n if end < 0 else end
        elif c in "'\"" or (c in "@hH" and i + 1 < n and query[i + 1] in "'\""):
            tok, i = _string(query, i)
            tokens.append(tok)
        elif c.isdigit():
            tok, i = _number(query, i)
            tokens.append(tok)
        elif c.isalpha() or c == "_":
            tok, i = _word(query, i)
            tokens.append(tok)
        elif c == "!" and i + 1 < n and query[i + 1].isalpha():
            m = _WORD.match(query, i + 1)
            word = m.group(0) if m else ""
            end = i + 1 + len(word)
            if word.lower() == "in" and end < n and query[end] == "~":
                tokens.append(Token("op", "!in~", i))
                i = end + 1
            elif word in NEGATED_WORDS:
                tokens.append(Token("op", "!" + word, i))
                i = end
            else:
                raise syntax_error(f"unexpected '!{word}' at position {i}", i, "!" + word)
        else:
            for p in PUNCT:
                if query.startswith(p, i):
                    tokens.append(Token("op", p, i))
                    i += len(p)
                    break
            else:
                raise syntax_error(f"unexpected character {c!r} at position {i}", i, c)
    tokens.append(Token("eof", "", n))
    return tokens


def _string(query: str, start: int) -> tuple[Token, int]:
    i = start
    verbatim = query[i] == "@"
    if query[i] in "@hH":
        i += 1
    quote = query[i]
    i += 1
    out: list[str] = []
    n = len(query)
    while True:
        if i >= n or (query[i] == "\n" and not verbatim):
            raise syntax_error(f"unterminated string literal at position {start}", start, query[start : start + 20])
        c = query[i]
        if c == quote:
            if verbatim and i + 1 < n and query[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            i += 1
            break
        if c == "\\" and not verbatim:
            if i + 1 >= n:
                raise syntax_error(f"unterminated string literal at position {start}", start)
            e = query[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
            elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", query[i + 2 : i + 6]):
                out.append(chr(int(query[i + 2 : i + 6], 16)))
                i += 6
            else:
                raise syntax_error(f"invalid escape '\\{e}' in string at position {i}", i, "\\" + e)
        else:
            out.append(c)
            i += 1
    return Token("string", query[start:i], start, "".join(out)), i


def _number(query: str, start: int) -> tuple[Token, int]:
    m = _NUMBER.match(query, start)
    assert m is not None
    i = m.end()
    text = m.group(0)
    unit_match = _WORD.match(query, i)
    if unit_match:
        unit = unit_match.group(0)
        full = query[start : unit_match.end()]
        if unit.lower() not in TIMESPAN_UNITS:
            raise syntax_error(f"invalid number or timespan '{full}' at position {start}", start, full)
        return Token("timespan", full, start, timespan_from(float(text), unit.lower(), start, full)), unit_match.end()
    if m.group(1) or m.group(2):
        value = float(text)
        if value != value or value in (float("inf"), float("-inf")):
            raise syntax_error(f"real literal '{text}' at position {start} is out of range", start, text)
        return Token("real", text, start, value), i
    value_int = int(text)
    if value_int > 2**63 - 1:
        raise syntax_error(f"long literal '{text}' at position {start} is out of range", start, text)
    return Token("long", text, start, value_int), i


def _word(query: str, start: int) -> tuple[Token, int]:
    m = _WORD.match(query, start)
    assert m is not None
    word, i = m.group(0), m.end()
    n = len(query)
    if i < n and query[i] == "-":
        m2 = _WORD.match(query, i + 1)
        if m2 and f"{word}-{m2.group(0)}".lower() in HYPHENATED:
            return Token("ident", query[start : m2.end()], start), m2.end()
    if word == "in" and i < n and query[i] == "~":
        return Token("op", "in~", start), i + 1
    if word in RAW_LITERALS:
        j = i
        while j < n and query[j] in " \t\r\n":
            j += 1
        if j < n and query[j] == "(":
            end = query.find(")", j)
            if end < 0:
                raise syntax_error(f"unterminated {word}( literal at position {start}", start, word)
            raw = query[j + 1 : end].strip()
            kind = "time" if word == "timespan" else word
            return Token(kind, query[start : end + 1], start, raw), end + 1
    return Token("ident", word, start), i
