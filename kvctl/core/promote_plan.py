"""What `copy` and `import` will do to each destination secret, and why: pure functions.

A destination secret is left alone when its latest version already has the wanted value and
attributes (content type, tags, expiry, not-before), so running the same copy twice makes no
new version the second time. With several wanted versions (`--all-versions`, oldest first), the
versions after the newest one the destination already has are written, so a run that stopped
half way continues where it stopped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from . import validate
from .errors import UsageError
from .models import Secret
from .secrets import ListFilter

ON_DELETED = ("fail", "recover", "purge")


@dataclass(frozen=True)
class Content:
    """One version as copy sees it: the value and the attributes that are carried over."""

    value: str = field(repr=False)
    content_type: str | None = None
    tags: dict[str, str] | None = None
    expires: dt.datetime | None = None
    not_before: dt.datetime | None = None

    @classmethod
    def of(cls, secret: Secret) -> Content:
        return cls(
            secret.value or "",
            secret.content_type,
            dict(secret.tags) if secret.tags else None,
            secret.attributes.expires,
            secret.attributes.not_before,
        )


def _second(moment: dt.datetime | None) -> dt.datetime | None:
    """The service keeps whole seconds; compare at that resolution, in UTC."""
    return moment.astimezone(dt.UTC).replace(microsecond=0) if moment is not None else None


def differences(want: Content, have: Content, *, attributes: bool = True) -> list[str]:
    """What differs between two versions, in words ('value', 'tags', ...); empty when the same."""
    found = [] if want.value == have.value else ["value"]
    if not attributes:
        return found
    if (want.content_type or None) != (have.content_type or None):
        found.append("content type")
    if (want.tags or {}) != (have.tags or {}):
        found.append("tags")
    if _second(want.expires) != _second(have.expires):
        found.append("expires")
    if _second(want.not_before) != _second(have.not_before):
        found.append("not-before")
    return found


@dataclass(frozen=True)
class Wanted:
    """A destination secret and the versions it should end with (oldest first)."""

    source: str  # the source secret's name, or the file's variable
    name: str  # the destination secret's name
    versions: tuple[Content, ...]
    # False for import: only the value counts, and a new version keeps the destination's
    # content type and tags (a file has none to give).
    compare_attributes: bool = True


@dataclass(frozen=True)
class PlanItem:
    wanted: Wanted
    action: str  # create | update | skip | conflict | recover | purge
    reason: str
    writes: tuple[Content, ...] = ()  # versions to write, oldest first

    @property
    def name(self) -> str:
        return self.wanted.name


def plan_item(wanted: Wanted, latest: Secret | None, deleted: bool, on_deleted: str = "fail") -> PlanItem:
    """The plan for one secret, given the destination's latest version (with its value) or None,
    and whether the name is deleted but recoverable there."""
    if deleted:
        if on_deleted == "recover":
            return PlanItem(wanted, "recover", "deleted in the destination: recover it, then compare")
        if on_deleted == "purge":
            return PlanItem(wanted, "purge", "deleted in the destination: purge it, then create", wanted.versions)
        return PlanItem(wanted, "conflict", "the name is deleted but recoverable in the destination")
    if latest is None:
        return PlanItem(wanted, "create", "not in the destination", wanted.versions)
    have = Content.of(latest)
    versions = wanted.versions
    if not wanted.compare_attributes:
        versions = tuple(replace(v, content_type=have.content_type, tags=have.tags) for v in versions)
    matching = [i for i, v in enumerate(versions) if not differences(v, have, attributes=wanted.compare_attributes)]
    if matching and matching[-1] == len(versions) - 1:
        return PlanItem(wanted, "skip", "same value and attributes")
    if matching:
        done = matching[-1] + 1
        return PlanItem(wanted, "update", f"has {done} of {len(versions)} versions", versions[done:])
    differ = differences(versions[-1], have, attributes=wanted.compare_attributes)
    return PlanItem(wanted, "update", "differs: " + ", ".join(differ), versions)


def plan(
    wanted: Sequence[Wanted], latest: dict[str, Secret], deleted: set[str], on_deleted: str = "fail"
) -> list[PlanItem]:
    """`latest` and `deleted` are keyed by lower-cased destination name."""
    return [plan_item(w, latest.get(w.name.lower()), w.name.lower() in deleted, on_deleted) for w in wanted]


# -- names ------------------------------------------------------------------------------------


def parse_rename(text: str | None) -> tuple[str, str] | None:
    """`--rename-prefix OLD=NEW` (NEW may be empty: the prefix is dropped)."""
    if text is None:
        return None
    old, sep, new = text.partition("=")
    if not sep or not old:
        raise UsageError(f"invalid --rename-prefix {text!r}", hint="use --rename-prefix OLD=NEW, e.g. dev-=prod-")
    for part in (old, new):
        if part and not all(c.isascii() and (c.isalnum() or c == "-") for c in part):
            raise UsageError(f"invalid prefix {part!r} in --rename-prefix", hint="letters, digits and '-'")
    return old, new


def renamed(name: str, rename: tuple[str, str] | None) -> str:
    if rename is None or not name.lower().startswith(rename[0].lower()):
        return name
    new = rename[1] + name[len(rename[0]) :]
    if not validate.SECRET_NAME.match(new):
        raise UsageError(f"--rename-prefix turns '{name}' into {new!r}, which is not a valid secret name")
    return new


def check_distinct(wanted: Iterable[Wanted]) -> None:
    """Two sources for one destination name would each overwrite the other: refuse."""
    by_name: dict[str, list[str]] = {}
    for w in wanted:
        by_name.setdefault(w.name.lower(), []).append(w.source)
    clashes = [f"{', '.join(s)} -> {n}" for n, s in by_name.items() if len(s) > 1]
    if clashes:
        raise UsageError("several secrets would be copied to one name: " + "; ".join(clashes))


@dataclass(frozen=True)
class Selection(ListFilter):
    """Listed secrets to copy: those named or under a prefix (everything when neither is given),
    with every tag asked for. Disabled secrets and certificates' secrets are never selected."""

    names: frozenset[str] = frozenset()  # lower-cased
    prefixes: tuple[str, ...] = ()

    def accepts(self, secret: Secret, now: dt.datetime) -> bool:
        # A certificate's secret belongs to the certificate: copying it would make a plain
        # secret that blocks the certificate's name in the destination.
        if secret.managed or not super().accepts(secret, now):
            return False
        if not self.names and not self.prefixes:
            return True
        lower = secret.name.lower()
        return lower in self.names or any(lower.startswith(p.lower()) for p in self.prefixes)


def destination_selection(names: Iterable[str], prefixes: Sequence[str], rename: tuple[str, str] | None) -> Selection:
    """Destination secrets that a copy with this selection may compare with (no tag filter:
    destination tags may differ). Read at the same time as the source."""
    wanted_names = frozenset(renamed(n, rename).lower() for n in names)
    candidates: list[str] = []
    for p in prefixes:
        candidates.append(p)
        if rename is not None:
            old, new = rename[0].lower(), rename[1]
            if p.lower().startswith(old):
                candidates.append(new + p[len(old) :])
            elif old.startswith(p.lower()):
                candidates.append(new)
    if not wanted_names and not prefixes:
        return Selection()
    # An empty candidate (a rename to no prefix) matches every name, which is what it means.
    return Selection(names=wanted_names, prefixes=tuple(candidates))
