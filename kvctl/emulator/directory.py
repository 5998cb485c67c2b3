"""The emulator's Entra directory: every identity is a service principal, `--user NAME` adds
users, `--group NAME=MEMBER,...` adds groups whose members are identities, users or groups.

Users and groups are kept in the state database's meta table as JSON, so a restarted emulator
keeps their object ids (role assignments name principals by object id).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .world import World

TENANT_DOMAIN = "kvctlemulator.onmicrosoft.com"
_USERS_KEY = "directory.users"
_GROUPS_KEY = "directory.groups"
# What a user's or group's name may be: the part of a UPN before the '@', or a group's mailNickname.
DIRECTORY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


@dataclass(frozen=True)
class Principal:
    """One directory object, in the shape every Graph answer is built from."""

    kind: str  # ServicePrincipal | User | Group (ARM's principalType)
    object_id: str
    display_name: str
    created: float
    app_id: str | None = None
    upn: str | None = None
    resource_id: str | None = None
    members: tuple[str, ...] = ()  # object ids, groups only

    @property
    def odata_type(self) -> str:
        return {"ServicePrincipal": "#microsoft.graph.servicePrincipal", "User": "#microsoft.graph.user"}.get(
            self.kind, "#microsoft.graph.group"
        )


class DirectoryError(ValueError):
    """A `--user` or `--group` that cannot be added (bad name, unknown member)."""


class Directory:
    def __init__(self, world: World) -> None:
        self.world = world

    # -- persistence ---------------------------------------------------------------------------

    def _load(self, key: str) -> list[dict[str, Any]]:
        raw = self.world.store.meta(key)
        data = json.loads(raw) if raw else []
        return data if isinstance(data, list) else []

    def _save(self, key: str, items: list[dict[str, Any]]) -> None:
        self.world.store.set_meta(key, json.dumps(items))

    def ensure_user(self, name: str) -> Principal:
        if not DIRECTORY_NAME.match(name):
            raise DirectoryError(f"invalid user name {name!r}: letters, digits, '.', '_' and '-', at most 64")
        upn = f"{name}@{TENANT_DOMAIN}".lower()
        users = self._load(_USERS_KEY)
        if not any(u["upn"] == upn for u in users):
            users.append({"name": name, "upn": upn, "objectId": str(uuid.uuid4()), "created": time.time()})
            self._save(_USERS_KEY, users)
        return next(p for p in self.users() if p.upn == upn)

    def ensure_group(self, name: str, member_names: list[str]) -> Principal:
        if not DIRECTORY_NAME.match(name):
            raise DirectoryError(f"invalid group name {name!r}: letters, digits, '.', '_' and '-', at most 64")
        members = []
        for member in member_names:
            found = self.by_name(member)
            if found is None:
                raise DirectoryError(f"group {name}: no identity, user or group named {member!r}")
            members.append(found.object_id)
        groups = self._load(_GROUPS_KEY)
        for group in groups:
            if group["name"] == name:
                group["members"] = sorted(set(group["members"]) | set(members))
                break
        else:
            groups.append({"name": name, "objectId": str(uuid.uuid4()), "created": time.time(), "members": members})
        self._save(_GROUPS_KEY, groups)
        return next(p for p in self.groups() if p.display_name == name)

    # -- reading -------------------------------------------------------------------------------

    def service_principals(self) -> list[Principal]:
        site = self.world.site
        return [
            Principal(
                "ServicePrincipal",
                i.object_id,
                i.name,
                i.created,
                app_id=i.client_id,
                resource_id=(
                    f"/subscriptions/{site.subscription_id}/resourcegroups/{site.resource_group}"
                    f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{i.name}"
                ),
            )
            for i in self.world.identities()
        ]

    def users(self) -> list[Principal]:
        return [
            Principal("User", u["objectId"], u["name"], float(u["created"]), upn=u["upn"])
            for u in self._load(_USERS_KEY)
        ]

    def groups(self) -> list[Principal]:
        return [
            Principal("Group", g["objectId"], g["name"], float(g["created"]), members=tuple(g["members"]))
            for g in self._load(_GROUPS_KEY)
        ]

    def everything(self) -> list[Principal]:
        return self.service_principals() + self.users() + self.groups()

    def get(self, object_id: str) -> Principal | None:
        wanted = object_id.lower()
        return next((p for p in self.everything() if p.object_id.lower() == wanted), None)

    def by_name(self, name: str) -> Principal | None:
        return next((p for p in self.everything() if p.display_name == name), None)

    def transitive_members(self, group: Principal) -> list[Principal]:
        seen: dict[str, Principal] = {}
        pending = list(group.members)
        while pending:
            found = self.get(pending.pop())
            if found is None or found.object_id in seen or found.object_id == group.object_id:
                continue
            seen[found.object_id] = found
            pending.extend(found.members)
        return list(seen.values())

    def member_of(self, object_id: str) -> set[str]:
        """`object_id` and every group it belongs to, directly or through other groups."""
        out = {object_id.lower()}
        for group in self.groups():
            if any(m.object_id.lower() == object_id.lower() for m in self.transitive_members(group)):
                out.add(group.object_id.lower())
        return out

    def known(self, object_id: str) -> Principal | None:
        """The principal as ARM's directory lookup sees it: unknown for a while after creation."""
        found = self.get(object_id)
        if found is None or time.time() < found.created + self.world.replication_delay:
            return None
        return found
