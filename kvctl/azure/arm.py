"""`ArmBackend` on the Azure management SDKs: vaults (azure-mgmt-keyvault) and role assignments
(azure-mgmt-authorization), plus the subscription list through the same pipeline."""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from ..core.arm import Permission, RoleAssignment, VaultResource, scope_parts
from ..core.audit import Workspace
from ..core.errors import (
    AlreadyExistsError,
    KvctlError,
    NotFoundError,
    PrincipalNotFoundError,
    UsageError,
)
from ..core.redaction import redact
from .errors import translate
from .paging import PageLinks

T = TypeVar("T")
SUBSCRIPTIONS_API = "2022-12-01"
PERMISSIONS_API = "2022-04-01"
DIAGNOSTIC_SETTINGS_API = "2021-05-01-preview"
WORKSPACES_API = "2022-10-01"
PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def _code(exc: HttpResponseError) -> str:
    return str(getattr(getattr(exc, "error", None), "code", None) or "")


def _message(exc: HttpResponseError) -> str:
    return redact(str(getattr(getattr(exc, "error", None), "message", None) or exc.message or exc))


def _vault_from(data: dict[str, Any]) -> VaultResource:
    properties = dict(data.get("properties") or {})
    return VaultResource(
        id=str(data.get("id", "")),
        name=str(data.get("name", "")),
        location=str(data.get("location", "")),
        vault_url=str(properties.get("vaultUri", "")).rstrip("/"),
        properties=properties,
        tags=dict(data.get("tags") or {}),
    )


def _assignment_from(model: Any) -> RoleAssignment:
    role_id = str(model.role_definition_id or "")
    return RoleAssignment(
        id=str(model.id),
        name=str(model.name),
        scope=str(model.scope or str(model.id).split("/providers/Microsoft.Authorization/")[0]),
        role_guid=role_id.rstrip("/").rsplit("/", 1)[-1].lower(),
        principal_id=str(model.principal_id or "").lower(),
        principal_type=str(model.principal_type) if model.principal_type else None,
    )


