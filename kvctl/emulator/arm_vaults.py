"""ARM: Key Vault resources (GET / PATCH / list, access policies) with the service's rules.
PUT, DELETE and the deleted vaults are in arm_vault_write."""

from __future__ import annotations

import re
from typing import Any

from .arm_vault_write import VaultWrites
from .authz import authorize_arm_action
from .http import ApiError, Request, Response, bad_request
from .store import VaultRecord
from .vault_rules import SETTABLE, VaultRuleError, check_properties, check_resource_tags
from .world import World, utc_iso

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_SECRET_PERMISSIONS = {"all", "get", "list", "set", "delete", "backup", "restore", "recover", "purge"}


def vault_not_found(world: World, name: str, group: str | None = None) -> ApiError:
    return ApiError(
        404,
        "ResourceNotFound",
        f"The Resource 'Microsoft.KeyVault/vaults/{name}' under resource group "
        f"'{group or world.site.resource_group}' was not found. For more details please go to "
        "https://aka.ms/ARMResourceNotFoundFix",
    )


class VaultHandlers:
    def __init__(self, world: World) -> None:
        self.world = world
        self.writes = VaultWrites(world, self._vault_json, self._checked_policies)

    def find(self, group: str, name: str, subscription: str | None = None) -> VaultRecord:
        """The vault `name` in resource group `group` (of `subscription`), or ARM's 404."""
        vault = self.world.store.get_vault(name)
        subscription = subscription or self.world.site.subscription_id
        if (
            vault is None
            or self.world.vault_group(vault.name).lower() != group.lower()
            or self.world.vault_subscription(vault.name).lower() != subscription.lower()
        ):
            raise vault_not_found(self.world, name, group)
        return vault

    def _vault_json(self, vault: VaultRecord) -> dict[str, Any]:
        return {
            "id": self.world.vault_resource_id(vault.name),
            "name": vault.name,
            "type": "Microsoft.KeyVault/vaults",
            "location": vault.location,
            "tags": vault.tags,
            "systemData": {
                "createdAt": vault.created,
                "createdBy": self.world.admin().client_id,
                "createdByType": "Application",
                "lastModifiedAt": vault.updated,
                "lastModifiedBy": self.world.admin().client_id,
                "lastModifiedByType": "Application",
            },
            "properties": vault.properties,
        }

    def _readable_vaults(self, claims: dict[str, Any], subscription: str | None = None) -> list[VaultRecord]:
        """The vaults the caller may read: of one subscription, or (None) of every one."""
        out = []
        for vault in self.world.store.list_vaults():
            if subscription is not None and self.world.vault_subscription(vault.name).lower() != subscription.lower():
                continue
            try:
                authorize_arm_action(
                    self.world, claims, "Microsoft.KeyVault/vaults/read", self.world.vault_resource_id(vault.name)
                )
            except ApiError:
                continue
            out.append(vault)
        return out

    def list_vaults(
        self, claims: dict[str, Any], request: Request, group: str | None = None, subscription: str | None = None
    ) -> Response:
        self.world.knobs.count("armVaultReads")
        vaults = self._readable_vaults(claims, subscription or self.world.site.subscription_id)
        if group is not None:
            vaults = [v for v in vaults if self.world.vault_group(v.name).lower() == group.lower()]
        top = request.query.get("$top")
        if top:
            if not top.isdigit() or int(top) < 1:
                raise bad_request(f"The value of $top '{top}' is not valid.", "InvalidParameter")
            vaults = vaults[: int(top)]
        return Response(200, {"value": [self._vault_json(v) for v in vaults]})

    def readable(self, claims: dict[str, Any], subscription: str | None = None) -> list[VaultRecord]:
        return self._readable_vaults(claims, subscription or self.world.site.subscription_id)

    def readable_anywhere(self, claims: dict[str, Any]) -> list[VaultRecord]:
        return self._readable_vaults(claims, None)

    def vault(
        self, request: Request, group: str, name: str, claims: dict[str, Any], subscription: str | None = None
    ) -> Response:
        if request.method == "PUT":
            return self.writes.put(request, group, name, claims, subscription)
        if request.method == "DELETE":
            return self.writes.delete(group, name, claims, subscription)
        vault = self.find(group, name, subscription)
        resource_id = self.world.vault_resource_id(vault.name)
        if request.method == "GET":
            self.world.knobs.count("armVaultReads")
            authorize_arm_action(self.world, claims, "Microsoft.KeyVault/vaults/read", resource_id)
            return Response(200, self._vault_json(vault))
        if request.method == "PATCH":
            authorize_arm_action(self.world, claims, "Microsoft.KeyVault/vaults/write", resource_id)
            body = request.json()
            if not isinstance(body, dict):
                raise bad_request(
                    "The request content was invalid and could not be deserialized.", "InvalidRequestContent"
                )
            updated = self._patched(vault, body)
            self.world.store.put_vault(updated)
            return Response(200, self._vault_json(updated))
        raise ApiError(405, "MethodNotAllowed", f"The method {request.method} is not supported on vaults here.")

    def _patched(self, vault: VaultRecord, body: dict[str, Any]) -> VaultRecord:
        changes = body.get("properties") or {}
        if not isinstance(changes, dict):
            raise bad_request("The request content was invalid and could not be deserialized.", "InvalidRequestContent")
        current = vault.properties
        merged = dict(current)
        for key in SETTABLE:
            if key in changes and changes[key] is not None and key != "tenantId":
                merged[key] = changes[key]
        self.writes.check_transition(current, merged)
        try:
            check_properties(merged)
            tags = check_resource_tags(body.get("tags", vault.tags))
        except VaultRuleError as exc:
            raise bad_request(str(exc)) from None
        merged["accessPolicies"] = self._checked_policies(merged.get("accessPolicies") or [])
        return VaultRecord(vault.name, vault.location, tags, merged, vault.created, utc_iso())

    def _checked_policies(self, policies: Any) -> list[dict[str, Any]]:
        if not isinstance(policies, list):
            raise bad_request('The property "accessPolicies" must be an array.')
        for policy in policies:
            if not isinstance(policy, dict) or not _GUID.match(str(policy.get("objectId", ""))):
                raise bad_request("Each access policy needs a GUID objectId.")
            if str(policy.get("tenantId", "")).lower() != self.world.site.tenant_id.lower():
                raise bad_request("An access policy's tenantId must be the vault's tenant.")
            secrets = (policy.get("permissions") or {}).get("secrets") or []
            unknown = {str(p).lower() for p in secrets} - _SECRET_PERMISSIONS
            if unknown:
                raise bad_request(f"Unknown secret permission(s): {', '.join(sorted(unknown))}.")
        return policies

    def update_access_policy(
        self,
        request: Request,
        group: str,
        name: str,
        kind: str,
        claims: dict[str, Any],
        subscription: str | None = None,
    ) -> Response:
        vault = self.find(group, name, subscription)
        resource_id = self.world.vault_resource_id(vault.name)
        authorize_arm_action(self.world, claims, "Microsoft.KeyVault/vaults/accessPolicies/write", resource_id)
        body = request.json()
        entries = self._checked_policies(((body or {}).get("properties") or {}).get("accessPolicies") or [])
        policies = [dict(p) for p in vault.properties.get("accessPolicies") or []]
        by_oid = {p["objectId"].lower(): p for p in policies}
        for entry in entries:
            existing = by_oid.get(entry["objectId"].lower())
            if kind == "replace" or existing is None:
                if kind != "remove":
                    if existing is not None:
                        policies.remove(existing)
                    policies.append(entry)
                continue
            merged_perms = dict(existing.get("permissions") or {})
            for family, perms in (entry.get("permissions") or {}).items():
                have = list(merged_perms.get(family) or [])
                if kind == "add":
                    have += [p for p in perms if p not in have]
                else:
                    have = [p for p in have if p not in perms]
                merged_perms[family] = have
            existing["permissions"] = merged_perms
        updated = VaultRecord(
            vault.name,
            vault.location,
            vault.tags,
            {**vault.properties, "accessPolicies": policies},
            vault.created,
            utc_iso(),
        )
        self.world.store.put_vault(updated)
        return Response(
            200,
            {
                "id": f"{resource_id}/accessPolicies/{kind}",
                "type": "Microsoft.KeyVault/vaults/accessPolicies",
                "properties": {"accessPolicies": entries},
            },
        )
