"""Typed results of secret operations, and their JSON shape.

The JSON shape is the Azure CLI's (`az keyvault secret show`), so scripts that use jq on az keep
working; tests pin its keys. `value` is excluded from repr so it never lands in a log by accident.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat()


@dataclass(frozen=True)
class SecretAttributes:
    enabled: bool | None = True
    created: dt.datetime | None = None
    updated: dt.datetime | None = None
    expires: dt.datetime | None = None
    not_before: dt.datetime | None = None
    recovery_level: str | None = None
    recoverable_days: int | None = None


@dataclass(frozen=True)
class DeletedState:
    recovery_id: str | None
    deleted_date: dt.datetime | None
    scheduled_purge_date: dt.datetime | None


@dataclass(frozen=True)
class Secret:
    id: str
    vault_url: str
    name: str
    version: str | None
    attributes: SecretAttributes = field(default_factory=SecretAttributes)
    content_type: str | None = None
    tags: dict[str, str] | None = None
    managed: bool | None = None
    kid: str | None = None
    value: str | None = field(default=None, repr=False)
    deleted: DeletedState | None = None

    def without_value(self) -> Secret:
        return Secret(
            self.id,
            self.vault_url,
            self.name,
            self.version,
            self.attributes,
            self.content_type,
            self.tags,
            self.managed,
            self.kid,
            None,
            self.deleted,
        )


def attributes_json(a: SecretAttributes) -> dict[str, Any]:
    return {
        "enabled": a.enabled,
        "created": iso(a.created),
        "updated": iso(a.updated),
        "expires": iso(a.expires),
        "notBefore": iso(a.not_before),
        "recoveryLevel": a.recovery_level,
        "recoverableDays": a.recoverable_days,
    }


def secret_json(s: Secret, *, include_value: bool | None = None) -> dict[str, Any]:
    """The Azure CLI shape; `value` appears only when it was fetched (or `include_value`)."""
    out: dict[str, Any] = {"id": s.id, "name": s.name}
    if include_value if include_value is not None else s.value is not None:
        out["value"] = s.value
    out.update(
        {
            "contentType": s.content_type,
            "tags": s.tags if s.tags is not None else {},
            "managed": s.managed,
            "kid": s.kid,
            "attributes": attributes_json(s.attributes),
        }
    )
    if s.deleted is not None:
        out["recoveryId"] = s.deleted.recovery_id
        out["deletedDate"] = iso(s.deleted.deleted_date)
        out["scheduledPurgeDate"] = iso(s.deleted.scheduled_purge_date)
    return out
