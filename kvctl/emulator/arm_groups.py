"""ARM: resource groups (PUT / GET / HEAD / list / DELETE) and the generic resource list with
`$filter` (`and` over `resourceType`, `name`, `resourceGroup`), which the Azure CLI uses to find
a vault's resource group (`az keyvault show -n X` without `-g`)."""

from __future__ import annotations

import re
from typing import Any

from .arm_store import ResourceGroupRecord
from .authz import authorize_arm_action
from .http import ApiError, Request, Response, bad_request
from .vault_rules import VaultRuleError, check_resource_tags
from .world import World

# ARM's rule: 1-90 characters, letters, digits, '_', '(', ')', '-', '.', not ending in '.'.
_GROUP_NAME = re.compile(r"^[\w().-]{0,89}[\w()-]\Z")
_FILTER_FIELDS = {"resourcetype": "resourceType", "name": "name", "resourcegroup": "resourceGroup"}
_CLAUSE = re.compile(r"\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*", re.IGNORECASE)
_AND = re.compile(r"and\s", re.IGNORECASE)


class FilterError(ValueError):
    pass


def parse_resource_filter(text: str) -> dict[str, str]:
    """`field eq 'value' [and field eq 'value']...` -> {field: value}; anything else is refused.

    Values are OData strings ('' is a quote). A field may appear once.
    """
    out: dict[str, str] = {}
    position = 0
    while True:
        match = _CLAUSE.match(text, position)
        if not match:
            raise FilterError(text)
        field = _FILTER_FIELDS.get(match.group(1).lower())
        if field is None or field in out:
            raise FilterError(text)
        out[field] = match.group(2).replace("''", "'")
        position = match.end()
        if position == len(text):
            return out
        joiner = _AND.match(text, position)
        if not joiner:
            raise FilterError(text)
        position = joiner.end()


def normalize_location(location: str) -> str:
    return location.replace(" ", "").lower()


def group_not_found(name: str) -> ApiError:
    return ApiError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def invalid_filter(text: str) -> ApiError:
    return bad_request(f"Invalid $filter '{text}' specified in the query string.", "InvalidFilterInQueryString")


class GroupHandlers:
    def __init__(self, world: World) -> None:
        self.world = world

    def _json(self, group: ResourceGroupRecord) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"/subscriptions/{self.world.site.subscription_id}/resourceGroups/{group.name}",
            "name": group.name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": group.location,
            "properties": {"provisioningState": "Succeeded"},
        }
        if group.tags:
            body["tags"] = group.tags
        return body

    def require(self, name: str) -> ResourceGroupRecord:
        group = self.world.store.get_group(name)
        if group is None:
            raise group_not_found(name)
        return group

    def list_groups(self, claims: dict[str, Any]) -> Response:
        scope = f"/subscriptions/{self.world.site.subscription_id}"
        authorize_arm_action(self.world, claims, "Microsoft.Resources/subscriptions/resourceGroups/read", scope)
        return Response(200, {"value": [self._json(g) for g in self.world.store.list_groups()]})

    def group(self, request: Request, name: str, claims: dict[str, Any], delete_group: Any) -> Response:
        scope = f"/subscriptions/{self.world.site.subscription_id}/resourceGroups/{name}"
        method = request.method
        if method in ("GET", "HEAD"):
            authorize_arm_action(self.world, claims, "Microsoft.Resources/subscriptions/resourceGroups/read", scope)
            group = self.world.store.get_group(name)
            if method == "HEAD":
                return Response(204 if group else 404)
            if group is None:
                raise group_not_found(name)
            return Response(200, self._json(group))
        if method == "PUT":
            authorize_arm_action(self.world, claims, "Microsoft.Resources/subscriptions/resourceGroups/write", scope)
            return self._put(request, name)
        if method == "PATCH":
            authorize_arm_action(self.world, claims, "Microsoft.Resources/subscriptions/resourceGroups/write", scope)
            group = self.require(name)
            body = request.json()
            tags = body.get("tags", group.tags) if isinstance(body, dict) else None
            try:
                tags = check_resource_tags(tags)
            except VaultRuleError as exc:
                raise bad_request(str(exc), "InvalidRequestContent") from None
            updated = ResourceGroupRecord(group.name, group.location, tags)
            self.world.store.put_group(updated)
            return Response(200, self._json(updated))
        if method == "DELETE":
            authorize_arm_action(self.world, claims, "Microsoft.Resources/subscriptions/resourceGroups/delete", scope)
            group = self.world.store.get_group(name)
            if group is None:
                raise group_not_found(name)
            if group.name.lower() == self.world.site.resource_group.lower():
                raise ApiError(
                    409,
                    "Conflict",
                    f"Resource group '{group.name}' holds the emulator's own vaults and cannot be deleted here.",
                )
            delete_group(group.name, claims)
            return Response(200)
        raise ApiError(405, "MethodNotAllowed", f"The method {method} is not supported on resource groups.")

    def _put(self, request: Request, name: str) -> Response:
        if not _GROUP_NAME.match(name):
            raise bad_request(
                f"Resource group name '{name}' is invalid. It must be 1-90 letters, digits, underscores, "
                "parentheses, hyphens and periods, and not end with a period.",
                "InvalidResourceGroupName",
            )
        body = request.json()
        if not isinstance(body, dict):
            raise bad_request("The request content was invalid and could not be deserialized.", "InvalidRequestContent")
        location = body.get("location")
        if not isinstance(location, str) or not location.strip():
            raise bad_request("The location property is required for this definition.", "LocationRequired")
        try:
            tags = check_resource_tags(body.get("tags"))
        except VaultRuleError as exc:
            raise bad_request(str(exc), "InvalidRequestContent") from None
        existing = self.world.store.get_group(name)
        if existing is not None and normalize_location(location) != existing.location:
            raise ApiError(
                409,
                "InvalidResourceGroupLocation",
                f"Invalid resource group location '{normalize_location(location)}'. The Resource group already "
                f"exists in location '{existing.location}'.",
            )
        record = ResourceGroupRecord(existing.name if existing else name, normalize_location(location), tags)
        created = self.world.store.put_group(record)
        return Response(201 if created else 200, self._json(record))

    def list_resources(
        self, request: Request, claims: dict[str, Any], readable: list[Any], group: str | None = None
    ) -> Response:
        """Generic resources (only vaults exist here), filtered as ARM filters them."""
        text = request.query.get("$filter", "")
        try:
            wanted = parse_resource_filter(text) if text.strip() else {}
        except FilterError:
            raise invalid_filter(text) from None
        if group is not None:
            wanted.setdefault("resourceGroup", group)
        items = []
        for vault in readable:
            vault_group = self.world.vault_group(vault.name)
            if group is not None and vault_group.lower() != group.lower():
                continue
            checks = {
                "resourceType": "Microsoft.KeyVault/vaults",
                "name": vault.name,
                "resourceGroup": vault_group,
            }
            if any(checks[field].lower() != value.lower() for field, value in wanted.items()):
                continue
            items.append(
                {
                    "id": self.world.vault_resource_id(vault.name),
                    "name": vault.name,
                    "type": "Microsoft.KeyVault/vaults",
                    "location": vault.location,
                    "tags": vault.tags,
                }
            )
        return Response(200, {"value": items})
