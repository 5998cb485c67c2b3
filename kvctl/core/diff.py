"""Comparing two vaults, or a vault and a dotenv/JSON file, without holding values to compare.

Each value is replaced by a keyed hash (HMAC-SHA256 under a random key made for this run and
never stored) as soon as it is read, so equal values are found equal, nothing that outlives the
run can be matched against a guess, and values are printed only when asked for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .backend import BackendFactory
from .bulk import Listing, fetch_bulk
from .models import Secret
from .namemap import FileEntry
from .promote_plan import Content, differences
from .secrets import ListFilter


class KeyedHash:
    """HMAC-SHA256 under a key that exists only in this process, for this run."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def __repr__(self) -> str:
        return "KeyedHash(<key hidden>)"

    def digest(self, value: str) -> bytes:
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).digest()


@dataclass(frozen=True)
class Entry:
    name: str
    digest: bytes
    attributes: Content | None  # None for a file: it has no attributes to compare
    value: str | None = field(default=None, repr=False)  # kept only with --show-values


@dataclass(frozen=True)
class Side:
    label: str  # the vault URL or the file's path
    kind: str  # vault | file


@dataclass(frozen=True)
class Difference:
    name: str
    fields: tuple[str, ...]
    value_a: str | None = field(default=None, repr=False)
    value_b: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DiffResult:
    a: Side
    b: Side
    only_a: list[str]
    only_b: list[str]
    different: list[Difference]
    same: int
    show_values: bool = False

    @property
    def equal(self) -> bool:
        return not (self.only_a or self.only_b or self.different)

    def to_json(self) -> dict[str, Any]:
        def difference(d: Difference) -> dict[str, Any]:
            out: dict[str, Any] = {"name": d.name, "differences": list(d.fields)}
            if self.show_values:
                out.update(valueA=d.value_a, valueB=d.value_b)
            return out

        return {
            "a": self.a.label,
            "b": self.b.label,
            "equal": self.equal,
            "onlyInA": self.only_a,
            "onlyInB": self.only_b,
            "different": [difference(d) for d in self.different],
            "same": self.same,
        }


def _without_value(content: Content) -> Content:
    return Content("", content.content_type, content.tags, content.expires, content.not_before)


def vault_entries(secrets_: Sequence[Secret], hasher: KeyedHash, keep_values: bool) -> dict[str, Entry]:
    out = {}
    for s in secrets_:
        value = s.value or ""
        out[s.name.lower()] = Entry(
            s.name, hasher.digest(value), _without_value(Content.of(s)), value if keep_values else None
        )
    return out


def file_entries(entries: Sequence[FileEntry], hasher: KeyedHash, keep_values: bool) -> dict[str, Entry]:
    return {
        e.name.lower(): Entry(e.name, hasher.digest(e.value), None, e.value if keep_values else None) for e in entries
    }


def read_vault(
    factory: BackendFactory,
    vault_url: str,
    prefix: str | None,
    hasher: KeyedHash,
    *,
    keep_values: bool,
    concurrency: int,
    now: dt.datetime,
    on_read: Callable[[int], None] | None = None,
) -> dict[str, Entry]:
    """Every enabled secret (under the prefix) as an entry: listed and fetched as `export` does."""
    listing = Listing(vault_url, ListFilter(prefix=prefix), now)
    fetched = fetch_bulk(factory, listing=listing, concurrency=concurrency, on_fetched=on_read)
    return vault_entries(fetched.matched, hasher, keep_values)


def read_pair(
    read_a: Callable[[], dict[str, Entry]], read_b: Callable[[], dict[str, Entry]]
) -> tuple[dict[str, Entry], dict[str, Entry]]:
    """Both sides at once (each is mostly waiting on the network)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(read_a)
        b = pool.submit(read_b)
        return a.result(), b.result()


def compare(
    a: Side, b: Side, left: dict[str, Entry], right: dict[str, Entry], *, show_values: bool = False
) -> DiffResult:
    only_a = sorted(left[k].name for k in left.keys() - right.keys())
    only_b = sorted(right[k].name for k in right.keys() - left.keys())
    different: list[Difference] = []
    same = 0
    for key in sorted(left.keys() & right.keys()):
        x, y = left[key], right[key]
        found = [] if hmac.compare_digest(x.digest, y.digest) else ["value"]
        if x.attributes is not None and y.attributes is not None:
            found += [d for d in differences(x.attributes, y.attributes) if d != "value"]
        if found:
            different.append(Difference(x.name, tuple(found), x.value, y.value))
        else:
            same += 1
    return DiffResult(a, b, only_a, only_b, different, same, show_values)
