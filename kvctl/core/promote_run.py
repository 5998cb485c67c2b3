"""Carrying out a copy (or import) plan: writes paced under the destination's write limit,
deleted names recovered or purged when asked, one result per secret.

Each write goes through the backend's `set`, which never duplicates a version after a lost
answer. One secret's failure does not stop the others; secrets that were throttled past the
retries get one more try at the end, after the destination has been re-read, so nothing is
written twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .backend import SecretBackend
from .errors import ConflictError, KvctlError, NotFoundError, PartialFailure, UnavailableError, unexpected
from .models import Secret, iso
from .promote_plan import Content, PlanItem, plan_item
from .ratelimit import SlidingWindowLimiter
from .redaction import redact

DEFAULT_WAIT = 120.0  # how long a recovered or purged name may take to settle (the service: seconds)


@dataclass(frozen=True)
class ItemResult:
    source: str
    name: str
    action: str  # what the plan said: create | update | skip | conflict | recover | purge
    reason: str
    status: str  # created | updated | skipped | recovered | planned | failed
    versions: tuple[str, ...] = ()  # new versions written, oldest first
    error: KvctlError | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "name": self.name,
            "action": self.action,
            "reason": self.reason,
            "status": self.status,
            "versions": list(self.versions),
            # Service messages carry no values; redacted all the same, as the last line of defence.
            "error": redact(self.error.message) if self.error else None,
        }


def planned(items: Sequence[PlanItem]) -> list[ItemResult]:
    """A dry run's results: what would happen, nothing done."""
    return [
        ItemResult(i.wanted.source, i.name, i.action, i.reason, "skipped" if i.action == "skip" else "planned")
        for i in items
    ]


def wait_until(
    check: Callable[[], bool], timeout: float, clock: Callable[[], float], sleep: Callable[[float], None]
) -> bool:
    """Poll `check` (0.25 s, growing to 2 s apart) until it is true or `timeout` has passed."""
    deadline = clock() + timeout
    delay = 0.25
    while True:
        if check():
            return True
        if clock() >= deadline:
            return False
        sleep(min(delay, max(0.0, deadline - clock())))
        delay = min(delay * 2, 2.0)