class AzureArm:
    def __init__(
        self,
        credential: Any,
        endpoint: str,
        scope: str,
        options: dict[str, Any],
        subscription: Callable[[AzureArm], str],
    ) -> None:
        self._credential = credential
        self._endpoint = endpoint.rstrip("/")
        self._scope = scope
        self._options = options
        self._choose_subscription = subscription
        self._subscription: str | None = None
        self._kv: Any = None
        self._auth: Any = None

    def _common(self) -> dict[str, Any]:
        options = {"base_url": self._endpoint, "credential_scopes": [self._scope], **self._options}
        if options.get("per_call_policies"):
            # A pipeline links its policies to each other: each client needs instances of its own.
            options["per_call_policies"] = [copy.copy(policy) for policy in options["per_call_policies"]]
        return options

    # -- plumbing ------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except KvctlError:
            raise
        except HttpResponseError as exc:
            code = _code(exc)
            if code == "PrincipalNotFound":
                raise PrincipalNotFoundError(f"principal not found: {_message(exc).split('. ')[0]}") from exc
            if code == "RoleAssignmentExists":
                raise AlreadyExistsError("the role assignment already exists") from exc
            if code in ("RoleDefinitionDoesNotExist",):
                raise NotFoundError(f"{what}: {_message(exc)}") from exc
            if code in ("ResourceNotFound", "ResourceGroupNotFound", "SubscriptionNotFound"):
                raise NotFoundError(f"{what}: {_message(exc).split(' For more details')[0]}") from exc
            if exc.status_code == 400 and code in ("BadRequest", "InvalidScope", "InvalidPrincipalId"):
                raise UsageError(f"{what}: {_message(exc)}") from exc
            raise translate(exc, what=what, where=self._endpoint) from exc
        except Exception as exc:
            raise translate(exc, what=what, where=self._endpoint) from exc

    @property
    def subscription_id(self) -> str:
        if self._subscription is None:
            self._subscription = self._choose_subscription(self)
        return self._subscription

    def _keyvault(self) -> Any:
        if self._kv is None:
            from azure.mgmt.keyvault import KeyVaultManagementClient

            self._kv = KeyVaultManagementClient(self._credential, self.subscription_id, **self._common())
        return self._kv

    def _authorization(self) -> Any:
        if self._auth is None:
            from azure.mgmt.authorization import AuthorizationManagementClient

            self._auth = AuthorizationManagementClient(self._credential, self.subscription_id, **self._common())
        return self._auth

    # -- subscriptions -------------------------------------------------------------------------

    def visible_subscriptions(self) -> list[str]:
        from azure.mgmt.keyvault import KeyVaultManagementClient

        client = KeyVaultManagementClient(self._credential, PLACEHOLDER_SUBSCRIPTION, **self._common())
        found: list[str] = []
        url: str | None = f"/subscriptions?api-version={SUBSCRIPTIONS_API}"
        links = PageLinks("the subscription list")
        while url:
            response = self._call("the subscription list", client.send_request, HttpRequest("GET", url))
            self._call("the subscription list", response.raise_for_status)
            page = response.json()
            found += [s["subscriptionId"] for s in page.get("value", []) if s.get("state", "Enabled") == "Enabled"]
            url = page.get("nextLink")
            url = links.follow(url) if isinstance(url, str) and url else None
        return found

    # -- vaults --------------------------------------------------------------------------------

    def _items(self, what: str, pager: Any) -> Iterator[Any]:
        """The items of an SDK pager, page by page: a next link it was given before (or too many
        pages) ends it with a clear error, since the SDK itself would follow it forever."""
        pages = self._call(what, pager.by_page)
        links = PageLinks(what)
        while True:
            page = self._call(what, next, pages, None)
            if page is None:
                return
            yield from self._call(what, list, page)
            link = getattr(pages, "continuation_token", None)
            if isinstance(link, str) and link:
                links.follow(link)

    def list_vaults(self) -> Iterator[VaultResource]:
        pager = self._call("the vault list", self._keyvault().vaults.list_by_subscription)
        for vault in self._items("the vault list", pager):
            yield _vault_from(vault.as_dict())

    def get_vault(self, resource_id: str) -> VaultResource:
        parts = scope_parts(resource_id)
        vault = self._call(
            f"vault {parts.get('vault')}", self._keyvault().vaults.get, parts["resourceGroup"], parts["vault"]
        )
        return _vault_from(vault.as_dict())

    def update_vault(self, resource_id: str, properties: dict[str, Any]) -> VaultResource:
        parts = scope_parts(resource_id)
        vault = self._call(
            f"vault {parts.get('vault')}",
            self._keyvault().vaults.update,
            parts["resourceGroup"],
            parts["vault"],
            {"properties": properties},
        )
        return _vault_from(vault.as_dict())

    # -- the caller's own permissions --------------------------------------------------------

    def permissions(self, scope: str) -> list[Permission]:
        """Permissions - List For Resource: what the caller's role assignments allow at `scope`."""
        client = self._keyvault()
        found: list[Permission] = []
        url: str | None = f"{scope}/providers/Microsoft.Authorization/permissions?api-version={PERMISSIONS_API}"
        links = PageLinks("your permissions")
        while url:
            response = self._call("your permissions", client.send_request, HttpRequest("GET", url))
            self._call("your permissions", response.raise_for_status)
            page = response.json()
            for item in page.get("value", []) if isinstance(page, dict) else []:
                if isinstance(item, dict):
                    found.append(
                        Permission(
                            actions=tuple(item.get("actions") or ()),
                            not_actions=tuple(item.get("notActions") or ()),
                            data_actions=tuple(item.get("dataActions") or ()),
                            not_data_actions=tuple(item.get("notDataActions") or ()),
                            conditional=bool(item.get("condition")),
                        )
                    )
            url = page.get("nextLink") if isinstance(page, dict) else None
            url = links.follow(url) if isinstance(url, str) and url else None
        return found

    def list_diagnostic_settings(self, resource_id: str) -> list[dict[str, Any]]:
        """The resource's diagnostic settings (Microsoft.Insights), as ARM returns them. Raw requests
        through the same pipeline: one GET does not need azure-mgmt-monitor."""
        client = self._keyvault()
        path = f"{resource_id}/providers/Microsoft.Insights/diagnosticSettings?api-version={DIAGNOSTIC_SETTINGS_API}"
        response = self._call("the diagnostic settings", client.send_request, HttpRequest("GET", path))
        self._call("the diagnostic settings", response.raise_for_status)
        page = response.json()
        return [s for s in page.get("value", []) if isinstance(s, dict)] if isinstance(page, dict) else []

    def get_workspace(self, resource_id: str) -> Workspace:
        """A Log Analytics workspace: its customerId (what the query API calls the workspace id) and retention."""
        path = f"{resource_id}?api-version={WORKSPACES_API}"
        what = f"Log Analytics workspace {resource_id.rstrip('/').rsplit('/', 1)[-1]}"
        response = self._call(what, self._keyvault().send_request, HttpRequest("GET", path))
        self._call(what, response.raise_for_status)
        data = response.json()
        props = (data.get("properties") if isinstance(data, dict) else None) or {}
        customer_id = props.get("customerId")
        if not isinstance(customer_id, str) or not customer_id:
            raise NotFoundError(f"{what} has no customerId (workspace id) in its ARM answer")
        retention = props.get("retentionInDays")
        return Workspace(
            str(data.get("id") or resource_id), customer_id, retention if isinstance(retention, int) else None
        )

    # -- role assignments ----------------------------------------------------------------------

    def list_role_assignments(self, scope: str, *, principal_id: str | None = None) -> list[RoleAssignment]:
        query = f"principalId eq '{principal_id}'" if principal_id else None
        pages = self._call(
            "role assignments", self._authorization().role_assignments.list_for_scope, scope, filter=query
        )
        found = list(self._items("role assignments", pages))
        return [_assignment_from(a) for a in found]

    def create_role_assignment(
        self, scope: str, role_guid: str, principal_id: str, principal_type: str | None
    ) -> RoleAssignment:
        definition = (
            f"/subscriptions/{self.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"
        )
        properties = {"roleDefinitionId": definition, "principalId": principal_id}
        if principal_type:
            properties["principalType"] = principal_type
        # The SDK model defaults principalType to "User", which skips the directory lookup and
        # mislabels service principals; the raw body sends exactly what was asked.
        body = io.BytesIO(json.dumps({"properties": properties}).encode())
        created = self._call(
            f"the role assignment at {scope}",
            self._authorization().role_assignments.create,
            scope,
            str(uuid.uuid4()),
            body,
            content_type="application/json",
        )
        return _assignment_from(created)

    def delete_role_assignment(self, assignment_id: str) -> None:
        # 200 (deleted) and 204 (already gone, e.g. after a retry whose first answer was lost) both
        # leave the assignment absent, which is what was asked.
        scope, _, name = assignment_id.partition("/providers/Microsoft.Authorization/roleAssignments/")
        self._call("the role assignment", self._authorization().role_assignments.delete, scope, name)

    def close(self) -> None:
        for client in (self._kv, self._auth):
            if client is not None:
                client.close()
