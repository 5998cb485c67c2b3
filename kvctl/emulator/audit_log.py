"""Key Vault's `AuditEvent` diagnostic log: one row per data-plane request, in the shape of the
Log Analytics `AzureDiagnostics` table, routed to workspaces as the vault's diagnostic settings say.

Field names and meanings: Microsoft Learn, "Azure Key Vault logging" (key-vault/general/logging:
time, resourceId, operationName, operationVersion, category, resultType, resultSignature,
resultDescription, durationMs, callerIpAddress, correlationId, identity.claim.*, properties.
clientInfo/requestUri/id/httpStatusCode/isAccessPolicyMatch/isRbacAuthorized), and the
`AzureDiagnostics` table reference (azure-monitor/reference/tables/azurediagnostics: the fixed
columns TenantId, TimeGenerated, ResourceId, Category, ResourceGroup, SubscriptionId,
ResourceProvider, Resource, ResourceType, OperationName, ResultType, CorrelationId,
ResultSignature, ResultDescription, DurationMs, CallerIPAddress, OperationVersion, SourceSystem,
Type, _ResourceId, _SubscriptionId), with the service's nested properties flattened the way that
table flattens them (`identity.claim.appid` -> `identity_claim_appid_g`, `properties.requestUri`
-> `requestUri_s`; suffix _s string, _d real, _b bool, _g guid).

As in the service: the row never holds a secret value (only names, ids and versions); a 401
challenge is the `Authentication` operation; refused (403), missing (404) and throttled (429)
requests are rows too. Requests the emulator drops before any work (`--fault-rate`) are not.
Rows reach a workspace only while a setting on the vault sends `AuditEvent` (or the `audit` /
`allLogs` category group) to that workspace's resource id; the decision is taken when the request
is served, so a later setting does not see earlier requests.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from .audit_store import AuditRecords
from .http import ApiError, Response

if TYPE_CHECKING:  # world.py builds the AuditLog, so the import goes one way only at run time
    from .http import Request
    from .world import World

log = logging.getLogger("kvctl.emulator")

CATEGORY = "AuditEvent"
CATEGORY_GROUPS = ("audit", "allLogs")

# The AzureDiagnostics columns a Key Vault AuditEvent row fills, with their Log Analytics types.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("TenantId", "string"),
    ("TimeGenerated", "datetime"),
    ("ResourceId", "string"),
    ("Category", "string"),
    ("ResourceGroup", "string"),
    ("SubscriptionId", "string"),
    ("ResourceProvider", "string"),
    ("Resource", "string"),
    ("ResourceType", "string"),
    ("OperationName", "string"),
    ("ResultType", "string"),
    ("CorrelationId", "string"),
    ("ResultSignature", "string"),
    ("ResultDescription", "string"),
    ("DurationMs", "long"),
    ("CallerIPAddress", "string"),
    ("OperationVersion", "string"),
    ("identity_claim_oid_g", "guid"),
    ("identity_claim_appid_g", "guid"),
    ("identity_claim_upn_s", "string"),
    ("identity_claim_idtyp_s", "string"),
    ("identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g", "guid"),
    ("identity_claim_http_schemas_xmlsoap_org_ws_2005_05_identity_claims_upn_s", "string"),
    ("id_s", "string"),
    ("requestUri_s", "string"),
    ("clientInfo_s", "string"),
    ("httpStatusCode_d", "real"),
    ("isAccessPolicyMatch_b", "bool"),
    ("isRbacAuthorized_b", "bool"),
    ("properties_enableRbacAuthorization_b", "bool"),
    ("properties_enableSoftDelete_b", "bool"),
    ("properties_enablePurgeProtection_b", "bool"),
    ("tlsVersion_s", "string"),
    ("SourceSystem", "string"),
    ("Type", "string"),
    ("_ResourceId", "string"),
    ("_SubscriptionId", "string"),
)
COLUMN_TYPES = dict(COLUMNS)
# Operations whose answer names the version involved: the row's id_s is that id.
_ID_FROM_BODY = frozenset({"SecretGet", "SecretSet", "SecretUpdate", "SecretDelete", "SecretRecover", "SecretRestore"})


def operation_name(method: str, path: str) -> str | None:
    """The service's operationName for a secrets request, from its method and path (None: no route)."""
    parts = [p.lower() for p in path.strip("/").split("/")] if path.strip("/") else []
    if not parts:
        return None
    collection, rest = parts[0], parts[1:]
    if collection == "secrets":
        if not rest:
            return "SecretList" if method == "GET" else None
        if rest == ["restore"] and method == "POST":
            return "SecretRestore"
        if len(rest) == 1:
            return {"GET": "SecretGet", "PUT": "SecretSet", "PATCH": "SecretUpdate", "DELETE": "SecretDelete"}.get(
                method
            )
        if len(rest) == 2:
            if rest[1] == "versions" and method == "GET":
                return "SecretListVersions"
            if rest[1] == "backup" and method == "POST":
                return "SecretBackup"
            return {"GET": "SecretGet", "PATCH": "SecretUpdate"}.get(method)
    if collection == "deletedsecrets":
        if not rest:
            return "SecretListDeleted" if method == "GET" else None
        if len(rest) == 1:
            return {"GET": "SecretGetDeleted", "DELETE": "SecretPurge"}.get(method)
        if len(rest) == 2 and rest[1] == "recover" and method == "POST":
            return "SecretRecover"
    return None


