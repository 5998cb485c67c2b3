"""Key Vault's AuditEvent log as kvctl reads it: which operations there are (by their short names),
one row of Log Analytics' AzureDiagnostics table as an event, and where a vault's log goes (its
diagnostic settings name the Log Analytics workspaces)."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .check_posture import AUDIT_CATEGORY, AUDIT_GROUPS, ENABLE_COMMAND
from .errors import ForbiddenError, NotFoundError, UsageError

# Short name -> the AuditEvent OperationName Key Vault logs for secrets.
OPERATIONS: dict[str, str] = {
    "get": "SecretGet",
    "set": "SecretSet",
    "list": "SecretList",
    "versions": "SecretListVersions",
    "update": "SecretUpdate",
    "delete": "SecretDelete",
    "recover": "SecretRecover",
    "purge": "SecretPurge",
    "backup": "SecretBackup",
    "restore": "SecretRestore",
    "list-deleted": "SecretListDeleted",
    "get-deleted": "SecretGetDeleted",
}
SHORT_NAMES = {v.lower(): k for k, v in OPERATIONS.items()}
MAX_SINCE = dt.timedelta(days=730)  # Log Analytics keeps data at most two years (interactive retention)


def operation_names(given: list[str]) -> list[str]:
    """`get,set` (comma-separated, repeatable) -> the OperationName values, checked before any request."""
    names: list[str] = []
    for item in given:
        for part in item.split(","):
            short = part.strip().lower()
            if not short:
                continue
            if short not in OPERATIONS:
                raise UsageError(f"unknown operation {part.strip()!r}", hint=f"use one of: {', '.join(OPERATIONS)}")
            if OPERATIONS[short] not in names:
                names.append(OPERATIONS[short])
    if given and not names:
        raise UsageError("no operation named", hint=f"use one of: {', '.join(OPERATIONS)}")
    return names


def since_window(since: dt.timedelta) -> dt.timedelta:
    if since <= dt.timedelta(0):
        raise UsageError("the window must be longer than zero", hint="e.g. 7d")
    if since > MAX_SINCE:
        raise UsageError("the window is longer than any Log Analytics retention (730 days)", hint="at most 730d")
    return since


def short_operation(name: str) -> str:
    known = SHORT_NAMES.get(name.lower())
    if known:
        return known
    return name[len("Secret") :].lower() if name.lower().startswith("secret") and len(name) > 6 else name


@dataclass(frozen=True)
class AuditEvent:
    time: dt.datetime
    operation: str  # the short name (get, set, ...)
    operation_name: str  # as logged (SecretGet, ...)
    secret: str | None
    version: str | None
    status: int | None  # the HTTP status the service answered
    result: str | None  # ResultSignature: OK, Forbidden, Unauthorized, NotFound, ...
    caller_object_id: str | None
    caller_app_id: str | None
    caller_upn: str | None
    client_address: str | None
    correlation_id: str | None = None
    caller_name: str | None = None  # resolved through Microsoft Graph when possible

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def key(self) -> tuple[Any, ...]:
        """What makes two rows the same event (a vault logging to two workspaces shows it twice)."""
        return (self.time, self.operation_name, self.secret, self.version, self.caller_object_id, self.correlation_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "operation": self.operation,
            "operationName": self.operation_name,
            "secret": self.secret,
            "version": self.version,
            "status": self.status,
            "result": self.result,
            "succeeded": self.succeeded,
            "callerName": self.caller_name,
            "callerObjectId": self.caller_object_id,
            "callerAppId": self.caller_app_id,
            "callerUpn": self.caller_upn,
            "clientAddress": self.client_address,
            "correlationId": self.correlation_id,
        }


def _text(row: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = row.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def secret_and_version(identifier: str | None) -> tuple[str | None, str | None]:
    """`https://VAULT/secrets/NAME[/VERSION]` (or deletedsecrets/NAME) -> (NAME, VERSION)."""
    if not identifier:
        return None, None
    path = urllib.parse.urlsplit(identifier).path if "://" in identifier else identifier
    parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() in ("secrets", "deletedsecrets"):
        # After the name comes a version, or an operation (`versions`, `backup`, `recover`): not a version.
        version = parts[2] if len(parts) >= 3 and _VERSION_ID.match(parts[2]) else None
        return parts[1], version
    return None, None


_VERSION_ID = re.compile(r"^[0-9a-fA-F]{32}\Z")


def event_from_row(row: Mapping[str, Any]) -> AuditEvent:
    """One AzureDiagnostics row (column name -> value) as an event."""
    operation_name = _text(row, "OperationName") or ""
    secret, version = secret_and_version(_text(row, "id_s"))
    if secret is None:
        secret, version = secret_and_version(_text(row, "requestUri_s"))
    status_value = row.get("httpStatusCode_d")
    try:
        status = int(float(status_value)) if status_value not in (None, "") else None
    except (TypeError, ValueError):
        status = None
    oid = _text(
        row, "identity_claim_oid_g", "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g"
    )
    appid = _text(row, "identity_claim_appid_g")
    return AuditEvent(
        time=_time(row.get("TimeGenerated")),
        operation=short_operation(operation_name),
        operation_name=operation_name,
        secret=secret,
        version=version,
        status=status,
        result=_text(row, "ResultSignature", "ResultType"),
        caller_object_id=oid.lower() if oid else None,
        caller_app_id=appid.lower() if appid else None,
        caller_upn=_text(row, "identity_claim_upn_s"),
        client_address=_text(row, "CallerIPAddress"),
        correlation_id=_text(row, "CorrelationId"),
    )


# -- where the log goes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    resource_id: str
    customer_id: str  # the "workspace id" the query API takes
    retention_days: int | None = None

    @property
    def name(self) -> str:
        return self.resource_id.rstrip("/").rsplit("/", 1)[-1]


class WorkspaceReader(Protocol):
    def list_diagnostic_settings(self, resource_id: str) -> list[dict[str, Any]]: ...

    def get_workspace(self, resource_id: str) -> Workspace: ...


def _audit_logs_enabled(setting: dict[str, Any]) -> bool:
    for log in (setting.get("properties") or {}).get("logs") or []:
        if not isinstance(log, dict) or log.get("enabled") is not True:
            continue
        if log.get("category") == AUDIT_CATEGORY or str(log.get("categoryGroup") or "").lower() in AUDIT_GROUPS:
            return True
    return False


def audit_workspace_ids(settings: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(workspace resource ids that receive AuditEvent, other destinations that do)."""
    workspaces: list[str] = []
    elsewhere: list[str] = []
    for setting in settings:
        if not _audit_logs_enabled(setting):
            continue
        props = setting.get("properties") or {}
        workspace = props.get("workspaceId")
        if isinstance(workspace, str) and workspace and workspace.lower() not in (w.lower() for w in workspaces):
            workspaces.append(workspace)
        for key, label in (
            ("storageAccountId", "a storage account"),
            ("eventHubAuthorizationRuleId", "an event hub"),
            ("marketplacePartnerId", "a partner solution"),
        ):
            if props.get(key) and label not in elsewhere:
                elsewhere.append(label)
    return workspaces, elsewhere


