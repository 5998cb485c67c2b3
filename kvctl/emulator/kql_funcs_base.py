"""What every scalar function's builder uses: argument count and type checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import kql_ast as ast
from .kql_eval import Compiled, stringish
from .kql_model import semantic_error

Builder = Callable[[list[Compiled], ast.Call], Compiled]


def arity(call: ast.Call, args: list[Compiled], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise semantic_error(
            f"function '{call.name}' at position {call.pos} takes {want} argument(s), got {len(args)}",
            call.pos,
            call.name,
        )


def want(call: ast.Call, arg: Compiled, index: int, *types: str) -> None:
    if arg.type not in types:
        raise semantic_error(
            f"argument {index + 1} of '{call.name}' at position {call.pos} must be {' or '.join(types)},"
            f" not {arg.type}",
            call.pos,
            call.name,
        )


def unary(result: str, types: tuple[str, ...], f: Callable[[Any], Any]) -> Builder:
    def build(args: list[Compiled], call: ast.Call) -> Compiled:
        arity(call, args, 1)
        want(call, args[0], 0, *types)
        fn = args[0].fn
        return Compiled(result, lambda row: f(fn(row)), args[0].const)

    return build


def string_fn(result: str, f: Callable[[str], Any]) -> Builder:
    def build(args: list[Compiled], call: ast.Call) -> Compiled:
        arity(call, args, 1)
        text = stringish(args[0], f"the argument of '{call.name}'", call.pos, call.name)
        return Compiled(result, lambda row: f(text(row)), args[0].const)

    return build
