"""Binary scalar operators: arithmetic, comparisons, string operators, `in` and `between`."""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from . import kql_ast as ast
from .kql_eval import Compiled, Row, Scope, compile_expr, dynamic_pair, regex_of, stringish
from .kql_model import NUMERIC, semantic_error
from .kql_values import to_string, wrap64

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TERM = re.compile(r"[0-9A-Za-z]")
# (operator, left, right) -> result type for datetime and timespan arithmetic ("num": any number)
_TIME_ARITHMETIC = {
    ("-", "datetime", "datetime"): "timespan",
    ("+", "datetime", "timespan"): "datetime",
    ("-", "datetime", "timespan"): "datetime",
    ("+", "timespan", "datetime"): "datetime",
    ("+", "timespan", "timespan"): "timespan",
    ("-", "timespan", "timespan"): "timespan",
    ("%", "timespan", "timespan"): "timespan",
    ("/", "timespan", "timespan"): "real",
    ("*", "timespan", "num"): "timespan",
    ("/", "timespan", "num"): "timespan",
    ("*", "num", "timespan"): "timespan",
}


def compile_binary(expr: ast.Binary, scope: Scope) -> Compiled:
    left = compile_expr(expr.left, scope)
    right = compile_expr(expr.right, scope)
    op = expr.op
    if op in ("+", "-", "*", "/", "%"):
        return _arithmetic(op, left, right, expr.pos)
    if op in ("==", "!=", "<", "<=", ">", ">="):
        return _comparison(op, left, right, expr.pos)
    if op in ("=~", "!~"):
        a = stringish(left, f"the left side of '{op}'", expr.pos, op)
        b = stringish(right, f"the right side of '{op}'", expr.pos, op)
        want = op == "=~"
        return Compiled("bool", lambda row: (a(row).lower() == b(row).lower()) == want)
    if op == "matches regex":
        text = stringish(left, "the left side of 'matches regex'", expr.pos, "matches")
        pattern = regex_of(right, expr.right.pos)
        return Compiled("bool", lambda row: pattern.search(text(row)) is not None)
    return _string_op(op, left, right, expr.pos)


def _arithmetic(op: str, left: Compiled, right: Compiled, pos: int) -> Compiled:
    lt, rt = left.type, right.type
    kind = lambda t: "num" if t in NUMERIC else t  # noqa: E731
    result: str | None = None
    if lt in NUMERIC and rt in NUMERIC:
        result = "real" if "real" in (lt, rt) else "int" if lt == rt == "int" else "long"
    else:
        result = _TIME_ARITHMETIC.get((op, kind(lt), kind(rt)))
    if result is None:
        raise semantic_error(
            f"operator '{op}' at position {pos} cannot combine a {lt} and a {rt}"
            + (" (use strcat() to join strings)" if "string" in (lt, rt) else ""),
            pos,
            op,
        )
    integer = result in ("long", "int")
    a, b = left.fn, right.fn

    def apply(row: Row) -> Any:
        x, y = a(row), b(row)
        if x is None or y is None:
            return None
        try:
            value = _calculate(op, x, y, integer)
        except (OverflowError, ValueError, ZeroDivisionError):
            return None
        return wrap64(value) if integer and value is not None else value

    return Compiled(result, apply, left.const and right.const)


def _calculate(op: str, x: Any, y: Any, integer: bool) -> Any:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        if integer:
            return None if y == 0 else _int_div(x, y)
        if isinstance(x, dt.timedelta) or isinstance(y, dt.timedelta):
            return None if not y else x / y
        return x / y if y else (float("nan") if not x else float("inf") if x > 0 else float("-inf"))
    if not y:
        return None
    if integer:
        return x - y * _int_div(x, y)  # the sign of the dividend, as in Kusto (C#)
    return math.fmod(x, y) if isinstance(x, float | int) else x % y


