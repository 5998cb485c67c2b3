"""Tabular operators: each takes a schema (ordered name -> type) and rows, and returns new ones."""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable
from typing import Any

from . import kql_ast as ast
from .kql_eval import Compiled, Row, Scope, as_bool, compile_expr
from .kql_model import semantic_error

Schema = dict[str, str]
Frame = tuple[Schema, list[Row]]

# A by-key or projected expression without a name takes its column's name when it is one of these
# functions applied to a column (as Kusto names `bin(TimeGenerated, 1d)` "TimeGenerated").
_NAME_THROUGH = frozenset(
    {"bin", "floor", "tostring", "tolong", "toint", "toreal", "todouble", "todatetime", "tobool", "tolower", "toupper"}
)


def derived_name(expr: ast.Expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.name
    if isinstance(expr, ast.Member):
        base = derived_name(expr.base)
        return None if base is None else f"{base}_{expr.key}"
    if isinstance(expr, ast.Call) and expr.name in _NAME_THROUGH and expr.args:
        return derived_name(expr.args[0])
    return None


class Namer:
    """Kusto's names for unnamed columns: derived from the expression, else Column1, Column2, ..."""

    def __init__(self) -> None:
        self.counter = 0

    def name(self, item: ast.Assign) -> str:
        if item.name is not None:
            return item.name
        derived = derived_name(item.expr)
        if derived is not None:
            return derived
        self.counter += 1
        return f"Column{self.counter}"


def _columns(items: tuple[ast.Assign, ...], scope: Scope, what: str, pos: int) -> list[tuple[str, Compiled]]:
    namer = Namer()
    out: list[tuple[str, Compiled]] = []
    seen: set[str] = set()
    for item in items:
        name = namer.name(item)
        if name in seen:
            raise semantic_error(f"{what} at position {pos}: column '{name}' is produced twice", pos, name)
        seen.add(name)
        out.append((name, compile_expr(item.expr, scope)))
    return out


def where(frame: Frame, op: ast.Where, scope: Scope) -> Frame:
    schema, rows = frame
    test = as_bool(compile_expr(op.predicate, scope), "the 'where' predicate", op.pos)
    return schema, [row for row in rows if test(row) is True]


def project(frame: Frame, op: ast.Project, scope: Scope) -> Frame:
    _schema, rows = frame
    cols = _columns(op.items, scope, "project", op.pos)
    return {n: c.type for n, c in cols}, [{n: c.fn(row) for n, c in cols} for row in rows]


def extend(frame: Frame, op: ast.Extend, scope: Scope) -> Frame:
    schema, rows = frame
    new_schema = dict(schema)
    namer = Namer()
    cols: list[tuple[str, Compiled]] = []
    for item in op.items:
        # a later column may use an earlier one of the same extend (as in Kusto)
        compiled = compile_expr(item.expr, Scope(dict(new_schema), scope.lets, scope.now))
        name = namer.name(item)
        new_schema[name] = compiled.type
        cols.append((name, compiled))
    out = []
    for row in rows:
        new = dict(row)
        for name, c in cols:
            new[name] = c.fn(new)
        out.append(new)
    return new_schema, out


def project_away(frame: Frame, op: ast.ProjectAway, _scope: Scope) -> Frame:
    schema, rows = frame
    drop: set[str] = set()
    for pattern, pos in op.patterns:
        matched = [n for n in schema if fnmatch.fnmatchcase(n, pattern)] if "*" in pattern else [pattern]
        if "*" not in pattern and pattern not in schema:
            raise semantic_error(f"project-away at position {pos}: no column named '{pattern}'", pos, pattern)
        drop.update(matched)
    keep = [n for n in schema if n not in drop]
    return {n: schema[n] for n in keep}, [{n: row.get(n) for n in keep} for row in rows]


def project_rename(frame: Frame, op: ast.ProjectRename, _scope: Scope) -> Frame:
    schema, rows = frame
    mapping: dict[str, str] = {}
    for new, old, pos in op.pairs:
        if old not in schema:
            raise semantic_error(f"project-rename at position {pos}: no column named '{old}'", pos, old)
        mapping[old] = new
    names = [mapping.get(n, n) for n in schema]
    if len(set(names)) != len(names):
        raise semantic_error(f"project-rename at position {op.pos} would produce a column twice", op.pos)
    new_schema = {mapping.get(n, n): t for n, t in schema.items()}
    return new_schema, [{mapping.get(n, n): row.get(n) for n in schema} for row in rows]


def sort_rows(rows: list[Row], keys: tuple[ast.SortKey, ...], scope: Scope, what: str) -> list[Row]:
    compiled: list[tuple[Callable[[Row], Any], ast.SortKey]] = []
    for key in keys:
        c = compile_expr(key.expr, scope)
        if c.type == "dynamic":
            raise semantic_error(
                f"{what} at position {key.expr.pos} cannot sort by a dynamic value; convert it (tostring(), tolong())",
                key.expr.pos,
            )
        compiled.append((c.fn, key))
    decorated = [([fn(row) for fn, _ in compiled], row) for row in rows]

    def cmp(a: tuple[list[Any], Row], b: tuple[list[Any], Row]) -> int:
        for (x, y), (_fn, key) in zip(zip(a[0], b[0], strict=True), compiled, strict=True):
            if x is None or y is None:
                if x is None and y is None:
                    continue
                first = -1 if key.nulls_first else 1
                return first if x is None else -first
            if x == y:
                continue
            less = x < y
            return (1 if less else -1) if key.descending else (-1 if less else 1)
        return 0

    decorated.sort(key=functools.cmp_to_key(cmp))  # stable: ties keep their input order
    return [row for _, row in decorated]


def sort(frame: Frame, op: ast.Sort, scope: Scope) -> Frame:
    schema, rows = frame
    return schema, sort_rows(rows, op.keys, scope, "order by")


def count_of(expr: ast.Expr, scope: Scope, what: str, pos: int) -> int:
    c = compile_expr(expr, scope)
    if c.type not in ("long", "int") or not c.const:
        raise semantic_error(f"{what} at position {pos} needs a constant whole number", pos)
    n = c.fn({})
    if n is None or n < 0:
        raise semantic_error(f"{what} at position {pos} needs a number of rows of 0 or more", pos)
    return int(n)


def take(frame: Frame, op: ast.Take, scope: Scope) -> Frame:
    schema, rows = frame
    return schema, rows[: count_of(op.count, scope, "take", op.pos)]


def top(frame: Frame, op: ast.Top, scope: Scope) -> Frame:
    schema, rows = frame
    n = count_of(op.count, scope, "top", op.pos)
    return schema, sort_rows(rows, op.keys, scope, "top")[:n]


def distinct(frame: Frame, op: ast.Distinct, scope: Scope) -> Frame:
    schema, rows = frame
    if not op.items:
        cols = [(n, Compiled(t, _getter(n))) for n, t in schema.items()]
    else:
        cols = _columns(op.items, scope, "distinct", op.pos)
    seen: set[Any] = set()
    out = []
    for row in rows:
        values = [c.fn(row) for _, c in cols]
        key = tuple(hashable(v) for v in values)
        if key not in seen:
            seen.add(key)
            out.append({n: v for (n, _), v in zip(cols, values, strict=True)})
    return {n: c.type for n, c in cols}, out


def count(frame: Frame, op: ast.Count, _scope: Scope) -> Frame:
    return {"Count": "long"}, [{"Count": len(frame[1])}]


def _getter(name: str) -> Callable[[Row], Any]:
    return lambda row: row.get(name)


def hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, hashable(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(hashable(v) for v in value))
    if isinstance(value, bool):
        return ("bool", value)  # keep true apart from 1
    return value
