"""Scalar expressions compiled against a schema: each expression gets its Kusto type before any row
is read (so `'a' > 3` is a SemanticError even on an empty table) and a function of one row.

Null semantics follow Kusto: strings are never null (a missing string is ""); `==` of null and a
value is false, `!=` true, both null gives null; ordering comparisons with null give null; `and`/`or`
are three-valued; `where` keeps only rows whose predicate is true.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import kql_ast as ast
from .kql_model import NUMERIC, semantic_error
from .kql_values import parse_datetime, to_string, wrap64

Row = dict[str, Any]


@dataclass(frozen=True)
class Compiled:
    type: str
    fn: Callable[[Row], Any]
    const: bool = False


@dataclass
class Scope:
    columns: dict[str, str]  # name -> type, in order
    lets: dict[str, Compiled] = field(default_factory=dict)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def constant(value: Any, type_: str) -> Compiled:
    return Compiled(type_, lambda _row: value, True)


def compile_expr(expr: ast.Expr, scope: Scope) -> Compiled:
    from .kql_funcs import compile_call  # functions compile their arguments through this module

    if isinstance(expr, ast.Literal):
        return constant(expr.value, expr.type)
    if isinstance(expr, ast.Name):
        return _name(expr, scope)
    if isinstance(expr, ast.Member | ast.Index):
        return _member(expr, scope)
    if isinstance(expr, ast.Call):
        return compile_call(expr, scope)
    if isinstance(expr, ast.Unary):
        return _unary(expr, scope)
    if isinstance(expr, ast.Binary):
        if expr.op in ("and", "or"):
            return _logical(expr, scope)
        from .kql_ops_scalar import compile_binary

        return compile_binary(expr, scope)
    if isinstance(expr, ast.InList):
        from .kql_ops_scalar import compile_in

        return compile_in(expr, scope)
    if isinstance(expr, ast.Between):
        from .kql_ops_scalar import compile_between

        return compile_between(expr, scope)
    if isinstance(expr, ast.Star):
        raise semantic_error(f"'*' at position {expr.pos} is only valid inside arg_max/arg_min", expr.pos, "*")
    raise semantic_error(f"unsupported expression at position {expr.pos}", expr.pos)


def _name(expr: ast.Name, scope: Scope) -> Compiled:
    name = expr.name
    if name in scope.columns:
        return Compiled(scope.columns[name], lambda row: row.get(name))
    if name in scope.lets:
        return scope.lets[name]
    raise semantic_error(
        f"Failed to resolve scalar expression named '{name}' at position {expr.pos}"
        " (no such column; column names are case-sensitive)",
        expr.pos,
        name,
    )


def _member(expr: ast.Member | ast.Index, scope: Scope) -> Compiled:
    base = compile_expr(expr.base, scope)
    if base.type != "dynamic":
        raise semantic_error(
            f"'{'.' if isinstance(expr, ast.Member) else '['}' at position {expr.pos} applies to dynamic values only,"
            f" not to a {base.type}",
            expr.pos,
        )
    get = base.fn
    if isinstance(expr, ast.Member):
        key = expr.key

        def member(row: Row) -> Any:
            value = get(row)
            return value.get(key) if isinstance(value, dict) else None

        return Compiled("dynamic", member)
    index = compile_expr(expr.index, scope)
    if index.type not in ("long", "int", "string"):
        raise semantic_error(f"an index at position {expr.pos} must be a long or a string", expr.pos)
    at = index.fn

    def item(row: Row) -> Any:
        value, i = get(row), at(row)
        if isinstance(value, dict) and isinstance(i, str):
            return value.get(i)
        if isinstance(value, list) and isinstance(i, int) and -len(value) <= i < len(value):
            return value[i]
        return None

    return Compiled("dynamic", item)


def _unary(expr: ast.Unary, scope: Scope) -> Compiled:
    operand = compile_expr(expr.operand, scope)
    if operand.type not in (*NUMERIC, "timespan"):
        raise semantic_error(
            f"unary '{expr.op}' at position {expr.pos} needs a number or timespan, not a {operand.type}",
            expr.pos,
            expr.op,
        )
    fn = operand.fn
    if expr.op == "+":
        return operand
    if operand.type in ("long", "int"):
        return Compiled(operand.type, lambda row: None if (v := fn(row)) is None else wrap64(-v), operand.const)
    try_negate = _negate_span if operand.type == "timespan" else _negate
    return Compiled(operand.type, lambda row: try_negate(fn(row)), operand.const)


def _negate(v: Any) -> Any:
    return None if v is None else -v


def _negate_span(v: Any) -> Any:
    try:
        return None if v is None else -v
    except OverflowError:  # -timedelta.min
        return None


def as_bool(compiled: Compiled, what: str, pos: int) -> Callable[[Row], bool | None]:
    """A predicate's value as true/false/null; a dynamic value counts as true only if it is true."""
    if compiled.type == "bool":
        return compiled.fn
    if compiled.type == "dynamic":
        fn = compiled.fn
        return lambda row: v if isinstance(v := fn(row), bool) else None
    raise semantic_error(f"{what} at position {pos} must be a bool expression, not a {compiled.type}", pos)


