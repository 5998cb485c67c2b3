"""What `copy` and `import` share: refusing deleted names, running the writes with progress,
rendering the per-secret results, and leaving a report when something failed."""

from __future__ import annotations

import datetime as dt
import os
import secrets as pysecrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import ConflictError, UsageError
from .context import AppContext

if TYPE_CHECKING:
    from ..core.backend import BackendFactory
    from ..core.promote_plan import PlanItem
    from ..core.promote_run import ItemResult

FORMATS = ("table", "json", "tsv", "plain")


def refuse_conflicts(items: Sequence[PlanItem], to_url: str) -> ConflictError | None:
    blocked = [i.name for i in items if i.action == "conflict"]
    if not blocked:
        return None
    shown = ", ".join(blocked[:10]) + (f" (and {len(blocked) - 10} more)" if len(blocked) > 10 else "")
    return ConflictError(
        f"{len(blocked)} destination name(s) are deleted but recoverable in {to_url}: {shown}; nothing was written",
        hint="--recover-deleted recovers them and then writes; --purge-deleted erases them first (asks)",
    )


def execute(
    app: AppContext, factory: BackendFactory, to_url: str, items: Sequence[PlanItem], what: str
) -> list[ItemResult]:
    from ..core.promote_run import Writer
    from ..core.ratelimit import SlidingWindowLimiter

    total = sum(len(i.writes) or (1 if i.action == "recover" else 0) for i in items)
    with app.output.progress(f"{what} {total} version(s)", total=total or None) as advance:
        writer = Writer(factory(to_url), SlidingWindowLimiter(), on_write=advance)
        return writer.run(items, concurrency=app.settings.concurrency)


def render(app: AppContext, fmt: str, header: dict[str, Any], results: Sequence[ItemResult]) -> None:
    from ..core.promote_run import counts
    from ..output import Column

    if fmt == "json":
        app.output.json({**header, "counts": counts(results), "secrets": [r.to_json() for r in results]})
        return
    columns = (
        Column("Name", lambda r: r["name"]),
        Column("From", lambda r: r["source"]),
        Column("Action", lambda r: r["action"]),
        Column("Status", lambda r: r["status"]),
        Column("Why", lambda r: r["error"] or r["reason"]),
        Column("New versions", lambda r: len(r["versions"]) or ""),
    )
    if fmt == "table" and not results:
        return
    app.output.rows((r.to_json() for r in results), columns, fmt)


def summary(app: AppContext, results: Sequence[ItemResult], dry_run: bool, *, refused: bool = False) -> None:
    from ..core.promote_run import counts

    if not results:
        app.output.warn("nothing matched; nothing to do")
        return
    c = counts(results)
    if dry_run:
        actions: dict[str, int] = {}
        for r in results:
            actions[r.action] = actions.get(r.action, 0) + 1
        text = ", ".join(f"{n} {a}" for a, n in sorted(actions.items()))
        label = "plan" if refused else "dry run"
        app.output.info(f"{label}: {len(results)} secret(s): {text}; nothing was changed")
        return
    versions = sum(len(r.versions) for r in results)
    text = ", ".join(f"{n} {s}" for s, n in sorted(c.items()))
    app.output.info(f"{len(results)} secret(s): {text}; {versions} new version(s) written")


def report_path(given: str | None, kind: str) -> Path:
    if given:
        return Path(given)
    state = os.environ.get("XDG_STATE_HOME") or ""
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    directory = base / "kvctl" / "reports"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror}", hint="pass --report FILE") from None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return directory / f"{kind}-{stamp}-{pysecrets.token_hex(3)}.json"


def finish(
    app: AppContext,
    kind: str,
    source: str,
    to_url: str,
    started: dt.datetime,
    results: Sequence[ItemResult],
    report: str | None,
) -> None:
    """Raise the run's error, after leaving the per-secret report (0600, no values) if any failed."""
    import json

    from ..core.files import write_private
    from ..core.promote_run import failure, report_json

    if not any(r.error is not None for r in results):
        return
    path: Path | None = None
    try:
        path = report_path(report, kind)
        write_private(path, json.dumps(report_json(kind, source, to_url, started, results), indent=2) + "\n")
    except UsageError as exc:
        app.output.warn(f"could not write the report: {exc.message}")
        path = None
    error = failure(results, str(path) if path else None)
    assert error is not None
    raise error