class AuditLoggingOff(NotFoundError):
    """No Log Analytics workspace receives the vault's AuditEvent log (exit 3, as "not found")."""


def logging_off(vault_name: str, vault_id: str, elsewhere: list[str]) -> AuditLoggingOff:
    where = (
        f"only to {' and '.join(elsewhere)}, which kvctl cannot query"
        if elsewhere
        else "nowhere (no diagnostic setting with the AuditEvent category or the audit/allLogs group)"
    )
    return AuditLoggingOff(
        f"audit logging to Log Analytics is off for vault {vault_name}: it sends its AuditEvent log {where}",
        hint="turn it on with: " + ENABLE_COMMAND.format(vault_id=vault_id),
    )


def find_workspaces(reader: WorkspaceReader, vault_name: str, vault_id: str) -> list[Workspace]:
    """The Log Analytics workspaces that receive the vault's AuditEvent log (AuditLoggingOff if none)."""
    try:
        settings = reader.list_diagnostic_settings(vault_id)
    except ForbiddenError as exc:
        raise ForbiddenError(
            f"forbidden: {_who(exc.caller)} may not read the diagnostic settings of vault {vault_name}, so kvctl "
            "cannot tell where its audit log goes",
            hint=f"ask for 'Reader' or 'Monitoring Reader' on vault {vault_name} ({vault_id})",
            caller=exc.caller,
            action=exc.action,
            resource=vault_id,
        ) from None
    ids, elsewhere = audit_workspace_ids(settings)
    if not ids:
        raise logging_off(vault_name, vault_id, elsewhere)
    found: list[Workspace] = []
    for resource_id in ids:
        try:
            workspace = reader.get_workspace(resource_id)
        except ForbiddenError as exc:
            raise workspace_forbidden(resource_id, exc.caller) from None
        if workspace.customer_id.lower() not in (w.customer_id.lower() for w in found):
            found.append(workspace)
    return found


def workspace_forbidden(resource_id: str, caller: str | None = None, verb: str = "read") -> ForbiddenError:
    name = resource_id.rstrip("/").rsplit("/", 1)[-1]
    return ForbiddenError(
        f"forbidden: {_who(caller)} may not {verb} Log Analytics workspace {name}, where the vault's audit log goes",
        hint=f"ask for 'Log Analytics Reader' on workspace {resource_id}",
        caller=caller,
        resource=resource_id,
    )


def _who(caller: str | None) -> str:
    return f"object id {caller}" if caller else "you"
