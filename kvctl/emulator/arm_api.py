"""The ARM endpoints kvctl and the Azure CLI use (KEYVAULT-WIRE.md §3): subscriptions, resource
groups, vaults (and deleted vaults), generic resources, role definitions and role assignments,
with ARM's authorization checks, rules and error bodies; `GET /metadata/endpoints` unauthenticated.

The same port serves the Entra token endpoint for workload identity federation (it must be
HTTPS, like the real authority) and the `/_emulator/` control endpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .arm_diagnostics import DiagnosticSettings
from .arm_groups import GroupHandlers
from .arm_meta import check_api_version, keyvault_operations, metadata_endpoints, root_group
from .arm_rbac import RbacHandlers
from .arm_vaults import VaultHandlers
from .arm_workspaces import WorkspaceHandlers
from .control_api import PREFIX as CONTROL_PREFIX
from .control_api import ControlService
from .graph_api import PREFIX as GRAPH_PREFIX
from .graph_api import GraphService
from .http import ApiError, Request, Response, bad_request
from .identity_api import entra_token, openid_configuration
from .loganalytics_api import PREFIX as LOG_ANALYTICS_PREFIX
from .loganalytics_api import LogAnalyticsService
from .resource_graph import ResourceGraph
from .tokens import ARM_AUDIENCES, TokenError
from .world import World


class ArmService:
    def __init__(self, world: World, base_url: str, info: Callable[[], dict[str, Any]] | None = None) -> None:
        self.world = world
        self.base_url = base_url
        self.info = info or dict
        self.control = ControlService(world)
        self.vaults = VaultHandlers(world)
        self.groups = GroupHandlers(world)
        self.rbac = RbacHandlers(world, self._validate_scope)
        self.diagnostics = DiagnosticSettings(world)
        self.graph = GraphService(world, world.directory, base_url)
        self.workspaces = WorkspaceHandlers(world, self.groups)
        self.loganalytics = LogAnalyticsService(world, base_url)
        self.resource_graph = ResourceGraph(world, self.visible_subscriptions)

    # -- pipeline ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        segments = [s for s in request.path.split("/") if s]
        if len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "token"] and request.method == "POST":
            return entra_token(self.world, request, segments[0])
        if segments[1:] == ["v2.0", ".well-known", "openid-configuration"] and request.method == "GET":
            return Response(200, openid_configuration(self.world, self.base_url, segments[0]))
        if request.path.startswith(CONTROL_PREFIX):
            return self.control.handle(request)
        if request.path.startswith(GRAPH_PREFIX):  # Microsoft Graph shares the port (see graph_api)
            return self.graph.handle(request)
        if request.path.startswith(LOG_ANALYTICS_PREFIX):  # the Log Analytics query API, likewise
            return self.loganalytics.handle(request)
        self.world.knobs.before_work()
        if [s.lower() for s in segments] == ["metadata", "endpoints"] and request.method == "GET":
            graph = self.info().get("graphEndpoint")
            logs = self.info().get("logAnalyticsEndpoint")
            api_version = request.query.get("api-version", "")
            return Response(
                200,
                metadata_endpoints(
                    api_version,
                    self.base_url,
                    graph if isinstance(graph, str) else None,
                    logs if isinstance(logs, str) else None,
                ),
            )
        claims = self._authenticate(request)
        self.world.knobs.count("armRequests")
        check_api_version(request)
        response = self._route(request, segments, claims)
        if request.method in ("PUT", "PATCH", "DELETE", "POST") and response.status < 300:
            self.world.knobs.after_write()
        return response

    def _authenticate(self, request: Request) -> dict[str, Any]:
        token = request.bearer_token()
        tenant = self.world.site.tenant_id
        if token is None:
            raise ApiError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                headers={
                    "WWW-Authenticate": f'Bearer authorization_uri="https://login.windows.net/{tenant}", '
                    'error="invalid_token", error_description="The authentication failed because of missing '
                    "'Authorization' header.\""
                },
            )
        try:
            claims = self.world.tokens.verify(token, ARM_AUDIENCES)
        except TokenError as exc:
            raise ApiError(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
                headers={
                    "WWW-Authenticate": f'Bearer authorization_uri="https://login.windows.net/{tenant}", '
                    'error="invalid_token", error_description="The access token is invalid."'
                },
            ) from exc
        return claims

    def _route(self, request: Request, segments: list[str], claims: dict[str, Any]) -> Response:
        lowered = [s.lower() for s in segments]
        method = request.method
        if lowered == ["subscriptions"] and method == "GET":
            return self._list_subscriptions(claims)
        if lowered == ["providers", "microsoft.resourcegraph", "resources"] and method == "POST":
            return self.resource_graph.handle(request, claims)
        if lowered == ["providers", "microsoft.management", "managementgroups"] and method == "GET":
            return Response(200, {"value": [root_group(self.world.site.tenant_id)]})
        if lowered == ["providers", "microsoft.keyvault", "operations"] and method == "GET":
            return Response(200, keyvault_operations())
        if "microsoft.insights" in lowered:
            at = lowered.index("microsoft.insights")
            if at == 9 and lowered[at - 1] == "providers":  # only on a vault: .../vaults/NAME/providers/...
                vault_id = self._validate_scope("/" + "/".join(segments[: at - 1]))
                return self.diagnostics.handle(request, vault_id, segments[at + 1 :], claims)
        if "microsoft.operationalinsights" in lowered:
            found = self._workspace_route(request, segments, lowered, claims)
            if found is not None:
                return found
        if "microsoft.authorization" in lowered:
            at = lowered.index("microsoft.authorization")
            if at >= 1 and lowered[at - 1] == "providers":
                scope = "/" + "/".join(segments[: at - 1])
                return self.rbac.handle(request, scope, segments[at + 1 :], claims)
        if len(segments) >= 2 and lowered[0] == "subscriptions":
            subscription = self._require_subscription(segments[1])
            if subscription == self.world.site.subscription_id:
                found = self._subscription_route(request, segments[2:], lowered[2:], claims)
            else:
                found = self._other_subscription_route(request, subscription, segments[2:], lowered[2:], claims)
            if found is not None:
                return found
        raise ApiError(
            404,
            "InvalidResourceType" if len(segments) > 2 else "NotFound",
            f"The resource type could not be found for path '{request.path}'.",
        )

    def _workspace_route(
        self, request: Request, segments: list[str], lowered: list[str], claims: dict[str, Any]
    ) -> Response | None:
        """Log Analytics workspaces (arm_workspaces.py), in the subscription or a resource group."""
        if len(segments) < 5 or lowered[0] != "subscriptions":
            return None
        self._require_subscription(segments[1])
        tail = ["providers", "microsoft.operationalinsights", "workspaces"]
        if lowered[2:] == tail and request.method == "GET":
            return self.workspaces.list(request, claims)
        if len(segments) >= 7 and lowered[2] == "resourcegroups" and lowered[4:7] == tail:
            if len(segments) == 7 and request.method == "GET":
                return self.workspaces.list(request, claims, segments[3])
            if len(segments) == 8:
                return self.workspaces.workspace(request, segments[3], segments[7], claims)
        return None

    def _subscription_route(
        self, request: Request, parts: list[str], rest: list[str], claims: dict[str, Any]
    ) -> Response | None:
        method = request.method
        if rest == [] and method == "GET":
            return Response(200, self._subscription_json())
        if rest == ["resources"] and method == "GET":
            return self.groups.list_resources(request, claims, self.vaults.readable(claims))
        if rest == ["resourcegroups"] and method == "GET":
            return self.groups.list_groups(claims)
        if rest[:2] == ["providers", "microsoft.keyvault"]:
            kv = rest[2:]
            if kv == ["vaults"] and method == "GET":
                return self.vaults.list_vaults(claims, request)
            if kv == ["deletedvaults"] and method == "GET":
                return self.vaults.writes.list_deleted(claims)
            if len(kv) >= 4 and kv[0] == "locations" and kv[2] == "deletedvaults":
                location, name = parts[3], parts[5]
                if len(kv) == 4 and method == "GET":
                    return self.vaults.writes.get_deleted(location, name, claims)
                if kv[4:] == ["purge"] and method == "POST":
                    return self.vaults.writes.purge(location, name, claims)
            return None
        if len(rest) >= 2 and rest[0] == "resourcegroups":
            group = parts[1]
            if len(rest) == 2:
                return self.groups.group(request, group, claims, self._delete_group)
            group = self.groups.require(group).name
            tail = rest[2:]
            if tail == ["resources"] and method == "GET":
                return self.groups.list_resources(request, claims, self.vaults.readable(claims), group)
            if tail == ["providers", "microsoft.keyvault", "vaults"] and method == "GET":
                return self.vaults.list_vaults(claims, request, group)
            if len(tail) >= 4 and tail[:3] == ["providers", "microsoft.keyvault", "vaults"]:
                if len(tail) == 4:
                    return self.vaults.vault(request, group, parts[5], claims)
                if len(tail) == 6 and tail[4] == "accesspolicies" and method == "PUT":
                    return self.vaults.update_access_policy(request, group, parts[5], tail[5], claims)
        return None

    def _delete_group(self, group: str, claims: dict[str, Any]) -> None:
        """A resource group's deletion takes its vaults (soft-deleted) and role assignments with it."""
        for vault in self.world.store.list_vaults():
            if (
                self.world.vault_group(vault.name).lower() == group.lower()
                and self.world.vault_subscription(vault.name) == self.world.site.subscription_id
            ):
                self.vaults.writes.remove(vault)
        prefix = f"/subscriptions/{self.world.site.subscription_id}/resourcegroups/{group}".lower()
        for ra in self.world.store.role_assignments():
            if ra.scope.lower() == prefix or ra.scope.lower().startswith(prefix + "/"):
                self.world.store.delete_role_assignment(ra.name)
                self.world.assignment_removed(ra)
        self.world.store.delete_group(group)

    # -- subscriptions and scopes --------------------------------------------------------------

    def _other_subscription_route(
        self, request: Request, subscription: str, parts: list[str], rest: list[str], claims: dict[str, Any]
    ) -> Response | None:
        """A subscription after the first: its vaults live in one resource group named like the
        emulator's own (resource groups are not created there)."""
        method = request.method
        default_group = self.world.site.resource_group
        if rest == [] and method == "GET":
            return Response(200, self._subscription_json(self._named(subscription)))
        if rest == ["resources"] and method == "GET":
            return self.groups.list_resources(request, claims, self.vaults.readable(claims, subscription))
        if rest == ["resourcegroups"] and method == "GET":
            return Response(200, {"value": [self._group_json(subscription)]})
        if rest == ["providers", "microsoft.keyvault", "vaults"] and method == "GET":
            return self.vaults.list_vaults(claims, request, None, subscription)
        if rest == ["providers", "microsoft.keyvault", "deletedvaults"] and method == "GET":
            return Response(200, {"value": []})
        if len(rest) >= 2 and rest[0] == "resourcegroups":
            if rest[1] != default_group.lower():
                raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{parts[1]}' could not be found.")
            tail = rest[2:]
            if tail == [] and method == "GET":
                return Response(200, self._group_json(subscription))
            if tail == ["resources"] and method == "GET":
                readable = self.vaults.readable(claims, subscription)
                return self.groups.list_resources(request, claims, readable, default_group)
            if tail == ["providers", "microsoft.keyvault", "vaults"] and method == "GET":
                return self.vaults.list_vaults(claims, request, default_group, subscription)
            if len(tail) >= 4 and tail[:3] == ["providers", "microsoft.keyvault", "vaults"]:
                if len(tail) == 4:
                    return self.vaults.vault(request, default_group, parts[5], claims, subscription)
                if len(tail) == 6 and tail[4] == "accesspolicies" and method == "PUT":
                    return self.vaults.update_access_policy(
                        request, default_group, parts[5], tail[5], claims, subscription
                    )
        return None

    def _named(self, subscription: str) -> tuple[str, str]:
        return next(s for s in self.world.subscriptions if s[0] == subscription)

    def _group_json(self, subscription: str) -> dict[str, Any]:
        site = self.world.site
        return {
            "id": f"/subscriptions/{subscription}/resourceGroups/{site.resource_group}",
            "name": site.resource_group,
            "type": "Microsoft.Resources/resourceGroups",
            "location": site.location,
            "properties": {"provisioningState": "Succeeded"},
        }

    def _subscription_json(self, which: tuple[str, str] | None = None) -> dict[str, Any]:
        site = self.world.site
        sub_id, name = which or self.world.subscriptions[0]
        return {
            "id": f"/subscriptions/{sub_id}",
            "subscriptionId": sub_id,
            "tenantId": site.tenant_id,
            "displayName": name,
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "tags": {},
        }

    def visible_subscriptions(self, claims: dict[str, Any]) -> list[tuple[str, str]]:
        """The subscriptions where the caller (or a group it is in) holds any role, at any scope
        from the subscription down, as ARM lists them."""
        principals = self.world.directory.member_of(str(claims.get("oid", "")))
        scopes = [
            ra.scope.lower() for ra in self.world.store.role_assignments() if ra.principal_id.lower() in principals
        ]
        return [
            s
            for s in self.world.subscriptions
            if any(
                scope == f"/subscriptions/{s[0].lower()}" or scope.startswith(f"/subscriptions/{s[0].lower()}/")
                for scope in scopes
            )
        ]

    def _list_subscriptions(self, claims: dict[str, Any]) -> Response:
        visible = self.visible_subscriptions(claims)
        return Response(
            200,
            {
                "value": [self._subscription_json(s) for s in visible],
                "count": {"type": "Total", "value": len(visible)},
            },
        )

    def _require_subscription(self, subscription: str) -> str:
        """The emulated subscription's id in its canonical casing, or ARM's 404."""
        for sub_id, _ in self.world.subscriptions:
            if sub_id.lower() == subscription.lower():
                return sub_id
        raise ApiError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")

    def _require_resource_group(self, group: str) -> str:
        return self.groups.require(group).name

    def _validate_scope(self, scope: str) -> str:
        """Check that every level of a scope exists; return it in its canonical casing."""
        parts = [p for p in scope.split("/") if p]
        if not parts:
            return "/"
        lowered = [p.lower() for p in parts]
        if lowered[0] != "subscriptions" or len(parts) < 2:
            raise bad_request(f"The scope '{scope}' is not valid.", "InvalidScope")
        subscription = self._require_subscription(parts[1])
        canonical = f"/subscriptions/{subscription}"
        if len(parts) == 2:
            return canonical
        if lowered[2] != "resourcegroups" or len(parts) < 4:
            raise bad_request(f"The scope '{scope}' is not valid.", "InvalidScope")
        if subscription == self.world.site.subscription_id:
            group = self._require_resource_group(parts[3])
        elif lowered[3] == self.world.site.resource_group.lower():
            group = self.world.site.resource_group
        else:
            raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{parts[3]}' could not be found.")
        canonical += f"/resourceGroups/{group}"
        if len(parts) == 4:
            return canonical
        if lowered[4:7] == ["providers", "microsoft.operationalinsights", "workspaces"] and len(parts) == 8:
            workspace = self.world.store.get_workspace(group, parts[7])
            if workspace is None:
                raise self.workspaces.not_found(group, parts[7])
            return f"{canonical}/providers/Microsoft.OperationalInsights/workspaces/{workspace.name}"
        if lowered[4:7] != ["providers", "microsoft.keyvault", "vaults"] or len(parts) < 8:
            raise bad_request(f"The scope '{scope}' is not valid.", "InvalidScope")
        vault = self.vaults.find(group, parts[7], subscription)
        canonical = self.world.vault_resource_id(vault.name)
        if len(parts) == 8:
            return canonical
        if len(parts) == 10 and lowered[8] == "secrets":
            secret = self.world.store.get_version(vault.name, parts[9], None)
            if secret is None:
                raise ApiError(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.KeyVault/vaults/{vault.name}/secrets/{parts[9]}' under resource "
                    f"group '{group}' was not found. For more details please go to "
                    "https://aka.ms/ARMResourceNotFoundFix",
                )
            return f"{canonical}/secrets/{secret.name}"
        raise bad_request(f"The scope '{scope}' is not valid.", "InvalidScope")
