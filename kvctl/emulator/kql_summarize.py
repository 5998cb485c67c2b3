"""`summarize`: aggregates over groups of rows, with Kusto's naming of unnamed result columns
(`count_`, `max_TimeGenerated`, `dcount_x`, ...). Aggregates ignore null values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import kql_ast as ast
from .kql_eval import Compiled, Row, Scope, as_bool, compile_expr
from .kql_model import MAX_RESULT_CHARS, NUMERIC, check_size, semantic_error
from .kql_ops import Frame, Namer, derived_name, hashable
from .kql_values import text_size, wrap64

_PREFIX = {
    "count": "count",
    "countif": "countif",
    "dcount": "dcount",
    "dcountif": "dcountif",
    "min": "min",
    "max": "max",
    "sum": "sum",
    "sumif": "sumif",
    "avg": "avg",
    "avgif": "avgif",
    "make_set": "set",
    "make_list": "list",
    "any": "any",
    "take_any": "any",
}
_ORDERED = (*NUMERIC, "datetime", "timespan", "string")


@dataclass
class _Agg:
    names: list[str]
    types: list[str]
    compute: Callable[[list[Row]], list[Any]]


def summarize(frame: Frame, op: ast.Summarize, scope: Scope) -> Frame:
    _schema, rows = frame
    namer = Namer()
    keys: list[tuple[str, Compiled]] = []
    for item in op.by:
        c = compile_expr(item.expr, scope)
        name = namer.name(item)
        if c.type == "dynamic":
            raise semantic_error(
                f"summarize at position {item.expr.pos}: group key '{name}' is dynamic; convert it explicitly"
                " (tostring(), tolong(), ...)",
                item.expr.pos,
                name,
            )
        keys.append((name, c))
    used = {name for name, _ in keys}
    if len(used) != len(keys):
        raise semantic_error(f"summarize at position {op.pos}: a group key name is repeated", op.pos)
    aggs: list[_Agg] = []
    for item in op.aggregates:
        agg = _aggregate(item, scope, {name for name, _ in keys})
        for i, name in enumerate(agg.names):
            if item.name is not None and name in used:
                raise semantic_error(
                    f"summarize: column '{name}' at position {item.expr.pos} is produced twice", item.expr.pos, name
                )
            base, n = name, 0
            while name in used:
                n += 1
                name = f"{base}{n}"
            agg.names[i] = name
            used.add(name)
        aggs.append(agg)
    groups: dict[Any, tuple[list[Any], list[Row]]] = {}
    for row in rows:
        values = [c.fn(row) for _, c in keys]
        groups.setdefault(tuple(hashable(v) for v in values), (values, []))[1].append(row)
    if not keys and not groups:
        groups[()] = ([], [])  # Kusto: summarize without `by` always gives one row
    schema: dict[str, str] = {name: c.type for name, c in keys}
    for agg in aggs:
        schema.update(zip(agg.names, agg.types, strict=True))
    out = []
    for values, members in groups.values():
        row = {name: v for (name, _), v in zip(keys, values, strict=True)}
        for agg in aggs:
            results = agg.compute(members)
            row.update(
                (name, "" if value is None and kind == "string" else value)
                for name, kind, value in zip(agg.names, agg.types, results, strict=True)
            )
        out.append(row)
    return schema, out


def _aggregate(item: ast.Assign, scope: Scope, key_names: set[str]) -> _Agg:
    call = item.expr
    if not isinstance(call, ast.Call):
        raise semantic_error(
            f"summarize at position {call.pos} needs an aggregate function call such as count() or max(x)", call.pos
        )
    name = call.name
    if name in ("arg_max", "arg_min"):
        if item.name is not None:
            raise semantic_error(
                f"'{name}' at position {call.pos} cannot be given a column name in this KQL subset", call.pos, name
            )
        return _arg_extreme(call, scope, key_names)
    if name not in _PREFIX:
        raise semantic_error(
            f"'{name}' at position {call.pos} is not an aggregate function of the emulator's KQL subset",
            call.pos,
            name,
        )
    args = list(call.args)
    wants = {"count": 0, "countif": 1, "dcountif": 2, "sumif": 2, "avgif": 2}.get(name, 1)
    if name in ("make_set", "make_list") and len(args) == 2:
        args = args[:1]  # the optional size limit is above any table the emulator holds
    if len(args) != wants:
        raise semantic_error(
            f"aggregate '{name}' at position {call.pos} takes {wants} argument(s), got {len(call.args)}",
            call.pos,
            name,
        )
    derived = derived_name(args[0]) if args and name not in ("countif",) else None
    column = item.name or f"{_PREFIX[name]}_{derived or ''}"
    if name == "count":
        return _Agg([column], ["long"], lambda rows: [len(rows)])
    compiled = [compile_expr(a, scope) for a in args]
    if name in ("countif", "dcountif", "sumif", "avgif"):
        test = as_bool(compiled[-1], f"the condition of '{name}'", call.pos)
        if name == "countif":
            return _Agg([column], ["long"], lambda rows: [sum(1 for r in rows if test(r) is True)])
        value = compiled[0]

        def only(rows: list[Row]) -> list[Row]:
            return [r for r in rows if test(r) is True]

        inner = _simple(name.removesuffix("if"), value, call)
        return _Agg([column], [inner[0]], lambda rows: [inner[1](only(rows))])
    result_type, compute = _simple(name, compiled[0], call)
    return _Agg([column], [result_type], lambda rows: [compute(rows)])


def _simple(name: str, value: Compiled, call: ast.Call) -> tuple[str, Callable[[list[Row]], Any]]:
    fn, vtype = value.fn, value.type

    def present(rows: list[Row]) -> list[Any]:
        values = [fn(r) for r in rows]
        return [v for v in values if v is not None and not (vtype == "string" and v == "")]

    def bad(kinds: str) -> Exception:
        return semantic_error(
            f"aggregate '{call.name}' at position {call.pos} needs {kinds}, not a {vtype}", call.pos, call.name
        )

    if name == "dcount":
        if vtype == "dynamic":
            raise bad("a scalar value")
        return "long", lambda rows: len({hashable(v) for v in present(rows)})
    if name in ("min", "max"):
        if vtype not in _ORDERED:
            raise bad("a number, datetime, timespan or string")
        pick = min if name == "min" else max
        return vtype, lambda rows: pick(vals) if (vals := present(rows)) else None
    if name == "sum":
        if vtype not in (*NUMERIC, "timespan"):
            raise bad("a number or timespan")

        def total(vals: list[Any]) -> Any:
            if vtype == "timespan":
                try:
                    return sum(vals, dt.timedelta(0))
                except OverflowError:
                    return None
            return wrap64(sum(vals)) if vtype in ("long", "int") else sum(vals)

        return (vtype if vtype != "int" else "long"), lambda rows: total(vals) if (vals := present(rows)) else None
    if name == "avg":
        if vtype not in NUMERIC:
            raise bad("a number")
        return "real", lambda rows: sum(vals) / len(vals) if (vals := present(rows)) else None
    if name in ("make_set", "make_list"):
        unique = name == "make_set"

        def collect(rows: list[Row]) -> list[Any]:
            out: list[Any] = []
            seen: set[Any] = set()
            size = 0
            for v in (fn(r) for r in rows):
                if v is None:
                    continue
                h = hashable(v)
                if unique and h in seen:
                    continue
                seen.add(h)
                size += text_size(v, MAX_RESULT_CHARS)
                check_size(size, MAX_RESULT_CHARS, name, call.pos)
                out.append(v)
            return out

        return "dynamic", collect

    def first(rows: list[Row]) -> Any:  # any / take_any: Kusto picks an arbitrary non-null value
        for r in rows:
            v = fn(r)
            if v is not None:
                return v
        return None

    return vtype, first


def _arg_extreme(call: ast.Call, scope: Scope, key_names: set[str]) -> _Agg:
    if len(call.args) < 2:
        raise semantic_error(
            f"'{call.name}' at position {call.pos} takes the expression and the columns to return (or *)",
            call.pos,
            call.name,
        )
    target = compile_expr(call.args[0], scope)
    if target.type not in _ORDERED:
        raise semantic_error(
            f"'{call.name}' at position {call.pos} cannot order by a {target.type}", call.pos, call.name
        )
    target_name = derived_name(call.args[0]) or f"{call.name.split('_')[1]}_"
    names = [target_name]
    fns: list[Callable[[Row], Any]] = [target.fn]
    types = [target.type]
    for arg in call.args[1:]:
        if isinstance(arg, ast.Star):
            for col, ctype in scope.columns.items():
                if col not in key_names and col not in names:
                    names.append(col)
                    fns.append(_getter(col))
                    types.append(ctype)
            continue
        c = compile_expr(arg, scope)
        name = derived_name(arg) or f"Column{len(names)}"
        if name in names:
            continue
        names.append(name)
        fns.append(c.fn)
        types.append(c.type)
    want_max = call.name == "arg_max"
    key = target.fn

    def compute(rows: list[Row]) -> list[Any]:
        best: Row | None = None
        best_value: Any = None
        for r in rows:
            v = key(r)
            if v is None or (target.type == "string" and v == ""):
                continue
            if best is None or (v > best_value if want_max else v < best_value):
                best, best_value = r, v
        if best is None:
            return [None] * len(fns)
        chosen = best
        return [f(chosen) for f in fns]

    return _Agg(names, types, compute)


def _getter(name: str) -> Callable[[Row], Any]:
    return lambda row: row.get(name)
