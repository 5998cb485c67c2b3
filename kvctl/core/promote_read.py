"""Reading both sides of a copy: the source's values and the destination's latest versions.

Both are read at once, each concurrently and overlapped with its listing (as `export` does).
Reads are all or nothing: if one fails, nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .backend import BackendFactory
from .bulk import Listing, fetch_bulk, partial_failure
from .errors import ForbiddenError, KvctlError, NotFoundError
from .models import Secret
from .promote_plan import Content, Selection, Wanted, check_distinct, destination_selection, renamed
from .refs import SecretRef
from .secrets import newest_first


@dataclass(frozen=True)
class CopySelection:
    from_url: str
    to_url: str
    names: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    tags: dict[str, str] | None = None
    rename: tuple[str, str] | None = None
    all_versions: bool = False

    @property
    def by_name_only(self) -> bool:
        return bool(self.names) and not self.prefixes and not self.tags


@dataclass(frozen=True)
class Destination:
    latest: dict[str, Secret]  # lower-cased name -> latest version, with its value
    deleted: set[str]  # lower-cased names that are deleted but recoverable


def read_source(
    factory: BackendFactory, sel: CopySelection, *, concurrency: int, now: dt.datetime, on_read: Callable[[int], None]
) -> list[Wanted]:
    if sel.by_name_only:
        fetched = fetch_bulk(
            factory, [SecretRef(sel.from_url, n) for n in sel.names], concurrency=concurrency, on_fetched=on_read
        )
        secrets = fetched.referenced
    else:
        selection = Selection(tags=sel.tags or {}, names=frozenset(n.lower() for n in sel.names), prefixes=sel.prefixes)
        listing = Listing(sel.from_url, selection, now)
        secrets = fetch_bulk(factory, listing=listing, concurrency=concurrency, on_fetched=on_read).matched
    if sel.all_versions:
        histories = _histories(factory, sel.from_url, secrets, concurrency, on_read)
    else:
        histories = [(Content.of(s),) for s in secrets]
    wanted = [Wanted(s.name, renamed(s.name, sel.rename), h) for s, h in zip(secrets, histories, strict=True)]
    check_distinct(wanted)
    return wanted


def _histories(
    factory: BackendFactory, vault_url: str, secrets: Sequence[Secret], concurrency: int, on_read: Callable[[int], None]
) -> list[tuple[Content, ...]]:
    """Every enabled version of each secret, oldest first (disabled versions are not copied)."""
    backend = factory(vault_url)

    def history(secret: Secret) -> tuple[Content, ...]:
        versions = [v for v in reversed(newest_first(backend.list_versions(secret.name))) if v.attributes.enabled]
        out = []
        for v in versions:
            out.append(Content.of(secret if v.version == secret.version else backend.get(secret.name, v.version)))
            on_read(1)
        return tuple(out) or (Content.of(secret),)

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(secrets) or 1))) as pool:
        futures = [pool.submit(history, s) for s in secrets]
    failures: list[tuple[str, KvctlError]] = []
    results: list[tuple[Content, ...]] = []
    for s, f in zip(secrets, futures, strict=True):
        try:
            results.append(f.result())
        except KvctlError as exc:
            failures.append((s.name, exc))
    if failures:
        raise partial_failure(failures, len(secrets))
    return results


def read_destination_by_name(
    factory: BackendFactory, vault_url: str, names: Sequence[str], *, concurrency: int
) -> dict[str, Secret]:
    """The latest version of each name that exists (missing ones are left out)."""
    backend = factory(vault_url)

    def latest(name: str) -> Secret | None:
        try:
            return backend.get(name)
        except NotFoundError:
            return None
        except ForbiddenError:
            # The service refuses to read a disabled version; a disabled latest version is
            # treated as no version (as the listing does), so an enabled one is written on top.
            versions = newest_first(backend.list_versions(name))
            if versions and versions[0].attributes.enabled is False:
                return None
            raise

    unique = list({n.lower(): n for n in names}.values())
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(unique) or 1))) as pool:
        futures = {n: pool.submit(latest, n) for n in unique}
    found: dict[str, Secret] = {}
    failures: list[tuple[str, KvctlError]] = []
    for name, future in futures.items():
        try:
            secret = future.result()
        except KvctlError as exc:
            failures.append((name, exc))
            continue
        if secret is not None:
            found[name.lower()] = secret
    if failures:
        raise partial_failure(failures, len(unique))
    return found


def read_destination_listed(
    factory: BackendFactory, vault_url: str, selection: Selection, *, concurrency: int, now: dt.datetime
) -> dict[str, Secret]:
    fetched = fetch_bulk(factory, listing=Listing(vault_url, selection, now), concurrency=concurrency)
    return {s.name.lower(): s for s in fetched.matched}


def deleted_names(factory: BackendFactory, vault_url: str, names: Sequence[str]) -> set[str]:
    """Which of `names` are deleted but recoverable in the vault (one paged listing). Without the
    right to list deleted secrets, none are assumed: a write then reports the conflict."""
    if not names:
        return set()
    wanted = {n.lower() for n in names}
    try:
        return {s.name.lower() for s in factory(vault_url).list_deleted() if s.name.lower() in wanted}
    except ForbiddenError:
        return set()


def read_both(
    source: BackendFactory,
    destination: BackendFactory,
    sel: CopySelection,
    *,
    concurrency: int,
    now: dt.datetime,
    on_read: Callable[[int], None],
) -> tuple[list[Wanted], Destination]:
    """The source's wanted secrets and the destination's state, read at the same time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        src = pool.submit(read_source, source, sel, concurrency=concurrency, now=now, on_read=on_read)
        if sel.by_name_only:
            names = [renamed(n, sel.rename) for n in sel.names]
            dst = pool.submit(read_destination_by_name, destination, sel.to_url, names, concurrency=concurrency)
        else:
            selection = destination_selection(sel.names, sel.prefixes, sel.rename)
            dst = pool.submit(
                read_destination_listed, destination, sel.to_url, selection, concurrency=concurrency, now=now
            )
        wanted = src.result()
        latest = dst.result()
    missing = [w.name for w in wanted if w.name.lower() not in latest]
    return wanted, Destination(latest, deleted_names(destination, sel.to_url, missing))


def read_for_import(
    factory: BackendFactory, vault_url: str, wanted: Sequence[Wanted], *, concurrency: int
) -> Destination:
    latest = read_destination_by_name(factory, vault_url, [w.name for w in wanted], concurrency=concurrency)
    missing = [w.name for w in wanted if w.name.lower() not in latest]
    return Destination(latest, deleted_names(factory, vault_url, missing))
