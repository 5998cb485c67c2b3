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
from .kql_values import parse_datetime, to_string

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
    return Compiled(operand.type, lambda row: None if (v := fn(row)) is None else -v, operand.const)


def as_bool(compiled: Compiled, what: str, pos: int) -> Callable[[Row], bool | None]:
    """A predicate's value as true/false/null; a dynamic value counts as true only if it is true."""
    if compiled.type == "bool":
        return compiled.fn
    if compiled.type == "dynamic":
        fn = compiled.fn
        return lambda row: v if isinstance(v := fn(row), bool) else None
    raise semantic_error(f"{what} at position {pos} must be a bool expression, not a {compiled.type}", pos)


def _logical(expr: ast.Binary, scope: Scope) -> Compiled:
    left = as_bool(compile_expr(expr.left, scope), f"the left side of '{expr.op}'", expr.pos)
    right = as_bool(compile_expr(expr.right, scope), f"the right side of '{expr.op}'", expr.pos)
    if expr.op == "and":

        def conj(row: Row) -> bool | None:
            a = left(row)
            if a is False:
                return False
            b = right(row)
            if b is False:
                return False
            return None if a is None or b is None else True

        return Compiled("bool", conj)

    def disj(row: Row) -> bool | None:
        a = left(row)
        if a is True:
            return True
        b = right(row)
        if b is True:
            return True
        return None if a is None or b is None else False

    return Compiled("bool", disj)


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


def regex_of(compiled: Compiled, pos: int) -> re.Pattern[str]:
    if compiled.type != "string" or not compiled.const:
        raise semantic_error(f"the regular expression at position {pos} must be a constant string", pos)
    pattern = compiled.fn({})
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise semantic_error(f"invalid regular expression at position {pos}: {exc}", pos, pattern) from None