def _logical(expr: ast.Binary, scope: Scope) -> Compiled:
    # Flatten the left-deep chain `a or b or c ...` without recursion (a chain may be long).
    operands: list[ast.Expr] = []
    node: ast.Expr = expr
    while isinstance(node, ast.Binary) and node.op == expr.op:
        operands.append(node.right)
        node = node.left
    operands.append(node)
    operands.reverse()
    tests = [as_bool(compile_expr(o, scope), f"an operand of '{expr.op}'", o.pos) for o in operands]
    # Three-valued logic: for `and`, false wins over null; for `or`, true wins over null.
    decisive = expr.op == "or"

    def apply(row: Row) -> bool | None:
        unknown = False
        for test in tests:
            v = test(row)
            if v is decisive:
                return decisive
            if v is None:
                unknown = True
        return None if unknown else not decisive

    return Compiled("bool", apply)


def stringish(compiled: Compiled, what: str, pos: int, token: str | None = None) -> Callable[[Row], str]:
    """A string view of a string, guid or dynamic value (Kusto converts these for string operators)."""
    if compiled.type == "string":
        return compiled.fn
    if compiled.type in ("dynamic", "guid"):
        fn = compiled.fn
        return lambda row: to_string(fn(row))
    raise semantic_error(
        f"{what} at position {pos} must be a string, not a {compiled.type} (use tostring())", pos, token
    )