def _int_div(x: int, y: int) -> int:
    # Kusto's integer division truncates toward zero (Python's // floors).
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def comparison_kind(op: str, lt: str, rt: str, pos: int) -> str:
    if "dynamic" in (lt, rt):
        return "dynamic"
    if lt in NUMERIC and rt in NUMERIC:
        return "plain"
    if lt == rt and lt in ("string", "datetime", "timespan"):
        return "plain"
    if lt == rt == "bool" and op in ("==", "!="):
        return "plain"
    if {lt, rt} <= {"guid", "string"} and op in ("==", "!="):
        return "guid"
    raise semantic_error(
        f"cannot compare a {lt} with a {rt} (operator '{op}' at position {pos});"
        " convert one side explicitly (tostring(), todatetime(), tolong(), ...)",
        pos,
        op,
    )


def _comparison(op: str, left: Compiled, right: Compiled, pos: int) -> Compiled:
    kind = comparison_kind(op, left.type, right.type, pos)
    a, b = left.fn, right.fn
    if kind == "guid":
        a0, b0 = a, b

        def a(row: Row) -> Any:
            v = a0(row)
            return v.lower() if isinstance(v, str) and v else None

        def b(row: Row) -> Any:
            v = b0(row)
            return v.lower() if isinstance(v, str) and v else None

    def pair(row: Row) -> tuple[Any, Any] | None:
        x, y = a(row), b(row)
        if kind == "dynamic":
            return dynamic_pair(x, y)
        return None if x is None or y is None else (x, y)

    if op in ("==", "!="):
        equal = op == "=="

        def eq(row: Row) -> bool | None:
            p = pair(row)
            if p is None:
                x, y = a(row), b(row)
                if x is None and y is None:
                    return None
                if x is None or y is None:
                    return not equal
                return None  # dynamic values of kinds that cannot be compared
            return (p[0] == p[1]) == equal

        return Compiled("bool", eq)
    order = _ORDER[op]

    def ordered(row: Row) -> bool | None:
        p = pair(row)
        if p is None:
            return None
        try:
            return bool(order(p[0], p[1]))
        except TypeError:
            return None

    return Compiled("bool", ordered)


def _string_op(op: str, left: Compiled, right: Compiled, pos: int) -> Compiled:
    negated = op.startswith("!")
    base = op.lstrip("!")
    text = stringish(left, f"the left side of '{op}'", pos, op)
    needle = stringish(right, f"the right side of '{op}'", pos, op)
    case_sensitive = base.endswith("_cs")
    base = base.removesuffix("_cs")
    test = _STRING_TESTS[base]

    def apply(row: Row) -> bool:
        h, n = text(row), needle(row)
        if not case_sensitive:
            h, n = h.lower(), n.lower()
        return test(h, n) != negated

    return Compiled("bool", apply)


def has_term(haystack: str, needle: str) -> bool:
    """Kusto `has`: the needle occurs as whole terms (runs of ASCII letters and digits)."""
    return _occurs_bounded(haystack, needle, at_start=True, at_end=True)


def _has_prefix(haystack: str, needle: str) -> bool:
    return _occurs_bounded(haystack, needle, at_start=True, at_end=False)


def _has_suffix(haystack: str, needle: str) -> bool:
    return _occurs_bounded(haystack, needle, at_start=False, at_end=True)


def _occurs_bounded(haystack: str, needle: str, *, at_start: bool, at_end: bool) -> bool:
    """Does `needle` occur where a term starts (`at_start`) and/or ends (`at_end`)? A side where the
    needle itself begins or ends with a non-term character needs no boundary."""
    if not needle:
        return True
    start = 0
    while (i := haystack.find(needle, start)) >= 0:
        end = i + len(needle)
        before_ok = not at_start or i == 0 or not _TERM.match(haystack[i - 1]) or not _TERM.match(needle[0])
        after_ok = not at_end or end == len(haystack) or not _TERM.match(haystack[end]) or not _TERM.match(needle[-1])
        if before_ok and after_ok:
            return True
        start = i + 1
    return False


_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "has": has_term,
    "contains": lambda h, n: n in h,
    "startswith": lambda h, n: h.startswith(n),
    "endswith": lambda h, n: h.endswith(n),
    "hasprefix": _has_prefix,
    "hassuffix": _has_suffix,
}


