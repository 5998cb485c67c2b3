"""The syntax tree `kql.parse` returns: scalar expressions and tabular operators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Expr:
    pos: int


@dataclass(frozen=True)
class Literal(Expr):
    value: Any
    type: str


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class Star(Expr):
    pass


@dataclass(frozen=True)
class Member(Expr):
    """`base.key` or `base['key']` on a dynamic value."""

    base: Expr
    key: str


@dataclass(frozen=True)
class Index(Expr):
    """`base[expr]` where expr is not a string literal (an array index)."""

    base: Expr
    index: Expr


@dataclass(frozen=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # "-" or "+"
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # arithmetic, comparison or string operator, "and", "or"
    left: Expr
    right: Expr


@dataclass(frozen=True)
class InList(Expr):
    op: str  # "in", "!in", "in~", "!in~"
    left: Expr
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Between(Expr):
    negated: bool
    left: Expr
    low: Expr
    high: Expr


@dataclass(frozen=True)
class Assign:
    """`name = expr` (name None when the column's name is derived from the expression)."""

    name: str | None
    expr: Expr


@dataclass(frozen=True)
class SortKey:
    expr: Expr
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class Operator:
    pos: int


@dataclass(frozen=True)
class Where(Operator):
    predicate: Expr


@dataclass(frozen=True)
class Project(Operator):
    items: tuple[Assign, ...]


@dataclass(frozen=True)
class Extend(Operator):
    items: tuple[Assign, ...]


@dataclass(frozen=True)
class ProjectAway(Operator):
    patterns: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ProjectRename(Operator):
    pairs: tuple[tuple[str, str, int], ...]  # (new, old, position of old)


@dataclass(frozen=True)
class Sort(Operator):
    keys: tuple[SortKey, ...]


@dataclass(frozen=True)
class Take(Operator):
    count: Expr


@dataclass(frozen=True)
class Top(Operator):
    count: Expr
    keys: tuple[SortKey, ...]


@dataclass(frozen=True)
class Summarize(Operator):
    aggregates: tuple[Assign, ...]
    by: tuple[Assign, ...]


@dataclass(frozen=True)
class Distinct(Operator):
    items: tuple[Assign, ...]  # empty: `distinct *`


@dataclass(frozen=True)
class Count(Operator):
    pass


@dataclass(frozen=True)
class Query:
    lets: tuple[tuple[str, Expr], ...]
    table: str
    table_pos: int
    operators: tuple[Operator, ...] = field(default_factory=tuple)
