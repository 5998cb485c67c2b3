"""String functions of the KQL subset: strcat, substring, split, extract, replace_string,
format_datetime."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from . import kql_ast as ast
from .kql_eval import Compiled, Row, regex_of, stringish
from .kql_funcs_base import Builder, arity, string_fn, want
from .kql_model import MAX_STRING_CHARS, check_size, semantic_error
from .kql_values import to_string


def _strcat(args: list[Compiled], call: ast.Call) -> Compiled:
    arity(call, args, 1, 64)
    fns = [a.fn for a in args]

    def apply(row: Row) -> str:
        parts = [to_string(f(row)) for f in fns]
        check_size(sum(map(len, parts)), MAX_STRING_CHARS, "strcat", call.pos)  # before joining
        return "".join(parts)

    return Compiled("string", apply, all(a.const for a in args))


def _substring(args: list[Compiled], call: ast.Call) -> Compiled:
    arity(call, args, 2, 3)
    text = stringish(args[0], f"argument 1 of 'substring' at position {call.pos}", call.pos)
    for i, a in enumerate(args[1:], 1):
        want(call, a, i, "long", "int")
    start = args[1].fn
    length = args[2].fn if len(args) == 3 else None

    def apply(row: Row) -> str:
        s, b = text(row), start(row)
        if b is None:
            return ""
        b = max(b, 0)
        if length is None:
            return s[b:]
        n = length(row)
        return "" if n is None or n < 0 else s[b : b + n]

    return Compiled("string", apply)


def _split(args: list[Compiled], call: ast.Call) -> Compiled:
    arity(call, args, 2, 3)
    text = stringish(args[0], f"argument 1 of 'split' at position {call.pos}", call.pos)
    want(call, args[1], 1, "string")
    delim = args[1].fn
    index = None
    if len(args) == 3:
        want(call, args[2], 2, "long", "int")
        index = args[2].fn

    def apply(row: Row) -> Any:
        d = delim(row)
        parts = text(row).split(d) if d else [text(row)]
        if index is None:
            return parts
        i = index(row)
        return [parts[i]] if isinstance(i, int) and -len(parts) <= i < len(parts) else []

    return Compiled("dynamic", apply)


def _extract(args: list[Compiled], call: ast.Call) -> Compiled:
    arity(call, args, 3)
    pattern = regex_of(args[0], call.pos)
    want(call, args[1], 1, "long", "int")
    if not args[1].const:
        raise semantic_error(f"the capture group of 'extract' at position {call.pos} must be constant", call.pos)
    group = args[1].fn({})
    if group is None or not 0 <= group <= pattern.groups:
        raise semantic_error(
            f"'extract' at position {call.pos} asks for group {group} of a pattern with {pattern.groups}",
            call.pos,
            "extract",
        )
    text = stringish(args[2], f"argument 3 of 'extract' at position {call.pos}", call.pos)

    def apply(row: Row) -> str:
        m = pattern.search(text(row))
        return (m.group(group) or "") if m else ""

    return Compiled("string", apply)


def _replace_string(args: list[Compiled], call: ast.Call) -> Compiled:
    arity(call, args, 3)
    text, lookup, rewrite = (
        stringish(a, f"argument {i + 1} of 'replace_string' at position {call.pos}", call.pos)
        for i, a in enumerate(args)
    )

    def apply(row: Row) -> str:
        old, source = lookup(row), text(row)
        if not old:
            return source
        new = rewrite(row)
        grows = source.count(old) * (len(new) - len(old))
        check_size(len(source) + grows, MAX_STRING_CHARS, "replace_string", call.pos)  # before replacing
        return source.replace(old, new)

    return Compiled("string", apply, all(a.const for a in args))


_FORMAT_PART = re.compile(r"yyyy|yy|MM|M|dd|d|HH|H|hh|h|mm|m|ss|s|f{1,7}|F{1,7}|tt|[ /\-:,._\[\]]")


def _format_datetime(args: list[Compiled], call: ast.Call) -> Compiled:
    arity(call, args, 2)
    want(call, args[0], 0, "datetime")
    want(call, args[1], 1, "string")
    if not args[1].const:
        raise semantic_error(f"the format of 'format_datetime' at position {call.pos} must be constant", call.pos)
    fmt = args[1].fn({})
    parts: list[str] = []
    at = 0
    while at < len(fmt):
        m = _FORMAT_PART.match(fmt, at)
        if not m:
            raise semantic_error(
                f"'format_datetime' at position {call.pos}: unsupported format character {fmt[at]!r}",
                call.pos,
                fmt[at],
            )
        parts.append(m.group(0))
        at = m.end()
    value = args[0].fn

    def apply(row: Row) -> str:
        v = value(row)
        return "" if v is None else "".join(_format_part(v, p) for p in parts)

    return Compiled("string", apply, args[0].const)


def _format_part(v: dt.datetime, part: str) -> str:
    if part[0] in "fF":
        digits = f"{v.microsecond:06d}0"[: len(part)]
        return digits.rstrip("0") if part[0] == "F" else digits
    hour12 = v.hour % 12 or 12
    table = {
        "yyyy": f"{v.year:04d}",
        "yy": f"{v.year % 100:02d}",
        "MM": f"{v.month:02d}",
        "M": str(v.month),
        "dd": f"{v.day:02d}",
        "d": str(v.day),
        "HH": f"{v.hour:02d}",
        "H": str(v.hour),
        "hh": f"{hour12:02d}",
        "h": str(hour12),
        "mm": f"{v.minute:02d}",
        "m": str(v.minute),
        "ss": f"{v.second:02d}",
        "s": str(v.second),
        "tt": "AM" if v.hour < 12 else "PM",
    }
    return table.get(part, part)


TEXT_FUNCTIONS: dict[str, Builder] = {
    "extract": _extract,
    "replace_string": _replace_string,
    "format_datetime": _format_datetime,
    "tolower": string_fn("string", str.lower),
    "toupper": string_fn("string", str.upper),
    "strlen": string_fn("long", len),
    "strcat": _strcat,
    "substring": _substring,
    "split": _split,
}
