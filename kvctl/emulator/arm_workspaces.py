"""ARM: Log Analytics workspaces (`Microsoft.OperationalInsights/workspaces`): GET, PUT, DELETE,
list in a resource group and in the subscription, in the shape of azure-rest-api-specs' Workspace
(api-version 2022-10-01 and its neighbours). `properties.customerId` is the workspace GUID the
query API takes (loganalytics_api.py).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from .arm_diagnostics import audit_setting_properties, setting_resource
from .arm_groups import GroupHandlers, normalize_location
from .audit_store import WorkspaceRecord
from .authz import authorize_arm_action
from .http import ApiError, Request, Response, bad_request
from .world import World, utc_iso

API_VERSIONS = ("2020-08-01", "2021-06-01", "2021-12-01-preview", "2022-10-01", "2023-09-01", "2025-02-01")
PROVIDER = "Microsoft.OperationalInsights"
DEFAULT_WORKSPACE = "kvctl-emulator-logs"
AUDIT_SETTING = "kvctl-audit"  # the diagnostic setting --audit-logs puts on every vault
# The service's rule: 4-63 letters, digits and '-', starting and ending with a letter or digit.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]\Z")


def workspace_resource_id(subscription_id: str, ws: WorkspaceRecord) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{ws.resource_group}/providers/{PROVIDER}/workspaces/{ws.name}"
    )


class WorkspaceHandlers:
    def __init__(self, world: World, groups: GroupHandlers) -> None:
        self.world = world
        self.groups = groups

    def json(self, ws: WorkspaceRecord) -> dict[str, Any]:
        return {
            "id": workspace_resource_id(self.world.site.subscription_id, ws),
            "name": ws.name,
            "type": f"{PROVIDER}/workspaces",
            "location": ws.location,
            "tags": ws.tags,
            "properties": {
                "customerId": ws.customer_id,
                "provisioningState": "Succeeded",
                "sku": {"name": "PerGB2018", "lastSkuUpdate": ws.created},
                "retentionInDays": 30,
                "features": {"legacy": 0, "searchVersion": 1, "enableLogAccessUsingOnlyResourcePermissions": True},
                "workspaceCapping": {
                    "dailyQuotaGb": -1.0,
                    "quotaNextResetTime": ws.created,
                    "dataIngestionStatus": "RespectQuota",
                },
                "publicNetworkAccessForIngestion": "Enabled",
                "publicNetworkAccessForQuery": "Enabled",
                "createdDate": ws.created,
                "modifiedDate": ws.created,
            },
        }

    @staticmethod
    def check_api_version(request: Request) -> None:
        version = request.query.get("api-version", "")
        if version not in API_VERSIONS:
            raise ApiError(
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location 'eastus' and API version '{version}' for "
                f"type 'workspaces'. The supported api-versions are '{', '.join(API_VERSIONS)}'.",
            )

    def list(self, request: Request, claims: dict[str, Any], group: str | None = None) -> Response:
        """GET .../providers/Microsoft.OperationalInsights/workspaces (a group's, or the subscription's)."""
        self.check_api_version(request)
        subscription = self.world.site.subscription_id
        sub = f"/subscriptions/{subscription}"
        if group is not None:
            group = self.groups.require(group).name
        readable = []
        for ws in self.world.store.list_workspaces():
            if group is not None and ws.resource_group.lower() != group.lower():
                continue
            try:
                authorize_arm_action(
                    self.world, claims, f"{PROVIDER}/workspaces/read", workspace_resource_id(subscription, ws)
                )
            except ApiError:
                continue
            readable.append(self.json(ws))
        if not readable and group is not None:  # listing needs read at the group, like ARM
            authorize_arm_action(self.world, claims, f"{PROVIDER}/workspaces/read", f"{sub}/resourceGroups/{group}")
        return Response(200, {"value": readable})

    def workspace(self, request: Request, group: str, name: str, claims: dict[str, Any]) -> Response:
        self.check_api_version(request)
        group = self.groups.require(group).name
        resource_id = (
            f"/subscriptions/{self.world.site.subscription_id}/resourceGroups/{group}"
            f"/providers/{PROVIDER}/workspaces/{name}"
        )
        method = request.method
        existing = self.world.store.get_workspace(group, name)
        if method == "GET":
            authorize_arm_action(self.world, claims, f"{PROVIDER}/workspaces/read", resource_id)
            if existing is None:
                raise self.not_found(group, name)
            return Response(200, self.json(existing))
        if method == "PUT":
            authorize_arm_action(self.world, claims, f"{PROVIDER}/workspaces/write", resource_id)
            if not _NAME.match(name):
                raise bad_request(
                    f"The workspace name '{name}' is invalid: 4-63 letters, digits and '-', starting and ending "
                    "with a letter or digit.",
                    "InvalidWorkspaceName",
                )
            body = request.json()
            if not isinstance(body, dict) or not isinstance(body.get("location"), str) or not body["location"]:
                raise bad_request("The 'location' property is required.", "LocationRequired")
            tags = body.get("tags") or {}
            if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
                raise bad_request("'tags' must be an object of strings.", "InvalidRequestContent")
            record = WorkspaceRecord(
                name=existing.name if existing else name,
                resource_group=group,
                location=normalize_location(body["location"]),
                customer_id=existing.customer_id if existing else str(uuid.uuid4()),
                tags=dict(tags),
                created=existing.created if existing else utc_iso(),
            )
            self.world.store.put_workspace(record)
            return Response(200 if existing else 201, self.json(record))
        if method == "DELETE":
            authorize_arm_action(self.world, claims, f"{PROVIDER}/workspaces/delete", resource_id)
            if existing is None:
                return Response(204)
            self.world.store.delete_workspace(group, name)
            return Response(200)
        raise ApiError(405, "MethodNotAllowed", f"The requested method '{method}' is not allowed.")

    @staticmethod
    def not_found(group: str, name: str) -> ApiError:
        return ApiError(
            404,
            "ResourceNotFound",
            f"The Resource '{PROVIDER}/workspaces/{name}' under resource group '{group}' was not found. For more "
            "details please go to https://aka.ms/ARMResourceNotFoundFix",
        )


def ensure_workspace(world: World, group: str, name: str) -> WorkspaceRecord:
    """The emulator's own workspace: created on first start, the same (customerId too) after restarts."""
    existing = world.store.get_workspace(group, name)
    if existing is not None:
        return existing
    record = WorkspaceRecord(name, group, world.site.location, str(uuid.uuid4()), {}, utc_iso())
    world.store.put_workspace(record)
    return record


def setup_log_analytics(world: World, vaults: list[str], audit_logs: bool) -> list[dict[str, str]]:
    """At start: the default workspace and, with --audit-logs, each vault's setting that feeds it
    (a setting already there is left as it is). Returns the workspaces for emulator.json."""
    site = world.site
    default = ensure_workspace(world, site.resource_group, DEFAULT_WORKSPACE)
    if audit_logs:
        target = workspace_resource_id(site.subscription_id, default)
        for name in vaults:
            vault_id = world.vault_resource_id(name)
            if world.store.get_diagnostic_setting(vault_id, AUDIT_SETTING) is None:
                resource = setting_resource(vault_id, AUDIT_SETTING, audit_setting_properties(target))
                world.store.put_diagnostic_setting(vault_id, AUDIT_SETTING, resource)
    return [
        {"name": ws.name, "resourceId": workspace_resource_id(site.subscription_id, ws), "customerId": ws.customer_id}
        for ws in world.store.list_workspaces()
    ]
