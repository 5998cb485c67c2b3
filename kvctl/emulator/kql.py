"""The KQL (Kusto Query Language) subset the emulator's Log Analytics and Resource Graph endpoints
answer. A query outside the subset is a KqlError ("SyntaxError" or "SemanticError", with the
offending token and its position), never a silent wrong answer.

Statements
    [let NAME = SCALAR; ...] TABLE [| OPERATOR ...] [;]     comments `// ...`, any whitespace.
    Table names match exactly (case-sensitive); a caller that accepts `resources` and `Resources`
    registers both.

Tabular operators
    where / filter PRED           rows whose predicate is true (null counts as false)
    project [NAME =] EXPR, ...    renames and computed columns
    extend [NAME =] EXPR, ...     (an existing name is replaced in place; later items see
                                  earlier ones)
    project-away COL|PATTERN*, ...    project-rename NEW = OLD, ...
    order by / sort by EXPR [asc|desc] [nulls first|last], ...   default desc; nulls last for
                                  desc, first for asc (as in Kusto); a stable sort
    take N / limit N              top N by EXPR [asc|desc] [nulls first|last], ...
    summarize [NAME =] AGG(...), ... [by [NAME =] EXPR, ...]
        AGG: count() countif(p) dcount(x) dcountif(x, p) min max sum sumif avg avgif
             make_set(x) make_list(x) any(x) take_any(x) arg_max(x, * | col, ...) arg_min(...)
        unnamed columns: count_, countif_, dcount_X, min_X, max_X, sum_X, avg_X, set_X, list_X,
        any_X (X the column, `a_b` for a.b); by-keys take the column's name through bin(),
        tostring() and the other to*() casts, else Column1, Column2...; a dynamic key is refused.
    distinct EXPR, ... | distinct *          count

Scalar expressions
    literals: 'str' "str" (\\n \\t \\\\ \\' \\" \\uXXXX escapes), @'verbatim', 42, 1.5, true/false,
      datetime(2026-12-01T10:00:00Z) datetime(2026-12-01) datetime(null), timespans 7d 12h 30m
      10s 100ms 1.5h, time(1.02:03:04), guid(...), dynamic([...]) / dynamic({...}) / dynamic(null)
    columns: Name, ['name with spaces'], dynamic access a.b, a['b'], a[0]
    arithmetic + - * / %  (numbers; datetime +- timespan; datetime - datetime; timespan math);
      long arithmetic wraps at 64 bits and / truncates toward zero, as in Kusto
    comparisons == != < <= > >= (string == is case-sensitive), =~ !~ (case-insensitive); a guid
      compares with a string by == and != regardless of case
    string operators (case-insensitive unless _cs; `has` matches whole terms of letters and
      digits): has !has has_cs contains !contains contains_cs startswith endswith hasprefix
      hassuffix (each with ! and _cs forms), matches regex 'constant'
    x in (...) !in in~ !in~ has_any has_all (a dynamic array in the list is expanded),
      x between (a .. b),
      !between, and, or, not(p), parentheses
    functions: now([offset]) ago(span) tolower toupper strlen strcat substring split
      extract(regex, group, text) replace_string format_datetime(dt, 'yyyy-MM-dd HH:mm:ss.fff')
      tostring tolong toint toreal todouble tobool toboolean todatetime totimespan todynamic
      parse_json isempty isnotempty isnull isnotnull iff iif case coalesce bin floor round abs
      startofday startofmonth startofyear array_length bag_keys column_ifexists
    Regular expressions (matches regex, extract) must be constant; backreferences and lookaround
    (which Kusto's RE2 lacks), a repeated group that itself repeats or alternates, more than 3
    repetitions that are unbounded or range over more than 10 counts, and small repetitions whose
    counts combine more than 10,000 ways (which could take exponential or high-polynomial time in
    Python's backtracking engine) are refused.
    A string over 1,000,000 characters (strcat, replace_string, tostring of a dynamic), or a result
    or make_list/make_set over 64,000,000, is a SemanticError, refused before it is built.
    Types are checked before any row is read: comparing a string with a number, arithmetic on
    strings, an unknown column or function, a wrong argument count is a SemanticError. Values in
    a dynamic column compare at run time (a number with a number, a string with a string...).

Null semantics as in Kusto: strings are never null (missing is ""); x == null-valued is false, !=
true, both null gives null; <, > with null give null; and/or are three-valued; aggregates skip
nulls (and, for min/max/arg_max, empty strings); null is in no `in` list and `!in` every one.
dcount() is exact (Kusto's is an estimate that is exact at the emulator's sizes).

Not supported (SemanticError naming the operator): join, union, lookup, mv-expand, parse,
evaluate, render, search, make-series, ...; !has_any/!has_all/like; any other function.
json_cell(value, type) gives a result cell in JSON form (datetime `2026-12-01T10:00:00Z`, timespan
`1.02:03:04`) for the endpoints' responses.

Limits: a query over 100,000 characters, nesting over 100 levels or an operator chain over 200
deep is a SyntaxError.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from . import kql_ast as ast
from . import kql_ops as ops
from .kql_ast import Query
from .kql_eval import Scope, compile_expr, constant
from .kql_model import MAX_RESULT_CHARS, Column, KqlError, Table, check_size, semantic_error
from .kql_parse import parse
from .kql_summarize import summarize
from .kql_values import json_cell, text_size

__all__ = ["Column", "KqlError", "Query", "Table", "execute", "json_cell", "parse"]

_OPERATORS: dict[type, Callable[[Any, Any, Scope], ops.Frame]] = {
    ast.Where: ops.where,
    ast.Project: ops.project,
    ast.Extend: ops.extend,
    ast.ProjectAway: ops.project_away,
    ast.ProjectRename: ops.project_rename,
    ast.Sort: ops.sort,
    ast.Take: ops.take,
    ast.Top: ops.top,
    ast.Summarize: summarize,
    ast.Distinct: ops.distinct,
    ast.Count: ops.count,
}


def execute(query: str, tables: Mapping[str, Table], *, now: dt.datetime) -> Table:
    """Run `query` over `tables`; the result is a Table named "PrimaryResult"."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    try:
        return _execute(query, tables, now)
    except RecursionError:
        # The parser bounds a query's nesting; this is a last guard for dynamic values nested
        # deeper than Python recurses (they come from the tables, not from the query).
        raise semantic_error("a value is nested too deeply to evaluate") from None


