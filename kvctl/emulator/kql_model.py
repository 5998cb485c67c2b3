"""The KQL engine's public data types and error (re-exported by kvctl.emulator.kql)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Kusto's scalar type names, as a result table's columns carry them.
TYPES = ("string", "datetime", "long", "int", "real", "bool", "dynamic", "guid", "timespan")
NUMERIC = ("int", "long", "real")

MAX_QUERY_CHARS = 100_000
# Parentheses, calls, brackets and dynamic literals nested deeper than this are refused (before
# Python's recursion limit could be reached); MAX_TREE_DEPTH bounds long operator chains likewise.
MAX_NESTING = 100
MAX_TREE_DEPTH = 200
# No string the engine builds (strcat, replace_string, tostring of a dynamic) may be longer: a
# 900-character query of doubling `let`s would otherwise build 256 MB. Kusto refuses such queries
# for its memory limits (E_LOW_MEMORY_CONDITION); the emulator refuses them before building.
MAX_STRING_CHARS = 1_000_000
# A result (every cell as JSON text) or a make_list/make_set larger than this is refused alike:
# 10,000 rows each showing one 1,000,000-character `let` would be a 10 GB answer.
MAX_RESULT_CHARS = 64_000_000


def words(text: str) -> frozenset[str]:
    """A set of names written as one space-separated string (long keyword lists stay compact)."""
    return frozenset(text.split())


class KqlError(Exception):
    """A query the engine refuses: "SyntaxError" (cannot parse) or "SemanticError" (unknown
    table/column/function, type misuse, unsupported operator). Never a partial or guessed answer."""

    def __init__(self, kind: str, message: str, position: int | None = None, token: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.position = position
        self.token = token

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def syntax_error(message: str, position: int | None = None, token: str | None = None) -> KqlError:
    return KqlError("SyntaxError", message, position, token)


def semantic_error(message: str, position: int | None = None, token: str | None = None) -> KqlError:
    return KqlError("SemanticError", message, position, token)


def check_size(size: int, limit: int, what: str, position: int | None = None) -> None:
    """Refuse, before building it, a value of `size` characters longer than `limit`."""
    if size > limit:
        where = f" at position {position}" if position is not None else ""
        raise semantic_error(
            f"{what}{where}: the result exceeds {limit:,} characters (query limits exceeded, as"
            " the service's E_LOW_MEMORY_CONDITION)",
            position,
        )


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass
class Table:
    name: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
