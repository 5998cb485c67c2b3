"""ARM: vault PUT (create, update, recover), DELETE, and the deleted vaults (list, get, purge).

A vault created here is served at once on a port of its own and listed in emulator.json.
The PUT answers as a long-running operation the management SDKs poll: a new vault's first
answer says `RegisteringDns`, and a GET of the vault then says `Succeeded`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .arm_groups import normalize_location
from .arm_store import DeletedVaultRecord, VaultRecord
from .authz import authorize_arm_action
from .http import ApiError, Request, Response, bad_request
from .vault_rules import SETTABLE, VAULT_NAME, VaultRuleError, check_properties, check_resource_tags
from .world import World, default_vault_properties, utc_iso

SOFT_DELETE_LINK = "https://go.microsoft.com/fwlink/?linkid=2149745"


def vault_name_invalid(name: str) -> ApiError:
    return bad_request(
        f"The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. "
        "The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens. "
        "Follow this link for more information: https://go.microsoft.com/fwlink/?linkid=2147742",
        "VaultNameNotValid",
    )


def _invalid_body() -> ApiError:
    return bad_request("The request content was invalid and could not be deserialized.", "InvalidRequestContent")


class VaultWrites:
    def __init__(self, world: World, vault_json: Any, check_policies: Any) -> None:
        self.world = world
        self.vault_json = vault_json
        self.check_policies = check_policies
        # Check-then-act on vault names (create, recover, delete, purge) happens one at a time:
        # two racing PUTs of one new name must not both open a port.
        self._lock = threading.RLock()

    def _resource_id(self, group: str, name: str, subscription: str | None = None) -> str:
        return (
            f"/subscriptions/{subscription or self.world.site.subscription_id}/resourceGroups/{group}"
            f"/providers/Microsoft.KeyVault/vaults/{name}"
        )

    # -- PUT -----------------------------------------------------------------------------------

    def put(
        self, request: Request, group: str, name: str, claims: dict[str, Any], subscription: str | None = None
    ) -> Response:
        with self._lock:
            return self._put(request, group, name, claims, subscription or self.world.site.subscription_id)

    def _put(self, request: Request, group: str, name: str, claims: dict[str, Any], subscription: str) -> Response:
        if not VAULT_NAME.match(name):
            raise vault_name_invalid(name)
        authorize_arm_action(
            self.world, claims, "Microsoft.KeyVault/vaults/write", self._resource_id(group, name, subscription)
        )
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise _invalid_body()
        location = body.get("location")
        if not isinstance(location, str) or not location.strip():
            raise bad_request("The location property is required for this definition.", "LocationRequired")
        props: dict[str, Any] = body["properties"]
        try:
            tags = check_resource_tags(body.get("tags")) if body.get("tags") is not None else None
        except VaultRuleError as exc:
            raise bad_request(str(exc), "InvalidRequestContent") from None
        if str(props.get("createMode") or "default").lower() == "recover":
            return self._recover(group, name, normalize_location(location), claims)
        existing = self.world.store.get_vault(name)
        if existing is not None:
            if (
                self.world.vault_group(existing.name).lower() != group.lower()
                or self.world.vault_subscription(existing.name).lower() != subscription.lower()
            ):
                raise ApiError(
                    409,
                    "VaultAlreadyExists",
                    f"The vault name '{name}' is already in use. Vault names are globally unique so it is possible "
                    "that the name is already taken. If you are sure that the vault name was not taken then it is "
                    "possible that a vault with the same name was recently deleted but not purged after being "
                    "placed in a recoverable state. If the vault is in a recoverable state then the vault will need "
                    "to be purged before reusing the name. For more information on soft delete and purging a vault "
                    "follow this link https://go.microsoft.com/fwlink/?linkid=2147740.",
                )
            if normalize_location(location) != existing.location:
                raise bad_request(
                    f"The resource '{existing.name}' already exists in location '{existing.location}' in resource "
                    f"group '{group}'. A resource with the same name cannot be created in location "
                    f"'{normalize_location(location)}'. Please select a new resource name.",
                    "InvalidResourceLocation",
                )
            updated = self._updated(existing, props, tags)
            self.world.store.put_vault(updated)
            return Response(200, self.vault_json(updated))
        if self.world.store.get_deleted_vault(name) is not None:
            raise ApiError(
                409,
                "ConflictError",
                "A vault with the same name already exists in deleted state. You need to either recover or purge "
                f"existing key vault. Follow this link {SOFT_DELETE_LINK} for more information on soft delete.",
            )
        return self._create(group, name, normalize_location(location), props, tags or {}, subscription)

    def _merged(self, current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        merged = dict(current)
        for key in SETTABLE:
            if changes.get(key) is not None:
                merged[key] = changes[key]
        tenant = str(merged.get("tenantId", "")).lower()
        if tenant != self.world.site.tenant_id.lower():
            raise bad_request(
                f"The tenant '{merged.get('tenantId')}' is not the subscription's tenant "
                f"'{self.world.site.tenant_id}'.",
                "BadRequest",
            )
        try:
            check_properties(merged)
        except VaultRuleError as exc:
            raise bad_request(str(exc)) from None
        merged["accessPolicies"] = self.check_policies(merged.get("accessPolicies") or [])
        return merged

    def check_transition(self, current: dict[str, Any], merged: dict[str, Any]) -> None:
        """The irreversible settings (shared by PUT and PATCH)."""
        if current.get("enableSoftDelete", True) and merged.get("enableSoftDelete") is False:
            raise bad_request(
                'The property "enableSoftDelete" cannot be set to false. Enabling the soft delete for a vault is an '
                "irreversible action."
            )
        if current.get("enablePurgeProtection") and merged.get("enablePurgeProtection") is False:
            raise bad_request(
                'The property "enablePurgeProtection" cannot be set to false. Enabling the purge protection for a '
                "vault is an irreversible action."
            )

    def _updated(self, vault: VaultRecord, props: dict[str, Any], tags: dict[str, str] | None) -> VaultRecord:
        merged = self._merged(vault.properties, props)
        self.check_transition(vault.properties, merged)
        # What the service computes is not the caller's to set.
        merged["vaultUri"] = vault.properties.get("vaultUri")
        merged["provisioningState"] = "Succeeded"
        return VaultRecord(
            vault.name, vault.location, vault.tags if tags is None else tags, merged, vault.created, utc_iso()
        )

    def _create(
        self,
        group: str,
        name: str,
        location: str,
        props: dict[str, Any],
        tags: dict[str, str],
        subscription: str,
    ) -> Response:
        if props.get("enableSoftDelete") is False:
            raise bad_request(
                'The property "enableSoftDelete" cannot be set to false. Soft delete is enabled for every new vault.'
            )
        if not isinstance(props.get("sku"), dict):
            raise bad_request('The property "sku" is required.', "BadRequest")
        if self.world.hosting is None:
            raise ApiError(501, "NotImplemented", "This emulator cannot serve new vaults.")
        base = default_vault_properties(self.world.site.tenant_id, "https://127.0.0.1/")
        merged = self._merged(base, props)

        def make(url: str) -> VaultRecord:
            now = utc_iso()
            properties = {**merged, "vaultUri": url.rstrip("/") + "/", "provisioningState": "Succeeded"}
            return VaultRecord(name, location, tags, properties, now, now)

        self.world.store.set_vault_group(name, self._group_name(group))
        self.world.store.set_vault_subscription(name, subscription)
        record = self.world.hosting.open_vault(name, make)
        body = self.vault_json(record)
        body["properties"] = {**body["properties"], "provisioningState": "RegisteringDns"}
        # The SDKs poll the vault (a GET) after Retry-After seconds, until `Succeeded`.
        return Response(200, body, {"Retry-After": "1"})

    def _group_name(self, group: str) -> str:
        stored = self.world.store.get_group(group)
        return stored.name if stored else group

    def _recover(self, group: str, name: str, location: str, claims: dict[str, Any]) -> Response:
        deleted = self.world.store.get_deleted_vault(name)
        if deleted is None or deleted.vault.location != location:
            raise ApiError(
                404,
                "ResourceNotFound",
                f"The deleted vault '{name}' was not found in location '{location}'.",
            )
        if self.world.hosting is None:
            raise ApiError(501, "NotImplemented", "This emulator cannot serve new vaults.")
        old = deleted.vault
        self.world.store.forget_deleted_vault(name)
        self.world.store.set_vault_group(old.name, self._group_name(group))

        def make(url: str) -> VaultRecord:
            properties = {**old.properties, "vaultUri": url.rstrip("/") + "/", "provisioningState": "Succeeded"}
            return VaultRecord(old.name, old.location, old.tags, properties, old.created, utc_iso())

        record = self.world.hosting.open_vault(old.name, make)
        return Response(200, self.vault_json(record))

    # -- DELETE --------------------------------------------------------------------------------

    def delete(self, group: str, name: str, claims: dict[str, Any], subscription: str | None = None) -> Response:
        with self._lock:
            return self._delete(group, name, claims, subscription or self.world.site.subscription_id)

    def _delete(self, group: str, name: str, claims: dict[str, Any], subscription: str) -> Response:
        vault = self.world.store.get_vault(name)
        if (
            vault is None
            or self.world.vault_group(vault.name).lower() != group.lower()
            or self.world.vault_subscription(vault.name).lower() != subscription.lower()
        ):
            return Response(204)
        authorize_arm_action(
            self.world, claims, "Microsoft.KeyVault/vaults/delete", self.world.vault_resource_id(vault.name)
        )
        self.remove(vault)
        return Response(200)

    def remove(self, vault: VaultRecord) -> None:
        """Delete a vault: soft delete keeps it (and its secrets) for the retention period."""
        with self._lock:
            self._remove(vault)

    def _remove(self, vault: VaultRecord) -> None:
        group = self.world.vault_group(vault.name)
        if self.world.hosting is not None:
            self.world.hosting.close_vault(vault.name)
        if vault.properties.get("enableSoftDelete", True):
            days = int(vault.properties.get("softDeleteRetentionInDays") or 90)
            now = time.time()
            self.world.store.soft_delete_vault(
                DeletedVaultRecord(vault, group, utc_iso(now), utc_iso(now + days * 86400))
            )
        else:
            self.world.store.erase_vault(vault.name)

    # -- deleted vaults ------------------------------------------------------------------------

    def deleted_json(self, deleted: DeletedVaultRecord) -> dict[str, Any]:
        v = deleted.vault
        return {
            "id": (
                f"/subscriptions/{self.world.site.subscription_id}/providers/Microsoft.KeyVault/locations/"
                f"{v.location}/deletedVaults/{v.name}"
            ),
            "name": v.name,
            "type": "Microsoft.KeyVault/deletedVaults",
            "properties": {
                "vaultId": self._resource_id(deleted.resource_group, v.name),
                "location": v.location,
                "deletionDate": deleted.deletion_date,
                "scheduledPurgeDate": deleted.scheduled_purge_date,
                "tags": v.tags,
                "purgeProtectionEnabled": bool(v.properties.get("enablePurgeProtection")),
            },
        }

    def list_deleted(self, claims: dict[str, Any]) -> Response:
        scope = f"/subscriptions/{self.world.site.subscription_id}"
        authorize_arm_action(self.world, claims, "Microsoft.KeyVault/deletedVaults/read", scope)
        return Response(200, {"value": [self.deleted_json(d) for d in self.world.store.list_deleted_vaults()]})

    def _find_deleted(self, location: str, name: str) -> DeletedVaultRecord:
        deleted = self.world.store.get_deleted_vault(name)
        if deleted is None or deleted.vault.location != normalize_location(location):
            raise ApiError(
                404,
                "ResourceNotFound",
                f"The specified deleted vault '{name}' does not exist in location '{normalize_location(location)}'.",
            )
        return deleted

    def get_deleted(self, location: str, name: str, claims: dict[str, Any]) -> Response:
        scope = f"/subscriptions/{self.world.site.subscription_id}"
        authorize_arm_action(self.world, claims, "Microsoft.KeyVault/deletedVaults/read", scope)
        return Response(200, self.deleted_json(self._find_deleted(location, name)))

    def purge(self, location: str, name: str, claims: dict[str, Any]) -> Response:
        with self._lock:
            return self._purge(location, name, claims)

    def _purge(self, location: str, name: str, claims: dict[str, Any]) -> Response:
        scope = f"/subscriptions/{self.world.site.subscription_id}"
        authorize_arm_action(self.world, claims, "Microsoft.KeyVault/locations/deletedVaults/purge/action", scope)
        deleted = self._find_deleted(location, name)
        if deleted.vault.properties.get("enablePurgeProtection"):
            raise ApiError(
                409,
                "Conflict",
                f"Vault '{deleted.vault.name}' has purge protection enabled and cannot be purged before its "
                f"scheduled purge date {deleted.scheduled_purge_date}.",
            )
        self.world.store.erase_vault(deleted.vault.name)
        return Response(200)