def dynamic_pair(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Two values that can be compared at run time (one side dynamic), or None (the result is null)."""
    if a is None or b is None:
        return None
    if isinstance(a, bool) or isinstance(b, bool):
        return (a, b) if isinstance(a, bool) and isinstance(b, bool) else None
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a, b
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    if isinstance(a, dt.datetime) or isinstance(b, dt.datetime):
        da = a if isinstance(a, dt.datetime) else parse_datetime(a) if isinstance(a, str) else None
        db = b if isinstance(b, dt.datetime) else parse_datetime(b) if isinstance(b, str) else None
        return (da, db) if da is not None and db is not None else None
    if isinstance(a, dt.timedelta) and isinstance(b, dt.timedelta):
        return a, b
    if isinstance(a, list | dict) and isinstance(b, list | dict):
        return a, b
    return None


# Kusto runs RE2, which has no backreferences or lookaround and never backtracks. Python's re does
# backtrack, so patterns that could take exponential time are refused rather than risk a hung
# emulator (see backtracking_risk).
_NOT_RE2 = re.compile(r"\\[1-9]|\(\?(?:=|!|<=|<!|P=)")


MAX_UNBOUNDED_REPEATS = 3
# A repetition whose count can vary by more than this is as risky as an unbounded one: `.{0,99}`
# six times over a string without the final character tries about 100^6 splits per position.
MAX_SMALL_RANGE = 10
# The product of the choices the small repetitions offer (`a?` offers 2, `x{1,3}` offers 3) bounds
# the splits backtracking tries per position: `a?` thirty times is 2^30.
MAX_SMALL_CHOICES = 10_000

_COUNTED = re.compile(r"\{(\d*)(,(\d*))?\}")


def _quantifier(pattern: str, i: int) -> tuple[int, int] | None:
    """(length of the quantifier at pattern[i], how many counts it allows, 0 meaning unbounded or
    a range wider than MAX_SMALL_RANGE), or None when pattern[i] starts no quantifier."""
    c = pattern[i]
    if c in "*+":
        return 1, 0
    if c == "?":
        return 1, 2
    found = _COUNTED.match(pattern, i) if c == "{" else None
    if found is None or found.group(0) == "{}":
        return None  # Python reads `{` that starts no count as a literal
    size = len(found.group(0))
    if found.group(2) is None:
        return size, 1  # {m}: one count, no choice
    if not found.group(3):
        return size, 0  # {m,} and {,}: unbounded
    span = int(found.group(3)) - int(found.group(1) or 0)
    return size, 0 if span > MAX_SMALL_RANGE else max(span, 0) + 1


def backtracking_risk(pattern: str) -> str | None:
    """Why Python's backtracking engine could take exponential or high-polynomial time on this
    pattern (RE2 never does), or None: a repeated group holding a repetition or an alternation
    (`(a+)+`, `(a|a)*`), more than MAX_UNBOUNDED_REPEATS repetitions that are unbounded or range
    over more than MAX_SMALL_RANGE counts (`a*a*a*a*b`, `.{0,99}` four times), or small
    repetitions whose choices multiply past MAX_SMALL_CHOICES (`a?` thirty times)."""
    stack: list[bool] = []  # per open group: does it hold a repetition or alternation?
    unbounded = 0
    choices = 1
    i, n = 0, len(pattern)
    quantifiable = False  # does the previous token take a quantifier (not `(`, `|`, a quantifier)?
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            quantifiable = True
            continue
        if c == "[":
            # a class is one atom; `]` right after `[` or `[^` is a literal member
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            quantifiable = True
            continue
        if c == "(":
            stack.append(False)
            i += 2 if pattern.startswith("(?", i) else 1
            quantifiable = False
            continue
        if c == ")" and stack:
            risky = stack.pop()
            # `(x+)?` runs its group at most once; any other quantifier repeats it
            if risky and i + 1 < n and pattern[i + 1] != "?" and _quantifier(pattern, i + 1) is not None:
                return "it repeats a group that itself repeats or alternates"
            if risky and stack:
                stack[-1] = True
            i += 1
            quantifiable = True
            continue
        if c == "|":
            if stack:
                stack[-1] = True
            i += 1
            quantifiable = False
            continue
        quantifier = _quantifier(pattern, i) if quantifiable else None
        if quantifier is None:
            i += 1
            quantifiable = True
            continue
        size, counts = quantifier
        if counts == 0:
            unbounded += 1
        else:
            choices *= counts
        if counts != 1 and stack:
            stack[-1] = True
        i += size
        if i < n and pattern[i] in "?+":
            i += 1  # lazy or possessive: the same repetition
        quantifiable = False
    if unbounded > MAX_UNBOUNDED_REPEATS:
        return (
            f"it has more than {MAX_UNBOUNDED_REPEATS} repetitions that are unbounded"
            f" or range over more than {MAX_SMALL_RANGE} counts"
        )
    if choices > MAX_SMALL_CHOICES:
        return f"its repetitions offer more than {MAX_SMALL_CHOICES} combinations of counts"
    return None


def regex_of(compiled: Compiled, pos: int) -> re.Pattern[str]:
    if compiled.type != "string" or not compiled.const:
        raise semantic_error(f"the regular expression at position {pos} must be a constant string", pos)
    pattern = compiled.fn({})
    if _NOT_RE2.search(pattern):
        raise semantic_error(
            f"the regular expression at position {pos} uses backreferences or lookaround, which Kusto (RE2) lacks",
            pos,
            pattern,
        )
    risk = backtracking_risk(pattern)
    if risk:
        raise semantic_error(
            f"the regular expression at position {pos} is refused: {risk} (Kusto's RE2 runs such patterns"
            " in linear time; the emulator's engine could take exponential time)",
            pos,
            pattern,
        )
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise semantic_error(f"invalid regular expression at position {pos}: {exc}", pos, pattern) from None
