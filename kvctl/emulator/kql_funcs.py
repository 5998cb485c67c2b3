"""Scalar functions of the KQL subset, each checking its arguments' count and types when compiled."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from . import kql_ast as ast
from .kql_eval import Compiled, Row, Scope, as_bool, compile_expr
from .kql_funcs_base import Builder, arity, unary, want
from .kql_funcs_text import TEXT_FUNCTIONS
from .kql_model import NUMERIC, semantic_error, words
from .kql_values import is_empty, parse_json, to_bool, to_datetime, to_long, to_real, to_string, to_timespan

AGGREGATES = words(
    "count countif dcount dcountif min max sum sumif avg avgif arg_max arg_min make_set make_list any take_any"
)
_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def compile_call(call: ast.Call, scope: Scope) -> Compiled:
    name = call.name
    if name in AGGREGATES:
        raise semantic_error(
            f"aggregate function '{name}' at position {call.pos} is valid only in summarize", call.pos, name
        )
    if name == "column_ifexists":
        return _column_ifexists(call, scope)
    if name in ("now", "ago"):
        anchored = _time_anchor(call, scope)
        return Compiled("datetime", _Folded(anchored.fn({})), True) if anchored.const else anchored
    builder = _FUNCTIONS.get(name)
    if builder is None:
        raise semantic_error(
            f"unknown function '{name}' at position {call.pos} (not in the emulator's KQL subset)", call.pos, name
        )
    args = [compile_expr(arg, scope) for arg in call.args]
    result = builder(args, call)
    if result.const and not isinstance(result.fn, _Folded):
        value = result.fn({})  # fold constants once, so `where T > ago(7d)` is not recomputed per row
        return Compiled(result.type, _Folded(value), True)
    return result


def _column_ifexists(call: ast.Call, scope: Scope) -> Compiled:
    """`column_ifexists("name", default)`: the column where the table has it, else `default` (Log
    Analytics' AzureDiagnostics grows a column only once some row has filled it)."""
    if len(call.args) != 2:
        raise semantic_error(f"column_ifexists() at position {call.pos} takes 2 arguments", call.pos, call.name)
    column = call.args[0]
    if not (isinstance(column, ast.Literal) and column.type == "string"):
        raise semantic_error(
            f"column_ifexists() at position {call.pos} takes the column's name as a string literal", call.pos, call.name
        )
    if column.value in scope.columns:
        return compile_expr(ast.Name(column.pos, column.value), scope)
    return compile_expr(call.args[1], scope)


class _Folded:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, _row: Row) -> Any:
        return self.value


def _time_anchor(call: ast.Call, scope: Scope) -> Compiled:
    args = [compile_expr(arg, scope) for arg in call.args]
    if call.name == "ago":
        arity(call, args, 1)
    else:
        arity(call, args, 0, 1)
    if args:
        want(call, args[0], 0, "timespan")
    span = args[0].fn if args else (lambda _row: dt.timedelta(0))
    sign = -1 if call.name == "ago" else 1
    now = scope.now

    def apply(row: Row) -> Any:
        d = span(row)
        if d is None:
            return None
        try:
            return now + sign * d
        except OverflowError:
            return None

    return Compiled("datetime", apply, not args or args[0].const)


def _iff(args: list[Compiled], call: ast.Call) -> Compiled:
    arity(call, args, 3)
    cond = as_bool(args[0], f"the condition of '{call.name}'", call.pos)
    result = _common_type(call, args[1:])
    a, b = widen(args[1], result), widen(args[2], result)
    return Compiled(result, lambda row: a(row) if cond(row) is True else b(row))


def _case(args: list[Compiled], call: ast.Call) -> Compiled:
    if len(args) < 3 or len(args) % 2 == 0:
        raise semantic_error(
            f"'case' at position {call.pos} takes pairs of condition and value and a final else value",
            call.pos,
            "case",
        )
    conds = [as_bool(args[i], "a condition of 'case'", call.pos) for i in range(0, len(args) - 1, 2)]
    outcomes = [args[i] for i in range(1, len(args) - 1, 2)] + [args[-1]]  # the last one is the else
    result = _common_type(call, outcomes)
    values = [widen(a, result) for a in outcomes]

    def apply(row: Row) -> Any:
        for cond, value in zip(conds, values, strict=False):
            if cond(row) is True:
                return value(row)
        return values[-1](row)

    return Compiled(result, apply)


def _coalesce(args: list[Compiled], call: ast.Call) -> Compiled:
    arity(call, args, 1, 64)
    result = _common_type(call, args)
    fns = [widen(a, result) for a in args]

    def apply(row: Row) -> Any:
        for f in fns:
            v = f(row)
            if not is_empty(v):
                return v
        return "" if result == "string" else None

    return Compiled(result, apply)


def _common_type(call: ast.Call, args: list[Compiled]) -> str:
    types = {a.type for a in args}
    if len(types) == 1:
        return args[0].type
    if types <= set(NUMERIC):
        return "real" if "real" in types else "long"
    raise semantic_error(
        f"the values of '{call.name}' at position {call.pos} have different types ({', '.join(sorted(types))})",
        call.pos,
        call.name,
    )


def widen(arg: Compiled, result: str) -> Callable[[Row], Any]:
    """A long value where the common type is real becomes a float (the column's type says real)."""
    fn = arg.fn
    if result == "real" and arg.type != "real":
        return lambda row: None if (v := fn(row)) is None else float(v)
    return fn


