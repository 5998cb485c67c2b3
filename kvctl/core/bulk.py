"""Fetching many secret values at once: concurrently, de-duplicated, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from .backend import BackendFactory
from .errors import KvctlError, PartialFailure
from .models import Secret
from .refs import SecretRef
from .secrets import get_secret


def fetch_values(factory: BackendFactory, refs: Sequence[SecretRef], *, concurrency: int) -> list[Secret]:
    """The values of `refs`, in order. If any fails, raise one error that names every failure."""
    unique: dict[tuple[str, str, str | None], SecretRef] = {}
    for ref in refs:
        unique.setdefault(ref.key, ref)
    results: dict[tuple[str, str, str | None], Secret] = {}
    failures: list[tuple[str, KvctlError]] = []
    if len(unique) == 1:
        ref = next(iter(unique.values()))
        results[ref.key] = get_secret(factory, ref)
    else:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(unique)))) as pool:
            futures = {key: pool.submit(get_secret, factory, ref) for key, ref in unique.items()}
            for key, future in futures.items():
                try:
                    results[key] = future.result()
                except KvctlError as exc:
                    failures.append((unique[key].name, exc))
    if failures:
        raise partial_failure(failures, len(unique))
    return [results[ref.key] for ref in refs]


def partial_failure(failures: list[tuple[str, KvctlError]], total: int) -> PartialFailure:
    if len(failures) == 1:
        raise failures[0][1]
    listed = "; ".join(f"{name}: {error.message}" for name, error in failures[:20])
    more = f" (and {len(failures) - 20} more)" if len(failures) > 20 else ""
    return PartialFailure(
        f"{len(failures)} of {total} secrets could not be fetched: {listed}{more}",
        failures,
        hint="nothing was written; fix or leave out the secrets above",
    )
