"""What a new or restarted emulator puts into its world before serving: the admin identity's
roles and the seed's secrets (both idempotent, so a restart with the same state adds nothing)."""

from __future__ import annotations

import time
import uuid

from .seed import SeedSecret
from .store import RoleAssignmentRecord, SecretVersion
from .world import KEY_VAULT_ADMINISTRATOR_GUID, OWNER_ROLE_GUID, World, utc_iso


def grant_admin(world: World, admin_oid: str) -> None:
    """Owner and Key Vault Administrator on every emulated subscription."""
    existing = {(ra.scope, ra.role_definition_id.rsplit("/", 1)[-1]) for ra in world.store.role_assignments()}
    for sub_id, _ in world.subscriptions:
        _grant_admin_at(world, admin_oid, f"/subscriptions/{sub_id}", existing)


def _grant_admin_at(world: World, admin_oid: str, scope: str, existing: set[tuple[str, str]]) -> None:
    for guid in (OWNER_ROLE_GUID, KEY_VAULT_ADMINISTRATOR_GUID):
        if (scope, guid) in existing:
            continue
        world.store.add_role_assignment(
            RoleAssignmentRecord(
                name=str(uuid.uuid4()),
                scope=scope,
                role_definition_id=f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
                principal_id=admin_oid,
                principal_type="ServicePrincipal",
                created_on=utc_iso(),
                created_by=None,
                description="The emulator's admin identity",
            )
        )


def apply_seed(world: World, vault: str, secrets_: list[SeedSecret]) -> None:
    now = int(time.time())
    for spec in secrets_:
        if world.store.get_version(vault, spec.name, None) is not None:
            continue
        if world.store.deleted_info(vault, spec.name) is not None:
            continue
        world.store.add_version(
            vault,
            SecretVersion(
                name=spec.name,
                version=uuid.uuid4().hex,
                value=spec.value,
                content_type=spec.content_type,
                tags=spec.tags,
                enabled=spec.enabled,
                nbf=spec.not_before,
                exp=spec.expires,
                created=spec.created or now,
                updated=spec.created or now,
            ),
        )
