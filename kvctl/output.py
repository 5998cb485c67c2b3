"""Rendering: the only module that imports rich, and only when a table or progress bar is drawn.

Data goes to stdout; status, warnings and errors to stderr. JSON and TSV lists are streamed, so
listing tens of thousands of secrets uses the memory of one page. Rich markup is off
everywhere: a secret named `a[b]` prints as itself.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from .core.models import Secret, secret_json
from .core.redaction import redact


@dataclass(frozen=True)
class Column:
    header: str
    get: Callable[[dict[str, Any]], Any]
    style: Callable[[dict[str, Any]], str] | None = None  # a rich style, on terminals only


_SEVERITY_STYLES = {"FAIL": "bold red", "WARN": "yellow", "INFO": "cyan"}


def _short_time(value: Any) -> str:
    if not value:
        return ""
    text = str(value)
    return text[:16].replace("T", " ") if len(text) >= 16 else text


SECRET_COLUMNS = (
    Column("Name", lambda r: r["name"]),
    Column("Enabled", lambda r: r["attributes"]["enabled"]),
    Column("Expires", lambda r: _short_time(r["attributes"]["expires"])),
    Column("Updated", lambda r: _short_time(r["attributes"]["updated"])),
    Column("Content type", lambda r: r["contentType"]),
    Column("Tags", lambda r: ", ".join(f"{k}={v}" for k, v in (r["tags"] or {}).items())),
)
VERSION_COLUMNS = (
    Column("Version", lambda r: r["id"].rsplit("/", 1)[-1]),
    Column("Enabled", lambda r: r["attributes"]["enabled"]),
    Column("Created", lambda r: _short_time(r["attributes"]["created"])),
    Column("Expires", lambda r: _short_time(r["attributes"]["expires"])),
    Column("Content type", lambda r: r["contentType"]),
)
ACCESS_COLUMNS = (
    Column("Principal", lambda r: r["principalId"]),
    Column("Name", lambda r: r.get("principalName") or ""),
    Column("Type", lambda r: r["principalType"]),
    Column("Role / permissions", lambda r: r["role"] or "access policy: " + ", ".join(r["secretPermissions"])),
    Column("Level", lambda r: r["level"] + (f" {r['secret']}" if r.get("secret") else "")),
)
FINDING_COLUMNS = (
    Column("Severity", lambda r: r["severity"], lambda r: _SEVERITY_STYLES.get(r["severity"], "")),
    Column("Id", lambda r: r["id"]),
    Column("Vault", lambda r: r["vault"]),
    Column("Finding", lambda r: r["message"]),
    Column("Fix", lambda r: r["remedy"]),
)
ROLE_COLUMNS = (
    Column("Role", lambda r: r["name"]),
    Column("Id", lambda r: r["id"]),
    Column("Allows with secrets", lambda r: ", ".join(r["allows"]) or "nothing with secrets"),
)
DELETED_COLUMNS = (
    Column("Name", lambda r: r["name"]),
    Column("Deleted", lambda r: _short_time(r.get("deletedDate"))),
    Column("Purge date", lambda r: _short_time(r.get("scheduledPurgeDate"))),
    Column("Recovery level", lambda r: r["attributes"]["recoveryLevel"]),
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Output:
    def __init__(
        self,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        *,
        quiet: bool = False,
        verbose: int = 0,
    ) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.quiet = quiet
        self.verbose = verbose

    # -- format choice -------------------------------------------------------------------------

    def is_terminal(self, stream: IO[str] | None = None) -> bool:
        stream = stream or self.stdout
        return bool(getattr(stream, "isatty", lambda: False)())

    def resolve(self, requested: str | None, allowed: Sequence[str], *, default: str | None = None) -> str:
        """The format to use: what was asked for, else table on a terminal, else JSON."""
        if requested:
            return requested
        if default:
            return default
        if "table" in allowed and self.is_terminal():
            return "table"
        return "json" if "json" in allowed else allowed[0]

    # -- status on stderr ----------------------------------------------------------------------

    def _status(self, prefix: str, message: str) -> None:
        self.stderr.write(f"{prefix}{redact(message)}\n")
        self.stderr.flush()

    def info(self, message: str) -> None:
        if not self.quiet:
            self._status("", message)

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet:
            self._status("", message)

    def warn(self, message: str) -> None:
        self._status("warning: ", message)

    def error(self, message: str, hint: str | None = None) -> None:
        self._status("kvctl: error: ", message)
        if hint:
            self._status("hint: ", hint)

    # -- data on stdout ------------------------------------------------------------------------

    def write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def json(self, data: Any) -> None:
        self.write(json.dumps(data, indent=2) + "\n")

    def rows(
        self,
        rows: Iterable[dict[str, Any]],
        columns: Sequence[Column],
        fmt: str,
        *,
        plain: Callable[[dict[str, Any]], Any] = lambda row: row.get("name"),
    ) -> int:
        """Render dict rows as table/json/tsv/plain; JSON and TSV stream. Returns the row count."""
        count = 0
        if fmt == "json":
            self.stdout.write("[")
            for row in rows:
                self.stdout.write(("," if count else "") + "\n" + _indent(json.dumps(row, indent=2)))
                count += 1
            self.stdout.write("\n]\n" if count else "]\n")
            self.stdout.flush()
            return count
        if fmt in ("tsv", "plain"):
            for row in rows:
                if fmt == "plain":
                    self.stdout.write(_cell(plain(row)) + "\n")
                else:
                    self.stdout.write("\t".join(_cell(c.get(row)).replace("\t", " ") for c in columns) + "\n")
                count += 1
            self.stdout.flush()
            return count
        materialised = list(rows)
        self.table(materialised, columns)
        return len(materialised)

    def table(self, rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> None:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        console = Console(file=self.stdout, markup=False, highlight=False, emoji=False)
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in columns:
            table.add_column(column.header)
        for row in rows:
            table.add_row(*(Text(_cell(c.get(row)), style=c.style(row) if c.style else "") for c in columns))
        console.print(table)

    def secrets(
        self,
        secrets: Iterable[Secret],
        fmt: str,
        columns: Sequence[Column] = SECRET_COLUMNS,
        plain: Callable[[dict[str, Any]], Any] = lambda row: row.get("name"),
    ) -> int:
        return self.rows((secret_json(s) for s in secrets), columns, fmt, plain=plain)

    def secret(self, secret: Secret, fmt: str) -> None:
        data = secret_json(secret)
        if fmt == "json":
            self.json(data)
        elif fmt == "plain":
            self.write((secret.value if secret.value is not None else secret.name) + "\n")
        elif fmt == "tsv":
            self.rows([data], SECRET_COLUMNS, "tsv")
        else:
            self.key_values(_secret_fields(data))

    def key_values(self, pairs: Sequence[tuple[str, Any]]) -> None:
        if not self.is_terminal():
            width = max(len(k) for k, _ in pairs)
            self.write("".join(f"{k.ljust(width)}  {_cell(v)}\n" for k, v in pairs))
            return
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in pairs:
            table.add_row(Text(key), Text(_cell(value)))
        Console(file=self.stdout, markup=False, highlight=False, emoji=False).print(table)

    # -- progress ------------------------------------------------------------------------------

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A progress bar on a terminal (stderr); elsewhere, nothing."""
        if self.quiet or not self.is_terminal(self.stderr) or os.environ.get("KVCTL_NO_PROGRESS"):
            yield _no_progress
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(file=self.stderr, markup=False, highlight=False)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(description, total=total)

            def advance(n: int = 1) -> None:
                bar.advance(task, n)

            yield advance


