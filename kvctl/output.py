"""Rendering typed results: data to stdout (table, json, tsv, plain), status to stderr through the
one Console. JSON and TSV lists are streamed, so listing tens of thousands of secrets uses the
memory of one page, but nothing is written before the first page has arrived: a command that
fails at once leaves stdout empty. Tables are laid out by kvctl/tables.py for the terminal's
width and never cut an identifier. No markup is interpreted anywhere: `a[b]` prints as itself.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

from .columns import (  # noqa: F401 - the column sets are imported from here by the commands
    ACCESS_COLUMNS,
    AUDIT_COLUMNS,
    DELETED_COLUMNS,
    FINDING_COLUMNS,
    FLEET_AUDIT_COLUMNS,
    FLEET_WHO_COLUMNS,
    ROLE_COLUMNS,
    SECRET_COLUMNS,
    UNUSED_COLUMNS,
    VERSION_COLUMNS,
    WHO_COLUMNS,
    Column,
    short_time,
    table_time,
    tags_text,
    time_label,
)
from .console import Console, ConsoleStream, Tracker
from .core.models import Secret, secret_json
from .core.redaction import redact

# Every value -o / KVCTL_OUTPUT can take somewhere; each command declares the ones it accepts.
KNOWN_FORMATS = ("table", "json", "tsv", "plain", "env", "dotenv", "sarif")


# Control characters (C0, DEL, C1) in a cell are shown as escapes: text from logs, the directory or a
# tag is not kvctl's, and an ESC in it could redraw the reader's terminal (a forged audit row) or a
# tab or newline could split a TSV row. JSON output keeps them, encoded as JSON does.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


# Status lines and log lines keep their line breaks and tabs; every other control character (an
# ESC from a service's error message, a secret's name, a response header) is shown as an escape.
_STATUS_CONTROL = {c: e for c, e in _CONTROL.items() if c not in (0x09, 0x0A)}


def terminal_safe(text: str) -> str:
    """`text` as it may reach a terminal: nothing in it can move the cursor, recolour or retitle."""
    return text.translate(_STATUS_CONTROL)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).translate(_CONTROL)


def _tsv_cell(column: Column, row: dict[str, Any]) -> str:
    value = column.get(row)
    if column.kind == "instant":  # an event's time, whole: events are told apart and ordered by it
        return _cell(value)
    return short_time(value) if column.kind == "time" else _cell(value)


_END = object()


class Output:
    def __init__(
        self,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        *,
        quiet: bool = False,
        verbose: int = 0,
        local_time: bool = False,
        console: Console | None = None,
    ) -> None:
        self.stdout = stdout or sys.stdout
        self.console = console or Console(stderr or sys.stderr, quiet=quiet)
        self.quiet = quiet
        self.verbose = verbose
        self.local_time = local_time

    @property
    def stderr(self) -> IO[str]:
        """stderr as a stream that goes through the console (for hook relays and the like)."""
        return ConsoleStream(self.console)  # type: ignore[return-value]

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

    @property
    def colour(self) -> bool:
        return self.is_terminal() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"

    def width(self) -> int:
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit() and int(columns) > 0:
            return int(columns)
        try:
            return os.get_terminal_size(self.stdout.fileno()).columns
        except (OSError, ValueError, AttributeError):
            return 80

    # -- status on stderr ----------------------------------------------------------------------

    def _status(self, prefix: str, message: str) -> None:
        self.console.line(f"{prefix}{terminal_safe(redact(message))}")

    def info(self, message: str) -> None:
        if not self.quiet:
            self._status("", message)

    def detail(self, message: str, level: int = 1) -> None:
        if self.verbose >= level and not self.quiet:
            self._status("", message)

    def warn(self, message: str) -> None:
        self._status("warning: ", message)

    def error(self, message: str, hint: str | None = None) -> None:
        self._status("kvctl: error: ", message)
        if hint:
            self._status("hint: ", hint)

    def relay(self, text: str) -> None:
        """Another program's output (a hook's) on stderr, masked, without breaking a progress line."""
        self.console.relay(text)

    def paused(self) -> Any:
        """`with output.paused():` no progress is drawn inside (prompts, a child using the terminal)."""
        return self.console.paused()

    # -- data on stdout ------------------------------------------------------------------------

    def _emit(self, text: str, *, flush: bool = True) -> None:
        if self.is_terminal():
            with self.console.holding():
                self.stdout.write(text)
                self.stdout.flush()
            return
        self.stdout.write(text)
        if flush:
            self.stdout.flush()

    def write(self, text: str) -> None:
        self._emit(text)

    def json(self, data: Any) -> None:
        self.write(json.dumps(data, indent=2) + "\n")

    def rows(
        self,
        rows: Iterable[dict[str, Any]],
        columns: Sequence[Column],
        fmt: str,
        *,
        plain: Callable[[dict[str, Any]], Any] = lambda row: row.get("name"),
        waiting: str = "waiting for the service",
    ) -> int:
        """Render dict rows as table/json/tsv/plain; JSON and TSV stream. Returns the row count.

        Nothing is written until the first row (or the end) has arrived, so an error on the first
        page leaves stdout empty instead of holding a `[` that no `]` will close."""
        source = iter(rows)
        if fmt == "table":
            with self.console.activity(waiting) as tracker:
                materialised = []
                for row in source:
                    materialised.append(row)
                    tracker(1)
            self.table(materialised, columns)
            return len(materialised)
        with self.console.activity(waiting):
            first = next(source, _END)
        if first is _END:
            if fmt == "json":
                self._emit("[]\n")
            return 0
        count = 0
        flushed = 0.0
        for row in _chain(first, source):
            if fmt == "json":
                self._emit(("[" if not count else ",") + "\n" + _indent(json.dumps(row, indent=2)), flush=False)
            elif fmt == "plain":
                self._emit(_cell(plain(row)) + "\n", flush=False)
            else:
                self._emit("\t".join(_tsv_cell(c, row).replace("\t", " ") for c in columns) + "\n", flush=False)
            count += 1
            now = time.monotonic()
            if count == 1 or now - flushed > 0.1:  # the reader sees rows as they come, and kvctl sees it leave
                self.stdout.flush()
                flushed = now
        self._emit("\n]\n" if fmt == "json" else "")
        self.stdout.flush()
        return count

    def table(self, rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> None:
        from .tables import Spec, render

        label = time_label(self.local_time)
        specs = [
            Spec(
                f"{c.header} ({label})" if c.kind in ("time", "instant") else c.header,
                wrap=c.kind if c.kind in ("text", "list") else "",
                drop=c.drop,
            )
            for c in columns
        ]
        cells = [[self._table_cell(c, row) for c in columns] for row in rows]
        styles = [[c.style(row) if c.style else "" for c in columns] for row in rows]
        lines = render(specs, cells, styles, self.width(), self.colour)
        if lines:
            self.write("\n".join(lines) + "\n")

    def _table_cell(self, column: Column, row: dict[str, Any]) -> str:
        value = (column.table or column.get)(row)
        if column.kind == "instant":
            return table_time(value, self.local_time, seconds=True)
        return table_time(value, self.local_time) if column.kind == "time" else _cell(value)

    def secrets(
        self,
        secrets: Iterable[Secret],
        fmt: str,
        columns: Sequence[Column] = SECRET_COLUMNS,
        plain: Callable[[dict[str, Any]], Any] = lambda row: row.get("name"),
        waiting: str = "listing secrets",
    ) -> int:
        return self.rows((secret_json(s) for s in secrets), columns, fmt, plain=plain, waiting=waiting)

    def secret(self, secret: Secret, fmt: str) -> None:
        data = secret_json(secret)
        if fmt == "json":
            self.json(data)
        elif fmt == "plain":
            self.write((secret.value if secret.value is not None else secret.name) + "\n")
        elif fmt == "tsv":
            self.rows([data], SECRET_COLUMNS, "tsv")
        else:
            self.key_values(_secret_fields(data, self.local_time))

    def key_values(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """A record as aligned `key  value` lines; values are never wrapped or cut."""
        width = max(len(k) for k, _ in pairs)
        if not self.is_terminal():
            self.write("".join(f"{k.ljust(width)}  {_cell(v)}\n" for k, v in pairs))
            return
        from .tables import sgr

        self.write("".join(f"{sgr('bold', k, self.colour)}{' ' * (width - len(k))}  {_cell(v)}\n" for k, v in pairs))

    # -- progress ------------------------------------------------------------------------------

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Tracker]:
        """A spinner with counts on stderr when on a terminal and the wait is over half a second.
        The tracker is called to advance; `tracker.set_total(n)` once the total is known."""
        with self.console.activity(description, total) as tracker:
            yield tracker


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def values_text(secrets: Sequence[Secret], fmt: str, *, newline: bool = True) -> str:
    """Secret values as the user asked for them: plain, json, env (shell) or dotenv."""
    from .core.envformat import NUL_REFUSAL, dotenv_line, env_name, nul_refusal, shell_line
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
    for s in secrets:
        if nul_refusal(s.value or ""):
            raise UsageError(
                f"cannot write secret '{s.name}' with -o {fmt} exactly: {NUL_REFUSAL}",
                hint="use -o json for this secret (it writes a NUL as \\u0000)",
            )
    line = shell_line if fmt == "env" else dotenv_line
    return "".join(line(env_name(s.name), s.value or "") for s in secrets)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _secret_fields(data: dict[str, Any], local_time: bool = False) -> list[tuple[str, Any]]:
    attrs = data["attributes"]
    label = f" ({time_label(local_time)})"

    def when(value: Any) -> str:
        return table_time(value, local_time)

    pairs: list[tuple[str, Any]] = [("Name", data["name"]), ("Id", data["id"])]
    if "value" in data:
        pairs.append(("Value", data["value"]))
    pairs += [
        ("Enabled", attrs["enabled"]),
        ("Content type", data["contentType"]),
        ("Tags", tags_text(data["tags"], hide_bookkeeping=True)),
        ("Created" + label, when(attrs["created"])),
        ("Updated" + label, when(attrs["updated"])),
        ("Expires" + label, when(attrs["expires"])),
        ("Not before" + label, when(attrs["notBefore"])),
        ("Recovery level", attrs["recoveryLevel"]),
        ("Recoverable days", attrs["recoverableDays"]),
    ]
    if "deletedDate" in data:
        pairs += [
            ("Deleted" + label, when(data["deletedDate"])),
            ("Purge date" + label, when(data["scheduledPurgeDate"])),
        ]
    return pairs
