"""Built-in roles by name, and the least-privileged role that would allow a refused action."""

from __future__ import annotations

from ..builtin_roles import BUILTIN_ROLES, ROLES_BY_GUID, BuiltinRole, role_allows
from . import validate
from .errors import NotFoundError

# Least privilege first: the first of these that allows an action is the one to ask for.
_PREFERENCE = (
    "Key Vault Reader",
    "Key Vault Secrets User",
    "Key Vault Secrets Officer",
    "Key Vault Contributor",
    "Key Vault Data Access Administrator",
    "Key Vault Administrator",
    "Role Based Access Control Administrator",
    "User Access Administrator",
    "Contributor",
    "Owner",
)
_BY_NAME = {role.name.lower(): role for role in BUILTIN_ROLES}

DEFAULT_ROLE = "Key Vault Secrets User"


def role_for_action(action: str) -> BuiltinRole | None:
    """The least-privileged built-in role that permits `action` (data or control plane)."""
    for name in _PREFERENCE:
        role = _BY_NAME[name.lower()]
        if role_allows(role, action, data=True) or role_allows(role, action, data=False):
            return role
    return None


def find_role(name_or_guid: str) -> BuiltinRole:
    """A built-in role by name (case-insensitive) or GUID."""
    text = name_or_guid.strip()
    role = ROLES_BY_GUID.get(text.lower()) if validate.GUID.match(text) else _BY_NAME.get(text.lower())
    if role is None:
        known = ", ".join(r.name for r in BUILTIN_ROLES if r.key_vault)
        raise NotFoundError(f"unknown role {name_or_guid!r}", hint=f"Key Vault roles: {known}")
    return role


def key_vault_roles() -> list[BuiltinRole]:
    return [r for r in BUILTIN_ROLES if r.key_vault]
