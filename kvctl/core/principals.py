"""Who an `--assignee` is: an object id, a client (app) id, a user principal name or a unique
display name, resolved through the directory (Microsoft Graph) to one principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from . import validate
from .errors import ForbiddenError, KvctlError, PrincipalNotFoundError, UsageError

MAX_ASSIGNEE_LENGTH = 256


@dataclass(frozen=True)
class Principal:
    object_id: str
    kind: str  # ServicePrincipal | User | Group (ARM's principalType)
    display_name: str | None = None
    app_id: str | None = None
    upn: str | None = None

    @property
    def label(self) -> str:
        """How a person recognises it: the UPN of a user, else its display name, else the id."""
        return self.upn or self.display_name or self.object_id


class DirectoryBackend(Protocol):
    def get_by_ids(self, object_ids: list[str]) -> list[Principal]: ...

    def service_principals_with_app_id(self, app_id: str) -> list[Principal]: ...

    def user(self, upn: str) -> Principal | None: ...

    def with_display_name(self, name: str) -> list[Principal]: ...


class DirectoryUnavailable(KvctlError):
    """The directory could not be asked (no Graph permission, or Graph unreachable)."""


@dataclass(frozen=True)
class Resolved:
    """The assignee as ARM needs it, and how it was found."""

    object_id: str
    principal: Principal | None  # None: taken as an object id without a directory lookup
    note: str | None = None


def validate_assignee(text: str) -> str:
    value = text.strip()
    if not value or len(value) > MAX_ASSIGNEE_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UsageError(
            f"invalid assignee {text!r}", hint="an object id, a client (app) id, a user principal name or a name"
        )
    return value


def resolve(
    directory: DirectoryBackend | None, assignee: str, *, lookup: bool = True, missing_ok: bool = False
) -> Resolved:
    """Find the one principal `assignee` names.

    `lookup=False` (the caller gave --assignee-type): a GUID is taken as the object id as it is,
    which is what a principal created a moment ago needs (the directory may not show it yet).
    `missing_ok` (revoke): a GUID no principal has is still an object id that assignments may name.
    When the directory cannot be read at all, a GUID is taken as an object id, with a note.
    """
    assignee = validate_assignee(assignee)
    is_guid = bool(validate.GUID.match(assignee))
    if is_guid and (not lookup or directory is None):
        return Resolved(assignee.lower(), None)
    if directory is None:
        raise UsageError(
            f"cannot resolve assignee {assignee!r} without Microsoft Graph", hint="pass the object id instead"
        )
    try:
        return _resolve(directory, assignee, is_guid, missing_ok)
    except DirectoryUnavailable as exc:
        if is_guid:
            return Resolved(assignee.lower(), None, f"{exc}; taking {assignee} as an object id")
        raise ForbiddenError(
            f"cannot resolve assignee {assignee!r}: {exc}",
            hint="pass the object id and principal type instead, or use an identity that may read the directory",
        ) from None


def _resolve(directory: DirectoryBackend, assignee: str, is_guid: bool, missing_ok: bool) -> Resolved:
    if is_guid:
        by_object = directory.get_by_ids([assignee])
        if by_object:
            return Resolved(by_object[0].object_id.lower(), by_object[0])
        by_app = directory.service_principals_with_app_id(assignee)
        if len(by_app) == 1:
            found = by_app[0]
            return Resolved(
                found.object_id.lower(), found, f"client id {assignee} is {found.label} ({found.object_id})"
            )
        if missing_ok:
            return Resolved(assignee.lower(), None)
        raise PrincipalNotFoundError(
            f"no principal with object id or client id {assignee} in the directory",
            hint="check the id; right after creating an identity, pass its object id and principal type "
            "(ServicePrincipal, User or Group) to skip the directory lookup",
        )
    if "@" in assignee:
        user = directory.user(assignee)
        if user is not None:
            return Resolved(user.object_id.lower(), user)
        raise PrincipalNotFoundError(f"no user {assignee} in the directory", hint="check the user principal name")
    found_all = directory.with_display_name(assignee)
    if len(found_all) == 1:
        return Resolved(found_all[0].object_id.lower(), found_all[0])
    if not found_all:
        raise PrincipalNotFoundError(
            f"no principal named {assignee!r} in the directory",
            hint="pass an object id, a client id, a user principal name or an exact display name",
        )
    candidates = "; ".join(f"{p.kind} {p.label} ({p.object_id})" for p in found_all[:10])
    more = f" and {len(found_all) - 10} more" if len(found_all) > 10 else ""
    raise UsageError(
        f"assignee {assignee!r} names {len(found_all)} principals: {candidates}{more}",
        hint="pass the object id of the one you mean",
    )


def names_for(directory: DirectoryBackend | None, object_ids: list[str]) -> tuple[dict[str, Principal], str | None]:
    """Principals by lower-cased object id, for showing names; (found, why names are missing)."""
    wanted = sorted({o.lower() for o in object_ids if validate.GUID.match(o)})
    if directory is None or not wanted:
        return {}, None
    found: dict[str, Principal] = {}
    try:
        for start in range(0, len(wanted), 1000):
            for principal in directory.get_by_ids(wanted[start : start + 1000]):
                found[principal.object_id.lower()] = principal
    except KvctlError as exc:  # names are a courtesy: no Graph (permission, network) must not fail a listing
        return found, str(exc)
    return found, None
