"""Scalar functions of the KQL subset, each checking its arguments' count and types when compiled."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from . import kql_ast as ast
from .kql_eval import Compiled, Row, Scope, as_bool, compile_expr, constant, stringish
from .kql_model import NUMERIC, semantic_error
from .kql_values import parse_datetime, parse_timespan, to_string

AGGREGATES = frozenset(
    {
        "count",
        "countif",
        "dcount",
        "dcountif",
        "min",
        "max",
        "sum",
        "sumif",
        "avg",
        "avgif",
        "arg_max",
        "arg_min",
        "make_set",
        "make_list",
        "any",
        "take_any",
    }
)
_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
Builder = Callable[[list[Compiled], ast.Call], Compiled]


def compile_call(call: ast.Call, scope: Scope) -> Compiled:
    name = call.name
    if name in AGGREGATES:
        raise semantic_error(
            f"aggregate function '{name}' at position {call.pos} is valid only in summarize", call.pos, name
        )
    if name in ("now", "ago"):
        return _time_anchor(call, scope)
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


class _Folded:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, _row: Row) -> Any:
        return self.value


def _arity(call: ast.Call, args: list[Compiled], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise semantic_error(
            f"function '{call.name}' at position {call.pos} takes {want} argument(s), got {len(args)}",
            call.pos,
            call.name,
        )


def _want(call: ast.Call, arg: Compiled, index: int, *types: str) -> None:
    if arg.type not in types:
        raise semantic_error(
            f"argument {index + 1} of '{call.name}' at position {call.pos} must be {' or '.join(types)},"
            f" not {arg.type}",
            call.pos,
            call.name,
        )


def _unary(result: str, types: tuple[str, ...], f: Callable[[Any], Any]) -> Builder:
    def build(args: list[Compiled], call: ast.Call) -> Compiled:
        _arity(call, args, 1)
        _want(call, args[0], 0, *types)
        fn = args[0].fn
        return Compiled(result, lambda row: f(fn(row)), args[0].const)

    return build


def _time_anchor(call: ast.Call, scope: Scope) -> Compiled:
    args = [compile_expr(arg, scope) for arg in call.args]
    if call.name == "ago":
        _arity(call, args, 1)
    else:
        _arity(call, args, 0, 1)
    if args:
        _want(call, args[0], 0, "timespan")
        if not args[0].const:
            raise semantic_error(f"the argument of '{call.name}' at position {call.pos} must be constant", call.pos)
    span = args[0].fn({}) if args else dt.timedelta(0)
    if span is None:
        return constant(None, "datetime")
    try:
        return constant(scope.now - span if call.name == "ago" else scope.now + span, "datetime")
    except OverflowError:
        return constant(None, "datetime")


def _to_long(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if math.isfinite(v) else None
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            real = _to_real(v)
            return int(real) if real is not None and math.isfinite(real) else None
    return None


def _to_real(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def _to_bool(v: Any) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str):
        return {"true": True, "false": False, "1": True, "0": False}.get(v.strip().lower())
    return None


def _to_datetime(v: Any) -> dt.datetime | None:
    if isinstance(v, dt.datetime):
        return v
    return parse_datetime(v) if isinstance(v, str) else None


def _to_timespan(v: Any) -> dt.timedelta | None:
    if isinstance(v, dt.timedelta):
        return v
    return parse_timespan(v) if isinstance(v, str) else None


def _is_empty(v: Any) -> bool:
    return v is None or v == ""


def _strcat(args: list[Compiled], call: ast.Call) -> Compiled:
    _arity(call, args, 1, 64)
    fns = [a.fn for a in args]
    return Compiled("string", lambda row: "".join(to_string(f(row)) for f in fns), all(a.const for a in args))


def _substring(args: list[Compiled], call: ast.Call) -> Compiled:
    _arity(call, args, 2, 3)
    text = stringish(args[0], f"argument 1 of 'substring' at position {call.pos}", call.pos)
    for i, a in enumerate(args[1:], 1):
        _want(call, a, i, "long", "int")
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
    _arity(call, args, 2, 3)
    text = stringish(args[0], f"argument 1 of 'split' at position {call.pos}", call.pos)
    _want(call, args[1], 1, "string")
    delim = args[1].fn
    index = None
    if len(args) == 3:
        _want(call, args[2], 2, "long", "int")
        index = args[2].fn

    def apply(row: Row) -> Any:
        d = delim(row)
        parts = text(row).split(d) if d else [text(row)]
        if index is None:
            return parts
        i = index(row)
        return [parts[i]] if isinstance(i, int) and -len(parts) <= i < len(parts) else []

    return Compiled("dynamic", apply)


def _iff(args: list[Compiled], call: ast.Call) -> Compiled:
    _arity(call, args, 3)
    cond = as_bool(args[0], f"the condition of '{call.name}'", call.pos)
    result = _common_type(call, args[1:])
    a, b = args[1].fn, args[2].fn
    return Compiled(result, lambda row: a(row) if cond(row) is True else b(row))


def _case(args: list[Compiled], call: ast.Call) -> Compiled:
    if len(args) < 3 or len(args) % 2 == 0:
        raise semantic_error(
            f"'case' at position {call.pos} takes pairs of condition and value and a final else value",
            call.pos,
            "case",
        )
    conds = [as_bool(args[i], "a condition of 'case'", call.pos) for i in range(0, len(args) - 1, 2)]
    values = [args[i].fn for i in range(1, len(args), 2)]
    result = _common_type(call, [args[i] for i in range(1, len(args), 2)])

    def apply(row: Row) -> Any:
        for cond, value in zip(conds, values, strict=False):
            if cond(row) is True:
                return value(row)
        return values[-1](row)

    return Compiled(result, apply)


def _coalesce(args: list[Compiled], call: ast.Call) -> Compiled:
    _arity(call, args, 1, 64)
    result = _common_type(call, args)
    fns = [a.fn for a in args]

    def apply(row: Row) -> Any:
        for f in fns:
            v = f(row)
            if not _is_empty(v):
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


def _bin(args: list[Compiled], call: ast.Call) -> Compiled:
    _arity(call, args, 2)
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
        q = math.floor(x / step) * step
        return q if result == "real" else int(q)

    return Compiled(result, apply, value.const and size.const)


def _startof(unit: str) -> Builder:
    def build(args: list[Compiled], call: ast.Call) -> Compiled:
        _arity(call, args, 1)
        _want(call, args[0], 0, "datetime")
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
    _arity(call, args, 1)
    fn = as_bool(args[0], "the argument of 'not'", call.pos)
    return Compiled("bool", lambda row: None if (v := fn(row)) is None else not v, args[0].const)


def _array_length(v: Any) -> int | None:
    return len(v) if isinstance(v, list) else None


def _bag_keys(v: Any) -> list[str] | None:
    return list(v) if isinstance(v, dict) else None


def _string_fn(result: str, f: Callable[[str], Any]) -> Builder:
    def build(args: list[Compiled], call: ast.Call) -> Compiled:
        _arity(call, args, 1)
        text = stringish(args[0], f"the argument of '{call.name}'", call.pos, call.name)
        return Compiled(result, lambda row: f(text(row)), args[0].const)

    return build


_ANY = ("string", "datetime", "long", "int", "real", "bool", "dynamic", "guid", "timespan")
_FUNCTIONS: dict[str, Builder] = {
    "tolower": _string_fn("string", str.lower),
    "toupper": _string_fn("string", str.upper),
    "strlen": _string_fn("long", len),
    "tostring": _unary("string", _ANY, to_string),
    "tolong": _unary("long", ("string", "long", "int", "real", "bool", "dynamic"), _to_long),
    "toint": _unary("int", ("string", "long", "int", "real", "bool", "dynamic"), _to_long),
    "toreal": _unary("real", ("string", "long", "int", "real", "bool", "dynamic"), _to_real),
    "todouble": _unary("real", ("string", "long", "int", "real", "bool", "dynamic"), _to_real),
    "tobool": _unary("bool", ("string", "long", "int", "real", "bool", "dynamic"), _to_bool),
    "toboolean": _unary("bool", ("string", "long", "int", "real", "bool", "dynamic"), _to_bool),
    "todatetime": _unary("datetime", ("string", "datetime", "dynamic"), _to_datetime),
    "totimespan": _unary("timespan", ("string", "timespan", "dynamic"), _to_timespan),
    "todynamic": _unary("dynamic", ("string", "dynamic"), lambda v: v),
    "isempty": _unary("bool", _ANY, _is_empty),
    "isnotempty": _unary("bool", _ANY, lambda v: not _is_empty(v)),
    "isnull": _unary("bool", _ANY, lambda v: v is None),
    "isnotnull": _unary("bool", _ANY, lambda v: v is not None),
    "array_length": _unary("long", ("dynamic",), _array_length),
    "bag_keys": _unary("dynamic", ("dynamic",), _bag_keys),
    "strcat": _strcat,
    "substring": _substring,
    "split": _split,
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