def compile_in(expr: ast.InList, scope: Scope) -> Compiled:
    left = compile_expr(expr.left, scope)
    items = [compile_expr(item, scope) for item in expr.items]
    if expr.op in ("has_any", "has_all"):
        return _has_any_all(expr, left, items)
    insensitive = expr.op.endswith("~")
    negated = expr.op.startswith("!")
    if insensitive:
        probe = stringish(left, f"the left side of '{expr.op}'", expr.pos, expr.op)
        texts = [_texts_of(i, expr) for i in items]
        if all(i.const for i in items):
            wanted = {t.lower() for f in texts for t in f({})}
            return Compiled("bool", lambda row: (probe(row).lower() in wanted) != negated)
        return Compiled(
            "bool",
            lambda row: any(probe(row).lower() == t.lower() for f in texts for t in f(row)) != negated,
        )
    tests = []
    for item in items:
        if item.type == "dynamic" and left.type != "dynamic":
            tests.append(_dynamic_member_test(left, item))
        else:
            tests.append(_comparison("==", left, item, expr.pos).fn)
    value = left.fn

    def apply(row: Row) -> bool | None:
        if value(row) is None:
            return negated  # as with == and != : null is not in a list of values, and is !in it
        found = any(t(row) is True for t in tests)
        return found != negated

    return Compiled("bool", apply)


def _has_any_all(expr: ast.InList, left: Compiled, items: list[Compiled]) -> Compiled:
    text = stringish(left, f"the left side of '{expr.op}'", expr.pos, expr.op)
    needles = [_texts_of(i, expr) for i in items]
    pick = any if expr.op == "has_any" else all

    def apply(row: Row) -> bool:
        haystack = text(row).lower()
        return pick(has_term(haystack, n.lower()) for f in needles for n in f(row))

    return Compiled("bool", apply)


def _texts_of(item: Compiled, expr: ast.InList) -> Callable[[Row], list[str]]:
    # the values an item of `in~` stands for: a dynamic array is expanded, as Kusto does
    if item.type == "dynamic":
        fn = item.fn
        return lambda row: [to_string(v) for v in value] if isinstance(value := fn(row), list) else [to_string(value)]
    text = stringish(item, f"a value of '{expr.op}'", expr.pos, expr.op)
    return lambda row: [text(row)]


def _dynamic_member_test(left: Compiled, item: Compiled) -> Callable[[Row], bool | None]:
    # `x in (dynamic([...]))`: Kusto expands the array into the list of values.
    a, b = left.fn, item.fn

    def test(row: Row) -> bool | None:
        x, values = a(row), b(row)
        candidates = values if isinstance(values, list) else [values]
        for v in candidates:
            p = dynamic_pair(x, v)
            if p is not None and p[0] == p[1]:
                return True
        return False

    return test


def compile_between(expr: ast.Between, scope: Scope) -> Compiled:
    left = compile_expr(expr.left, scope)
    low = compile_expr(expr.low, scope)
    high = compile_expr(expr.high, scope)
    if left.type not in (*NUMERIC, "datetime", "timespan", "dynamic"):
        raise semantic_error(
            f"'between' at position {expr.pos} needs a number, datetime or timespan, not a {left.type}", expr.pos
        )
    if left.type == "datetime" and low.type == "datetime" and high.type == "timespan":
        # `T between (start .. 1d)`: the upper bound is start plus the span.
        lo_fn, span = low.fn, high.fn

        def upper(row: Row) -> Any:
            s, d = lo_fn(row), span(row)
            return None if s is None or d is None else s + d

        high = Compiled("datetime", upper)
    ge = _comparison(">=", left, low, expr.pos).fn
    le = _comparison("<=", left, high, expr.pos).fn

    def apply(row: Row) -> bool | None:
        a, b = ge(row), le(row)
        if a is None or b is None:
            return None
        return (a and b) != expr.negated

    return Compiled("bool", apply)
