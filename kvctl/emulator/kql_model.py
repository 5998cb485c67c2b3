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


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass
class Table:
    name: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