def unary_numeric(f: Callable[[Any], Any]) -> Builder:
    def build(args: list[Compiled], call: ast.Call) -> Compiled:
        arity(call, args, 1)
        want(call, args[0], 0, *NUMERIC, "timespan")
        fn = args[0].fn
        return Compiled(args[0].type, lambda row: None if (v := fn(row)) is None else f(v), args[0].const)

    return build


def _round(args: list[Compiled], call: ast.Call) -> Compiled:
    arity(call, args, 1, 2)
    want(call, args[0], 0, *NUMERIC)
    if len(args) == 2:
        want(call, args[1], 1, "long", "int")
    value, digits = args[0].fn, (args[1].fn if len(args) == 2 else None)

    def apply(row: Row) -> Any:
        v, d = value(row), (digits(row) if digits else 0)
        if v is None or d is None or not -20 <= d <= 20:
            return None
        try:
            return float(round(v, d)) if args[0].type == "real" else round(v, d)
        except (OverflowError, ValueError):
            return None

    return Compiled(args[0].type, apply, all(a.const for a in args))


def _bin(args: list[Compiled], call: ast.Call) -> Compiled:
    arity(call, args, 2)
    value, size = args
    if value.type in NUMERIC and size.type in NUMERIC:
        result = "real" if "real" in (value.type, size.type) else value.type
    elif value.type in ("datetime", "timespan") and size.type == "timespan":
        result = value.type
    else:
        raise semantic_error(
            f"'{call.name}' at position {call.pos} cannot round a {value.type} to a {size.type}", call.pos, call.name
        )
    v, s = value.fn, size.fn

    def apply(row: Row) -> Any:
        x, step = v(row), s(row)
        if x is None or step is None or not step or step < type(step)(0):
            return None
        if isinstance(x, dt.datetime):
            return _EPOCH + ((x - _EPOCH) // step) * step
        if isinstance(x, dt.timedelta):
            return (x // step) * step
        try:
            q = math.floor(x / step) * step
        except (OverflowError, ValueError):  # inf or nan
            return None
        return float(q) if result == "real" else int(q)

    return Compiled(result, apply, value.const and size.const)


def _startof(unit: str) -> Builder:
    def build(args: list[Compiled], call: ast.Call) -> Compiled:
        arity(call, args, 1)
        want(call, args[0], 0, "datetime")
        fn = args[0].fn

        def apply(row: Row) -> Any:
            v = fn(row)
            if v is None:
                return None
            day = v.replace(hour=0, minute=0, second=0, microsecond=0)
            return day if unit == "day" else day.replace(day=1) if unit == "month" else day.replace(month=1, day=1)

        return Compiled("datetime", apply, args[0].const)

    return build


def _not(args: list[Compiled], call: ast.Call) -> Compiled:
    arity(call, args, 1)
    fn = as_bool(args[0], "the argument of 'not'", call.pos)
    return Compiled("bool", lambda row: None if (v := fn(row)) is None else not v, args[0].const)


def _array_length(v: Any) -> int | None:
    return len(v) if isinstance(v, list) else None


def _bag_keys(v: Any) -> list[str] | None:
    return list(v) if isinstance(v, dict) else None


_ANY = ("string", "datetime", "long", "int", "real", "bool", "dynamic", "guid", "timespan")
_FUNCTIONS: dict[str, Builder] = {
    **TEXT_FUNCTIONS,
    "tostring": unary("string", _ANY, to_string),
    "tolong": unary("long", ("string", "long", "int", "real", "bool", "dynamic"), to_long),
    "toint": unary("int", ("string", "long", "int", "real", "bool", "dynamic"), to_long),
    "toreal": unary("real", ("string", "long", "int", "real", "bool", "dynamic"), to_real),
    "todouble": unary("real", ("string", "long", "int", "real", "bool", "dynamic"), to_real),
    "tobool": unary("bool", ("string", "long", "int", "real", "bool", "dynamic"), to_bool),
    "toboolean": unary("bool", ("string", "long", "int", "real", "bool", "dynamic"), to_bool),
    "todatetime": unary("datetime", ("string", "datetime", "dynamic"), to_datetime),
    "totimespan": unary("timespan", ("string", "timespan", "dynamic"), to_timespan),
    "todynamic": unary("dynamic", ("string", "dynamic"), parse_json),
    "parse_json": unary("dynamic", ("string", "dynamic"), parse_json),
    "abs": unary_numeric(abs),
    "round": _round,
    "isempty": unary("bool", _ANY, is_empty),
    "isnotempty": unary("bool", _ANY, lambda v: not is_empty(v)),
    "isnull": unary("bool", _ANY, lambda v: v is None),
    "isnotnull": unary("bool", _ANY, lambda v: v is not None),
    "array_length": unary("long", ("dynamic",), _array_length),
    "bag_keys": unary("dynamic", ("dynamic",), _bag_keys),
    "iff": _iff,
    "iif": _iff,
    "case": _case,
    "coalesce": _coalesce,
    "bin": _bin,
    "floor": _bin,
    "startofday": _startof("day"),
    "startofmonth": _startof("month"),
    "startofyear": _startof("year"),
    "not": _not,
}
