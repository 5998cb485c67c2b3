"""ARM's self-description: `GET /metadata/endpoints` (what `az cloud register` reads; served
without a token, as ARM serves it) and `GET /providers/Microsoft.KeyVault/operations`."""

from __future__ import annotations

import re
from typing import Any

from .http import Request, bad_request

# Before 2019-05-01 the endpoint answers the old single-cloud shape; from 2019-05-01 a list of
# clouds; from 2022-09-01 (what the Azure CLI asks for today) the current cloud alone.
_LIST_FROM = "2019-05-01"
_SINGLE_FROM = "2022-09-01"
CLOUD_NAME = "KvctlEmulator"


def metadata_endpoints(
    api_version: str, arm_url: str, graph_url: str | None, log_analytics_url: str | None = None
) -> Any:
    arm = arm_url.rstrip("/") + "/"
    audiences = ["https://management.core.windows.net/", "https://management.azure.com/"]
    if not api_version or api_version < _LIST_FROM:
        legacy: dict[str, Any] = {
            "galleryEndpoint": arm,
            "portalEndpoint": arm,
            "authentication": {"loginEndpoint": arm, "audiences": audiences},
        }
        if graph_url:
            legacy["graphEndpoint"] = graph_url.rstrip("/").removesuffix("/v1.0") + "/"
        return legacy
    cloud: dict[str, Any] = {
        "name": CLOUD_NAME,
        "portal": arm,
        "resourceManager": arm,
        "gallery": arm,
        # The emulator's Entra ID (the token endpoint for workload identity) lives on the ARM port.
        "authentication": {
            "loginEndpoint": arm,
            "audiences": audiences,
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "suffixes": {},
    }
    if graph_url:
        # The Azure CLI uses microsoftGraphResourceId both as the token resource and as the base
        # of its Graph requests (it appends `v1.0/...`).
        root = graph_url.rstrip("/").removesuffix("/v1.0") + "/"
        cloud["graph"] = root
        cloud["microsoftGraphResourceId"] = root
    if log_analytics_url:
        # As Azure's `logAnalyticsResourceId` (https://api.loganalytics.io): the query API's base URL,
        # and the resource its tokens are for.
        cloud["logAnalyticsResourceId"] = log_analytics_url.rstrip("/")
    if api_version >= _SINGLE_FROM:
        return cloud
    return [cloud]


def _operation(name: str, resource: str, operation: str, description: str, data: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "display": {
            "provider": "Microsoft Key Vault",
            "resource": resource,
            "operation": operation,
            "description": description,
        },
        "origin": "user,system" if not data else "user",
        "isDataAction": data,
    }


def keyvault_operations() -> dict[str, Any]:
    v = "Microsoft.KeyVault/vaults"
    s = f"{v}/secrets"
    ops = [
        _operation(f"{v}/read", "Key Vault", "View Key Vault", "View the properties of a key vault"),
        _operation(f"{v}/write", "Key Vault", "Update Key Vault", "Create a new key vault or update an existing one"),
        _operation(f"{v}/delete", "Key Vault", "Delete Key Vault", "Delete a key vault"),
        _operation(
            f"{v}/accessPolicies/write", "Access Policy", "Update Access Policy", "Update a vault's access policies"
        ),
        _operation(
            "Microsoft.KeyVault/deletedVaults/read",
            "Soft Deleted Key Vault",
            "View Soft Deleted Vaults",
            "View the properties of soft deleted key vaults",
        ),
        _operation(
            "Microsoft.KeyVault/locations/deletedVaults/purge/action",
            "Soft Deleted Key Vault",
            "Purge Soft Deleted Vault",
            "Purge a soft deleted key vault",
        ),
        _operation(f"{s}/read", "Secret", "View Secret Properties", "View the properties of a secret"),
        _operation(f"{s}/write", "Secret", "Update Secret", "Create a new secret or update an existing one"),
    ]
    for action, operation in (
        ("getSecret/action", "Get Secret"),
        ("readMetadata/action", "Read Secret Properties"),
        ("setSecret/action", "Set Secret"),
        ("update/action", "Update Secret Properties"),
        ("delete", "Delete Secret"),
        ("recover/action", "Recover Secret"),
        ("purge/action", "Purge Secret"),
        ("backup/action", "Backup Secret"),
        ("restore/action", "Restore Secret"),
    ):
        ops.append(_operation(f"{s}/{action}", "Secret", operation, f"{operation} (data action)", data=True))
    return {"value": ops}


_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?\Z")


def check_api_version(request: Request) -> None:
    """Every ARM request names an api-version of the form the service accepts."""
    version = request.query.get("api-version")
    if not version:
        raise bad_request(
            "The api-version query parameter (?api-version=) is required for all requests.",
            "MissingApiVersionParameter",
        )
    if not _API_VERSION.match(version):
        raise bad_request(
            f"The api-version '{version}' is invalid. The supported versions are '2022-12-01,2022-04-01'.",
            "InvalidApiVersionParameter",
        )


def root_group(tenant: str) -> dict[str, Any]:
    """The tenant root management group (its id is the tenant's): every subscription is in it."""
    return {
        "id": f"/providers/Microsoft.Management/managementGroups/{tenant}",
        "type": "Microsoft.Management/managementGroups",
        "name": tenant,
        "properties": {"tenantId": tenant, "displayName": "Tenant Root Group"},
    }