@dataclass
class Writer:
    backend: SecretBackend
    limiter: SlidingWindowLimiter
    on_write: Callable[[int], None] = lambda n: None
    wait_timeout: float = DEFAULT_WAIT
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def run(self, items: Sequence[PlanItem], *, concurrency: int) -> list[ItemResult]:
        todo = [i for i in items if i.action != "skip"]
        results: dict[int, ItemResult] = {}
        if len(todo) <= 1:
            for item in todo:
                results[id(item)] = self.one(item)
        else:
            with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(todo)))) as pool:
                for item, result in zip(todo, pool.map(self.one, todo), strict=True):
                    results[id(item)] = result
        # Throttled (or unreachable) past the retries while competing with the others: one more
        # try each, on their own, from a fresh look at the destination. A destination that is
        # down fails the first of these again; the rest are then not tried.
        for item in todo:
            result = results[id(item)]
            if isinstance(result.error, UnavailableError):
                again = self.retry(item)
                results[id(item)] = again
                if isinstance(again.error, UnavailableError):
                    break
        return [results.get(id(i)) or ItemResult(i.wanted.source, i.name, i.action, i.reason, "skipped") for i in items]

    def one(self, item: PlanItem) -> ItemResult:
        try:
            return self._one(item)
        except KvctlError as exc:
            return ItemResult(item.wanted.source, item.name, item.action, item.reason, "failed", error=exc)
        except Exception as exc:  # noqa: BLE001 - a bug with one secret must not stop the others
            error = unexpected(exc)
            return ItemResult(item.wanted.source, item.name, item.action, item.reason, "failed", error=error)

    def retry(self, item: PlanItem) -> ItemResult:
        try:
            latest: Secret | None = self.backend.get(item.name)
        except NotFoundError:
            latest = None
        except KvctlError as exc:
            return ItemResult(item.wanted.source, item.name, item.action, item.reason, "failed", error=exc)
        fresh = plan_item(item.wanted, latest, False)
        if fresh.action == "skip":
            return ItemResult(item.wanted.source, item.name, item.action, item.reason, _done_status(item.action))
        return self.one(fresh)

    def _one(self, item: PlanItem) -> ItemResult:
        if item.action == "conflict":
            raise ConflictError(f"'{item.name}' is deleted but recoverable in the destination")
        if item.action == "recover":
            return self._recover(item)
        if item.action == "purge":
            self._purge(item.name)
        versions = self._write_all(item.name, item.writes, retry_conflicts=item.action == "purge")
        return ItemResult(item.wanted.source, item.name, item.action, item.reason, _done_status(item.action), versions)

    def _write_all(self, name: str, writes: Sequence[Content], *, retry_conflicts: bool = False) -> tuple[str, ...]:
        written: list[str] = []
        for content in writes:
            written.append(self._write(name, content, retry_conflicts))
        return tuple(written)

    def _write(self, name: str, content: Content, retry_conflicts: bool) -> str:
        deadline = self.clock() + self.wait_timeout
        while True:
            self.limiter.acquire()
            try:
                secret = self.backend.set(
                    name,
                    content.value,
                    content_type=content.content_type,
                    tags=content.tags,
                    expires=content.expires,
                    not_before=content.not_before,
                )
                self.on_write(1)
                return secret.version or ""
            except ConflictError:
                # Right after a purge the service refuses the name for a while.
                if not retry_conflicts or self.clock() >= deadline:
                    raise
                self.sleep(1.0)

    def _recover(self, item: PlanItem) -> ItemResult:
        self.backend.recover(item.name)
        latest: list[Secret] = []

        def readable() -> bool:
            try:
                latest[:] = [self.backend.get(item.name)]
                return True
            except NotFoundError:
                return False

        if not wait_until(readable, self.wait_timeout, self.clock, self.sleep):
            raise ConflictError(
                f"'{item.name}' was recovered but is still not readable after {self.wait_timeout:.0f} s",
                hint="run the same command again in a while; it continues from there",
            )
        fresh = plan_item(item.wanted, latest[0], False)
        versions = self._write_all(item.name, fresh.writes)
        reason = f"recovered; {fresh.reason}"
        return ItemResult(
            item.wanted.source, item.name, "recover", reason, "updated" if versions else "recovered", versions
        )

    def _purge(self, name: str) -> None:
        self.backend.purge(name)

        def gone() -> bool:
            try:
                self.backend.get_deleted(name)
                return False
            except NotFoundError:
                return True

        if not wait_until(gone, self.wait_timeout, self.clock, self.sleep):
            raise ConflictError(f"'{name}' was purged but the service still lists it after {self.wait_timeout:.0f} s")


def _done_status(action: str) -> str:
    return {"create": "created", "purge": "created", "update": "updated", "skip": "skipped"}.get(action, action)


def failure(results: Sequence[ItemResult], report: str | None) -> KvctlError | None:
    failed = [r for r in results if r.error is not None]
    if not failed:
        return None
    listed = "; ".join(f"{r.name}: {r.error.message}" for r in failed[:10] if r.error is not None)
    more = f" (and {len(failed) - 10} more)" if len(failed) > 10 else ""
    where = f"the report is in {report}; " if report else ""
    return PartialFailure(
        f"{len(failed)} of {len(results)} secret(s) failed: {listed}{more}",
        [(r.name, r.error) for r in failed if r.error is not None],
        hint=f"{where}the others are done; run the same command again to continue (what matches is skipped)",
    )


def counts(results: Sequence[ItemResult]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in results:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def report_json(
    kind: str, source: str, destination: str, started: dt.datetime, results: Sequence[ItemResult]
) -> dict[str, Any]:
    """The per-secret report a failed run leaves: names, actions, outcomes, errors; no values."""
    return {
        "format": f"kvctl-{kind}-report",
        "formatVersion": 1,
        "from": source,
        "to": destination,
        "started": iso(started),
        "finished": iso(dt.datetime.now(dt.UTC)),
        "counts": counts(results),
        "secrets": [r.to_json() for r in results],
    }
