"""Fetching many secret values at once: concurrently, de-duplicated, all or nothing."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .backend import BackendFactory
from .errors import KvctlError, PartialFailure, UnavailableError
from .models import Secret
from .refs import SecretRef
from .secrets import ListFilter, get_secret, list_secrets


def fetch_values(factory: BackendFactory, refs: Sequence[SecretRef], *, concurrency: int) -> list[Secret]:
    """The values of `refs`, in order. If any fails, raise one error that names every failure.

    The first value is fetched alone, and how long it took sizes the pool for the rest (see
    `useful_workers`): the first request also settles what every later one shares (the token, the
    vault's challenge, a kept-alive connection), so the rest never race to do it in parallel."""
    unique: dict[tuple[str, str, str | None], SecretRef] = {}
    for ref in refs:
        unique.setdefault(ref.key, ref)
    results: dict[tuple[str, str, str | None], Secret] = {}
    failures: list[tuple[str, KvctlError]] = []
    pending = list(unique.items())
    first_key, first_ref = pending.pop(0)
    first, workers = _first_alone(factory, first_ref, concurrency)
    if isinstance(first, KvctlError):
        if not pending:
            raise first
        failures.append((first_ref.name, first))
    else:
        results[first_key] = first
    if pending:
        from concurrent.futures import ThreadPoolExecutor  # not loaded for the one secret of a `get`

        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(pending)))) as pool:
            futures = {key: pool.submit(get_secret, factory, ref) for key, ref in pending}
            for key, future in futures.items():
                try:
                    results[key] = future.result()
                except KvctlError as exc:
                    failures.append((unique[key].name, exc))
    if failures:
        raise partial_failure(failures, len(unique))
    return [results[ref.key] for ref in refs]


def _first_alone(factory: BackendFactory, ref: SecretRef, concurrency: int) -> tuple[Secret | KvctlError, int]:
    """The first value, fetched alone (or why it could not be), and the pool it says the rest need."""
    started, started_cpu = time.perf_counter(), time.thread_time()
    outcome: Secret | KvctlError
    try:
        outcome = get_secret(factory, ref)
    except KvctlError as exc:
        outcome = exc
    return outcome, useful_workers(time.perf_counter() - started, time.thread_time() - started_cpu, concurrency)


# kvctl's own CPU per fetched secret once a client is set up (benchmarks/bulk.py measures it: ~1-2 ms).
REQUEST_CPU = 0.002


def useful_workers(wall: float, cpu: float, limit: int) -> int:
    """How many requests in flight keep kvctl busy, from the first request's wall and CPU time.

    Its wait (`wall - cpu`: the network and the service) is what parallel requests overlap; each
    request also needs about REQUEST_CPU of kvctl's own work, one at a time (one interpreter lock).
    Beyond wait/REQUEST_CPU + 1 requests in flight there is no wait left to overlap, and every extra
    thread only adds its own connection and TLS handshake. Next to the vault (the emulator, a few
    ms) that is 2-3; across a real network (tens of ms) it is `limit` (KVCTL_CONCURRENCY). The first
    request's own CPU (building the client, the token, a handshake) is not a guide: it is paid once."""
    wait = max(0.0, wall - cpu)
    return max(1, min(limit, max(2, math.ceil(wait / REQUEST_CPU) + 1)))


def partial_failure(failures: list[tuple[str, KvctlError]], total: int) -> KvctlError:
    """The error to raise: a single failure as itself, several as one that lists them all."""
    if len(failures) == 1:
        return failures[0][1]
    listed = "; ".join(f"{name}: {error.message}" for name, error in failures[:20])
    more = f" (and {len(failures) - 20} more)" if len(failures) > 20 else ""
    return PartialFailure(
        f"{len(failures)} of {total} secrets could not be fetched: {listed}{more}",
        failures,
        hint="nothing was written; fix or leave out the secrets above",
    )


@dataclass(frozen=True)
class Listing:
    """Every secret of one vault that passes `filters` (disabled ones are skipped by default)."""

    vault_url: str
    filters: ListFilter
    now: dt.datetime


@dataclass(frozen=True)
class BulkValues:
    matched: list[Secret]  # the listed secrets with their values, in the service's list order
    referenced: list[Secret]  # the values of the references, in the order given
    count: int  # distinct secrets fetched


def fetch_bulk(
    factory: BackendFactory,
    refs: Sequence[SecretRef] = (),
    *,
    listing: Listing | None = None,
    concurrency: int,
    on_fetched: Callable[[int], None] | None = None,
    on_listed: Callable[[int], None] | None = None,
) -> BulkValues:
    """Values of `refs` and of every secret `listing` finds, all or nothing.

    The list is paged in this thread while a bounded pool fetches each value as soon as its name
    arrives, so fetching every value costs little more than listing them. A secret both listed
    and referenced is fetched once. If any get fails, one error names every failure.
    `on_listed(total)` says how many values there are to fetch once the list is complete.
    """
    futures: dict[tuple[str, str, str | None], Future[Secret]] = {}
    by_key: dict[tuple[str, str, str | None], SecretRef] = {}
    listed: dict[tuple[str, str, str | None], None] = {}  # ordered, without repeats
    from concurrent.futures import Future, ThreadPoolExecutor

    workers = max(1, concurrency)
    if refs:  # the first alone, to size the pool (see fetch_values); a listing alone keeps them all
        outcome, workers = _first_alone(factory, refs[0], concurrency)
        first: Future[Secret] = Future()
        if isinstance(outcome, KvctlError):
            first.set_exception(outcome)
        else:
            first.set_result(outcome)
        futures[refs[0].key], by_key[refs[0].key] = first, refs[0]
        if on_fetched is not None:
            on_fetched(1)

    with ThreadPoolExecutor(max_workers=workers) as pool:

        def submit(ref: SecretRef) -> tuple[str, str, str | None]:
            if ref.key not in futures:
                future = pool.submit(get_secret, factory, ref)
                if on_fetched is not None:
                    future.add_done_callback(lambda _: on_fetched(1))
                futures[ref.key] = future
                by_key[ref.key] = ref
            return ref.key

        wanted = [submit(ref) for ref in refs]
        if listing is not None:
            try:
                for item in list_secrets(factory, listing.vault_url, listing.filters, listing.now):
                    listed[submit(SecretRef(listing.vault_url, item.name))] = None
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        if on_listed is not None:
            on_listed(len(futures))
        results: dict[tuple[str, str, str | None], Secret] = {}
        failed: dict[tuple[str, str, str | None], KvctlError] = {}
        for key, future in futures.items():
            try:
                results[key] = future.result()
            except KvctlError as exc:
                failed[key] = exc
    # Throttled after the SDK's retries while many requests competed for the vault's budget:
    # one more try each, one at a time. A vault that is down fails the first of these again,
    # and then the rest are not tried (each try can take the whole retry schedule).
    for key in [k for k, exc in failed.items() if isinstance(exc, UnavailableError)]:
        try:
            results[key] = get_secret(factory, by_key[key])
            del failed[key]
        except KvctlError as exc:
            failed[key] = exc
            break
    failures = [(by_key[key].name, exc) for key, exc in failed.items()]
    if failures:
        raise partial_failure(failures, len(futures))
    return BulkValues([results[k] for k in listed], [results[k] for k in wanted], len(futures))
