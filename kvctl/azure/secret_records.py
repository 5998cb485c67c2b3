"""Azure SDK secret objects as kvctl's typed records (kvctl/core/models.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from azure.keyvault.secrets import DeletedSecret, KeyVaultSecret, SecretProperties

from ..core.errors import UnavailableError
from ..core.models import DeletedState, Secret, SecretAttributes
from ..core.redaction import register


def wire_text(value: Any) -> str | None:
    """The SDK hands some fields over as str-enums; kvctl shows their wire value."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def checked_moment(value: Any, name: str, field: str) -> dt.datetime | None:
    """A time the SDK decoded, or None when absent. The SDK hands a time it cannot decode (say a
    year past 9999) over as the raw number: that is a malformed answer, refused as one rather
    than shown as "not set" (a missing expiry is a finding of its own in `check`)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    raise UnavailableError(
        f"the service answered secret {name!r} with a {field} kvctl cannot read (not a date it can represent)",
        hint="fix that attribute with the Azure portal or az keyvault secret set-attributes",
    )


def secret_from(props: SecretProperties, value: str | None = None, deleted: DeletedState | None = None) -> Secret:
    identifier = props.id or ""
    name = props.name or ""
    return Secret(
        id=identifier,
        vault_url=(props.vault_url or "").rstrip("/"),
        name=props.name or "",
        version=props.version,
        attributes=SecretAttributes(
            enabled=props.enabled,
            created=checked_moment(props.created_on, name, "creation time"),
            updated=checked_moment(props.updated_on, name, "update time"),
            expires=checked_moment(props.expires_on, name, "expiry"),
            not_before=checked_moment(props.not_before, name, "not-before time"),
            recovery_level=wire_text(props.recovery_level),
            recoverable_days=props.recoverable_days,
        ),
        content_type=props.content_type,
        tags=dict(props.tags) if props.tags is not None else None,
        managed=props.managed,
        kid=props.key_id,
        value=value,
        deleted=deleted,
    )


def from_kv_secret(secret: KeyVaultSecret) -> Secret:
    register(secret.value)
    return secret_from(secret.properties, secret.value)


def from_deleted(secret: DeletedSecret) -> Secret:
    name = secret.name or ""
    state = DeletedState(
        secret.recovery_id,
        checked_moment(secret.deleted_date, name, "deletion date"),
        checked_moment(secret.scheduled_purge_date, name, "scheduled purge date"),
    )
    return secret_from(secret.properties, None, state)