def _execute(query: str, tables: Mapping[str, Table], now: dt.datetime) -> Table:
    tree = parse(query)
    scope = Scope({}, {}, now)
    for name, expr in tree.lets:
        value = compile_expr(expr, scope)
        if not value.const:
            raise semantic_error(f"'let {name}' must be a constant expression", expr.pos, name)
        scope.lets[name] = constant(value.fn({}), value.type)  # evaluated once, not per row
    source = tables.get(tree.table)
    if source is None:
        raise semantic_error(
            f"Failed to resolve table expression named '{tree.table}' at position {tree.table_pos}",
            tree.table_pos,
            tree.table,
        )
    schema = {c.name: c.type for c in source.columns}
    frame: ops.Frame = (schema, _normalized(source.rows, source.columns))
    for op in tree.operators:
        scope = Scope(frame[0], scope.lets, now)
        frame = _OPERATORS[type(op)](frame, op, scope)
    schema, rows = frame
    text_columns = [n for n, t in schema.items() if t == "string"]
    for row in rows:
        for name in text_columns:
            if row.get(name) is None:
                row[name] = ""  # e.g. max() of a group with no value: Kusto's strings are never null
    _check_result_size(rows)
    return Table("PrimaryResult", [Column(n, t) for n, t in schema.items()], rows)


def _check_result_size(rows: list[dict[str, Any]]) -> None:
    """Refuse an answer too large to send before anyone serializes it (rows may share one long value)."""
    size = 0
    for row in rows:
        for value in row.values():
            size += text_size(value, MAX_RESULT_CHARS)
        check_size(size, MAX_RESULT_CHARS, "the query's result")


def _normalized(rows: list[dict[str, Any]], columns: list[Column]) -> list[dict[str, Any]]:
    """Copies of the rows with exactly the table's columns (the caller's rows are never changed)."""
    names = [c.name for c in columns]
    texts = [c.name for c in columns if c.type == "string"]
    times = [c.name for c in columns if c.type == "datetime"]
    out = []
    for source in rows:
        row = {name: source.get(name) for name in names}
        for name in texts:
            if row[name] is None:
                row[name] = ""  # Kusto strings are never null
        for name in times:
            value = row[name]
            if isinstance(value, dt.datetime) and value.tzinfo is None:
                row[name] = value.replace(tzinfo=dt.UTC)
        out.append(row)
    return out
