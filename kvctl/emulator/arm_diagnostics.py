"""`Microsoft.Insights/diagnosticSettings` on a vault (api-version 2021-05-01-preview): list, get,
create or replace, delete — in the shape of azure-rest-api-specs' DiagnosticSettingsResource, with
the service's checks (a destination is required, Key Vault's log categories only).

Settings are kept with the rest of the state (audit_store.py). A setting that sends `AuditEvent`
(or the `audit`/`allLogs` group) to a Log Analytics workspace of this emulator routes the vault's
rows there from then on (audit_log.py); other destinations are accepted and receive nothing. As in
Azure, deleting a vault does not delete its settings (a vault recreated under the name has them).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .authz import authorize_arm_action
from .http import ApiError, Request, Response, bad_request
from .world import World

API_VERSION = "2021-05-01-preview"
LOG_CATEGORIES = ("AuditEvent", "AzurePolicyEvaluationDetails")
CATEGORY_GROUPS = ("audit", "allLogs")
METRIC_CATEGORIES = ("AllMetrics",)
DESTINATIONS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId", "marketplacePartnerId")
_NAME = re.compile(r"^[^*#&+:<>?@%{}\\/]{1,260}\Z")
_KNOWN = (*DESTINATIONS, "eventHubName", "serviceBusRuleId", "logAnalyticsDestinationType", "logs", "metrics")


class DiagnosticSettings:
    def __init__(self, world: World) -> None:
        self.world = world

    def handle(self, request: Request, vault_id: str, rest: list[str], claims: dict[str, Any]) -> Response:
        """`rest`: the path after `providers/Microsoft.Insights/` ("diagnosticSettings"[, NAME])."""
        if not rest or rest[0].lower() != "diagnosticsettings" or len(rest) > 2:
            raise ApiError(
                404, "InvalidResourceType", f"The resource type could not be found for path '{request.path}'."
            )
        version = request.query.get("api-version", "")
        if version != API_VERSION:
            raise ApiError(
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location 'global' and API version '{version}' for "
                f"type 'diagnosticSettings'. The supported api-versions are '{API_VERSION}'.",
            )
        method = request.method
        if len(rest) == 1:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"The requested method '{method}' is not allowed.")
            authorize_arm_action(self.world, claims, "Microsoft.Insights/diagnosticSettings/read", vault_id)
            found = self.world.store.diagnostic_settings(vault_id)
            return Response(200, {"value": sorted(found, key=lambda s: s["name"].lower())})
        name = rest[1]
        if not _NAME.match(name):
            raise bad_request(f"The diagnostic setting name '{name}' is invalid.", "BadRequest")
        if method == "GET":
            authorize_arm_action(self.world, claims, "Microsoft.Insights/diagnosticSettings/read", vault_id)
            setting = self.world.store.get_diagnostic_setting(vault_id, name)
            if setting is None:
                raise ApiError(404, "ResourceNotFound", f"The diagnostic setting '{name}' doesn't exist.")
            return Response(200, setting)
        if method == "PUT":
            authorize_arm_action(self.world, claims, "Microsoft.Insights/diagnosticSettings/write", vault_id)
            resource = setting_resource(vault_id, name, _checked(request.body))
            self.world.store.put_diagnostic_setting(vault_id, name, resource)
            return Response(200, resource)
        if method == "DELETE":
            authorize_arm_action(self.world, claims, "Microsoft.Insights/diagnosticSettings/delete", vault_id)
            gone = self.world.store.delete_diagnostic_setting(vault_id, name)
            return Response(200 if gone else 204, None)
        raise ApiError(405, "MethodNotAllowed", f"The requested method '{method}' is not allowed.")


def setting_resource(vault_id: str, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{vault_id}/providers/microsoft.insights/diagnosticSettings/{name}",
        "type": "Microsoft.Insights/diagnosticSettings",
        "name": name,
        "properties": properties,
    }


def audit_setting_properties(workspace_id: str) -> dict[str, Any]:
    """What `az monitor diagnostic-settings create --workspace W --logs '[{"category": "AuditEvent",
    "enabled": true}]'` stores: AuditEvent to one workspace (the emulator's `--audit-logs`)."""
    return _checked(
        json.dumps(
            {"properties": {"workspaceId": workspace_id, "logs": [{"category": "AuditEvent", "enabled": True}]}}
        ).encode()
    )


def _checked(body: bytes | None) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise bad_request(
            "The request content was invalid and could not be deserialized.", "InvalidRequestContent"
        ) from None
    properties = data.get("properties") if isinstance(data, dict) else None
    if not isinstance(properties, dict):
        raise bad_request("The request content is missing 'properties'.", "BadRequest")
    unknown = [k for k in properties if k not in _KNOWN]
    if unknown:
        raise bad_request(f"Could not find member '{unknown[0]}' on object of type 'DiagnosticSettings'.", "BadRequest")
    if not any(isinstance(properties.get(d), str) and properties[d] for d in DESTINATIONS):
        raise bad_request(
            "At least one storage account, event hub, log analytics workspace or partner solution must be specified.",
            "BadRequest",
        )
    logs = properties.get("logs") or []
    metrics = properties.get("metrics") or []
    if not isinstance(logs, list) or not isinstance(metrics, list):
        raise bad_request("'logs' and 'metrics' must be arrays.", "BadRequest")
    out_logs = []
    for entry in logs:
        if not isinstance(entry, dict) or not isinstance(entry.get("enabled"), bool):
            raise bad_request("Each log setting needs 'enabled' (true or false).", "BadRequest")
        category, group = entry.get("category"), entry.get("categoryGroup")
        if (category is None) == (group is None):
            raise bad_request("Each log setting names exactly one of 'category' or 'categoryGroup'.", "BadRequest")
        if category is not None and category not in LOG_CATEGORIES:
            raise bad_request(f"Category '{category}' is not supported.", "BadRequest")
        if group is not None and group not in CATEGORY_GROUPS:
            raise bad_request(f"Category group '{group}' is not supported.", "BadRequest")
        out_logs.append(
            {
                "category": category,
                "categoryGroup": group,
                "enabled": entry["enabled"],
                "retentionPolicy": entry.get("retentionPolicy") or {"enabled": False, "days": 0},
            }
        )
    out_metrics = []
    for entry in metrics:
        if not isinstance(entry, dict) or entry.get("category") not in METRIC_CATEGORIES:
            raise bad_request(f"Metric category '{(entry or {}).get('category')}' is not supported.", "BadRequest")
        out_metrics.append(
            {
                "category": entry["category"],
                "timeGrain": entry.get("timeGrain"),
                "enabled": bool(entry.get("enabled")),
                "retentionPolicy": entry.get("retentionPolicy") or {"enabled": False, "days": 0},
            }
        )
    result: dict[str, Any] = {k: properties.get(k) for k in (*DESTINATIONS, "eventHubName", "serviceBusRuleId")}
    result["logAnalyticsDestinationType"] = properties.get("logAnalyticsDestinationType")
    result["logs"] = out_logs
    result["metrics"] = out_metrics
    return result