def result_signature(status: int) -> str:
    """`OK`, `Unauthorized`, `Forbidden`, `NotFound`, `TooManyRequests`: the status's name."""
    try:
        return HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        return str(status)


def iso_time(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _guid(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


def build_row(
    *,
    when: float,
    resource_id: str,
    resource_group: str,
    subscription_id: str,
    vault_name: str,
    vault_properties: dict[str, Any],
    operation: str,
    api_version: str,
    status: int,
    description: str,
    duration_ms: int,
    caller_ip: str,
    correlation_id: str,
    user_agent: str,
    claims: dict[str, Any] | None,
    authorized: bool | None,
    secret_id: str,
    request_uri: str,
) -> dict[str, Any]:
    """One AzureDiagnostics row (TenantId is the workspace's and is filled in when queried)."""
    claims = claims or {}
    rbac = bool(vault_properties.get("enableRbacAuthorization"))
    upn = _text(claims.get("upn"))
    oid = _guid(claims.get("oid"))
    return {
        "TenantId": "",
        "TimeGenerated": iso_time(when),
        "ResourceId": resource_id.upper(),
        "Category": CATEGORY,
        "ResourceGroup": resource_group.upper(),
        "SubscriptionId": subscription_id.upper(),
        "ResourceProvider": "MICROSOFT.KEYVAULT",
        "Resource": vault_name.upper(),
        "ResourceType": "VAULTS",
        "OperationName": operation,
        "ResultType": "Success" if status < 400 else "Failure",
        "CorrelationId": correlation_id,
        "ResultSignature": result_signature(status),
        "ResultDescription": description,
        "DurationMs": duration_ms,
        "CallerIPAddress": caller_ip,
        "OperationVersion": api_version,
        "identity_claim_oid_g": oid,
        "identity_claim_appid_g": _guid(claims.get("appid")),
        "identity_claim_upn_s": upn,
        "identity_claim_idtyp_s": _text(claims.get("idtyp")),
        "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g": oid,
        "identity_claim_http_schemas_xmlsoap_org_ws_2005_05_identity_claims_upn_s": upn,
        "id_s": secret_id,
        "requestUri_s": request_uri,
        "clientInfo_s": user_agent,
        "httpStatusCode_d": float(status),
        "isAccessPolicyMatch_b": bool(authorized) and not rbac,
        "isRbacAuthorized_b": bool(authorized) and rbac,
        "properties_enableRbacAuthorization_b": rbac,
        "properties_enableSoftDelete_b": bool(vault_properties.get("enableSoftDelete", True)),
        "properties_enablePurgeProtection_b": bool(vault_properties.get("enablePurgeProtection")),
        "tlsVersion_s": "TLS1_2",
        "SourceSystem": "Azure",
        "Type": "AzureDiagnostics",
        "_ResourceId": resource_id.lower(),
        "_SubscriptionId": subscription_id.lower(),
    }


def request_uri(base_url: str, path: str, query: dict[str, str]) -> str:
    text = base_url.rstrip("/") + quote(path, safe="/-_.~")
    if query:
        text += "?" + "&".join(f"{quote(k, safe='$-_.~')}={quote(v, safe='-_.~')}" for k, v in query.items())
    return text


def sends_audit_events(setting: dict[str, Any]) -> str | None:
    """The workspace resource id a diagnostic setting sends AuditEvent rows to, if it does."""
    properties = setting.get("properties") or {}
    workspace = properties.get("workspaceId")
    if not isinstance(workspace, str) or not workspace:
        return None
    for entry in properties.get("logs") or []:
        if not entry.get("enabled"):
            continue
        if entry.get("category") == CATEGORY or entry.get("categoryGroup") in CATEGORY_GROUPS:
            return workspace
    return None


class AuditLog:
    """Records rows in the store, each with the workspaces (customerIds) it reaches."""

    def __init__(self, store: AuditRecords, subscription_id: Callable[[], str]) -> None:
        self.store = store
        self._subscription_id = subscription_id

    def destinations(self, vault_resource_id: str) -> list[str]:
        """customerIds of the workspaces that receive this vault's AuditEvent rows now."""
        out: list[str] = []
        for setting in self.store.diagnostic_settings(vault_resource_id):
            target = sends_audit_events(setting)
            workspace = self.workspace_of(target) if target else None
            if workspace is not None and workspace.customer_id.lower() not in out:
                out.append(workspace.customer_id.lower())
        return out

    def workspace_of(self, resource_id: str) -> Any:
        """The workspace record a `workspaceId` resource id names, if it exists in this emulator."""
        parts = [p for p in resource_id.split("/") if p]
        lowered = [p.lower() for p in parts]
        if (
            len(parts) != 8
            or lowered[0] != "subscriptions"
            or lowered[1] != self._subscription_id().lower()
            or lowered[2] != "resourcegroups"
            or lowered[4:7] != ["providers", "microsoft.operationalinsights", "workspaces"]
        ):
            return None
        return self.store.get_workspace(parts[3], parts[7])

    def record(self, when: float, vault_name: str, vault_resource_id: str, row: dict[str, Any]) -> None:
        """Store the row for every workspace the vault sends AuditEvent to now (called through
        record_request, which keeps a failure here from failing the request)."""
        self.store.add_audit_event(when, vault_name, row, self.destinations(vault_resource_id))


class VaultEndpoint(Protocol):
    """What the row needs of the vault's service (secrets_api.VaultService)."""

    world: World
    vault_name: str
    base_url: str


def record_request(
    service: VaultEndpoint,
    request: Request,
    started: float,
    answer: Response | ApiError,
    claims: dict[str, Any] | None,
    authorized: bool | None,
) -> None:
    """The row for one answered data-plane request (`authorized`: None when no check was made)."""
    try:
        _record(service, request, started, answer, claims, authorized)
    except Exception:  # the audit trail must never fail the request it describes
        log.exception("could not record an AuditEvent row")


def _scope(resource_id: str) -> tuple[str, str]:
    """(subscription id, resource group) of `/subscriptions/S/resourceGroups/G/providers/...`."""
    parts = resource_id.split("/")
    return parts[2], parts[4]


def _record(
    service: VaultEndpoint,
    request: Request,
    started: float,
    answer: Response | ApiError,
    claims: dict[str, Any] | None,
    authorized: bool | None,
) -> None:
    world, vault_name, base_url = service.world, service.vault_name, service.base_url
    status = answer.status
    description = answer.message if isinstance(answer, ApiError) else ""
    body = answer.body if isinstance(answer, Response) else None
    operation = "Authentication" if status == 401 else operation_name(request.method, request.path)
    vault = world.store.get_vault(vault_name)
    if operation is None or vault is None:
        return
    body_id = body.get("id") if isinstance(body, dict) else None
    secret_id = (
        body_id
        if isinstance(body_id, str) and operation in _ID_FROM_BODY
        else base_url + request.path.rstrip("/").removesuffix("/backup").removesuffix("/recover")
    )
    resource_id = world.vault_resource_id(vault.name)
    # the row names the vault's own subscription and group (a vault may live in any --subscription)
    subscription_id, resource_group = _scope(resource_id)
    now = time.time()
    row = build_row(
        when=now,
        resource_id=resource_id,
        resource_group=resource_group,
        subscription_id=subscription_id,
        vault_name=vault.name,
        vault_properties=vault.properties,
        operation=operation,
        api_version=request.query.get("api-version", ""),
        status=status,
        description=description.splitlines()[0][:512] if description else "",
        duration_ms=max(0, int((now - started) * 1000)),
        caller_ip=request.client,
        correlation_id=request.header("x-ms-client-request-id") or "",
        user_agent=request.header("user-agent") or "",
        claims=claims,
        authorized=authorized,
        secret_id=secret_id,
        request_uri=request_uri(base_url, request.path, request.query),
    )
    world.audit.record(now, vault.name, resource_id, row)