def values_text(secrets: Sequence[Secret], fmt: str, *, newline: bool = True) -> str:
    """Secret values as the user asked for them: plain, json, env (shell) or dotenv."""
    from .core.envformat import dotenv_line, env_name, shell_line
    from .core.errors import UsageError

    if fmt == "plain":
        end = "\n" if newline else ""
        return "".join(f"{s.value}{end}" for s in secrets)
    if fmt == "json":
        data = [secret_json(s) for s in secrets]
        return json.dumps(data[0] if len(data) == 1 else data, indent=2) + "\n"
    names: dict[str, str] = {}
    for s in secrets:
        var = env_name(s.name)
        if var in names and names[var] != s.name.lower():
            raise UsageError(f"secrets '{names[var]}' and '{s.name}' both map to ${var}")
        names[var] = s.name.lower()
    line = shell_line if fmt == "env" else dotenv_line
    return "".join(line(env_name(s.name), s.value or "") for s in secrets)


def _no_progress(n: int = 1) -> None:
    return None


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _secret_fields(data: dict[str, Any]) -> list[tuple[str, Any]]:
    attrs = data["attributes"]
    pairs: list[tuple[str, Any]] = [("Name", data["name"]), ("Id", data["id"])]
    if "value" in data:
        pairs.append(("Value", data["value"]))
    pairs += [
        ("Enabled", attrs["enabled"]),
        ("Content type", data["contentType"]),
        ("Tags", ", ".join(f"{k}={v}" for k, v in (data["tags"] or {}).items())),
        ("Created", attrs["created"]),
        ("Updated", attrs["updated"]),
        ("Expires", attrs["expires"]),
        ("Not before", attrs["notBefore"]),
        ("Recovery level", attrs["recoveryLevel"]),
        ("Recoverable days", attrs["recoverableDays"]),
    ]
    if "deletedDate" in data:
        pairs += [("Deleted", data["deletedDate"]), ("Purge date", data["scheduledPurgeDate"])]
    return pairs
