"""What a vault's settings may be: one set of rules for ARM (PUT / PATCH) and for the seed file.

ARM applies the transitions on top (soft delete and purge protection cannot be turned off);
the seed may describe states ARM no longer lets anyone create (a vault with soft delete off),
but never a value the service could not hold.
"""

from __future__ import annotations

import math
import re
from typing import Any

# Vault names as kvctl (and the service) accept them: 3-24 characters, letters, digits and single
# hyphens, starting with a letter and ending with a letter or digit.
VAULT_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]\Z")
MIN_RETENTION_DAYS = 7
MAX_RETENTION_DAYS = 90
MAX_RESOURCE_TAGS = 50
SETTABLE = (
    "tenantId",
    "sku",
    "accessPolicies",
    "enabledForDeployment",
    "enabledForDiskEncryption",
    "enabledForTemplateDeployment",
    "enableSoftDelete",
    "enableRbacAuthorization",
    "softDeleteRetentionInDays",
    "enablePurgeProtection",
    "networkAcls",
    "publicNetworkAccess",
)
_BOOLEANS = (
    "enabledForDeployment",
    "enabledForDiskEncryption",
    "enabledForTemplateDeployment",
    "enableSoftDelete",
    "enableRbacAuthorization",
    "enablePurgeProtection",
)


class VaultRuleError(ValueError):
    """A setting the service would refuse; the message is the service's wording."""


def retention_ok(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and MIN_RETENTION_DAYS <= value <= MAX_RETENTION_DAYS


def check_properties(props: dict[str, Any]) -> None:
    """Types and ranges of the settable properties present in `props`."""
    for flag in _BOOLEANS:
        if props.get(flag) is not None and not isinstance(props[flag], bool):
            raise VaultRuleError(f'The property "{flag}" must be a boolean.')
    if "softDeleteRetentionInDays" in props and not retention_ok(props["softDeleteRetentionInDays"]):
        raise VaultRuleError(
            f'The property "softDeleteRetentionInDays" must be an integer between {MIN_RETENTION_DAYS} and '
            f"{MAX_RETENTION_DAYS}."
        )
    if "publicNetworkAccess" in props and props["publicNetworkAccess"] not in ("Enabled", "Disabled"):
        raise VaultRuleError('The property "publicNetworkAccess" must be "Enabled" or "Disabled".')
    sku = props.get("sku")
    if sku is not None and (
        not isinstance(sku, dict)
        or str(sku.get("name", "")).lower() not in ("standard", "premium")
        or sku.get("family", "A") != "A"
    ):
        raise VaultRuleError('The property "sku" must be {"family": "A", "name": "standard" | "premium"}.')
    acls = props.get("networkAcls")
    if acls is not None and (not isinstance(acls, dict) or acls.get("defaultAction") not in ("Allow", "Deny")):
        raise VaultRuleError('The property "networkAcls.defaultAction" must be "Allow" or "Deny".')
    if props.get("enablePurgeProtection") and props.get("enableSoftDelete") is False:
        raise VaultRuleError("Purge protection can only be enabled on a vault that has soft delete enabled.")


def check_resource_tags(tags: Any) -> dict[str, str]:
    """ARM resource tags: at most 50, names 1-512 characters, values at most 256."""
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise VaultRuleError("Tags must be an object of string values.")
    if len(tags) > MAX_RESOURCE_TAGS:
        raise VaultRuleError(f"A resource can have at most {MAX_RESOURCE_TAGS} tags.")
    for key, value in tags.items():
        if not 1 <= len(key) <= 512 or len(value) > 256:
            raise VaultRuleError("Tag names are 1-512 characters and tag values at most 256 characters.")
    return dict(tags)


def finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
