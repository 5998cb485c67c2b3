"""`--seed FILE`: secrets to preload, and optionally the settings of extra vaults.

    {"db-password": "s3cret",
     "api-key": {"value": "k", "contentType": "text/plain", "tags": {"team": "a"},
                 "expires": "30d" | "-1d" | "2030-01-01T00:00:00Z" | 1893456000,
                 "notBefore": ..., "enabled": false, "created": "-400d"},
     "_vaults": {"legacy": {"properties": {"enableSoftDelete": false}, "secrets": {...}}}}

Plain entries go to the first vault. `_vaults` (not a valid secret name, so it cannot clash)
sets vault properties as they may be found in Azure, including states ARM no longer lets you
create (soft delete off). A secret that already exists is left alone, so restarting with the
same seed does not add versions.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .secrets_api import MAX_VALUE_BYTES, NAME_PATTERN

_DURATION = re.compile(r"^(-?)(\d+)([smhdw])\Z")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
VAULTS_KEY = "_vaults"


class SeedError(ValueError):
    pass


@dataclass(frozen=True)
class SeedSecret:
    name: str
    value: str
    content_type: str | None = None
    tags: dict[str, str] | None = None
    expires: int | None = None
    not_before: int | None = None
    enabled: bool = True
    created: int | None = None


@dataclass
class SeedVault:
    properties: dict[str, Any] = field(default_factory=dict)
    secrets: list[SeedSecret] = field(default_factory=list)


@dataclass
class Seed:
    default_secrets: list[SeedSecret] = field(default_factory=list)
    vaults: dict[str, SeedVault] = field(default_factory=dict)


def _instant(value: Any, where: str, now: float) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise SeedError(f"{where}: expected a date, a duration like 30d, or Unix seconds")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match:
            sign = -1 if match.group(1) else 1
            return int(now + sign * int(match.group(2)) * _UNIT_SECONDS[match.group(3)])
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise SeedError(f"{where}: {value!r} is not a date, a duration like 30d, or Unix seconds") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return int(parsed.timestamp())
    raise SeedError(f"{where}: expected a date, a duration like 30d, or Unix seconds")


def _secrets(entries: Any, where: str, now: float) -> list[SeedSecret]:
    if not isinstance(entries, dict):
        raise SeedError(f"{where}: expected an object of secret name -> value")
    out = []
    for name, spec in entries.items():
        if not NAME_PATTERN.match(name):
            raise SeedError(f"{where}: {name!r} is not a valid secret name (letters, digits and -, 1-127)")
        if isinstance(spec, str):
            spec = {"value": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("value"), str):
            raise SeedError(f"{where}.{name}: expected a string, or an object with a string 'value'")
        if len(spec["value"].encode("utf-8")) > MAX_VALUE_BYTES:
            raise SeedError(f"{where}.{name}: value is larger than 25 KiB")
        tags = spec.get("tags")
        if tags is not None and not (
            isinstance(tags, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())
        ):
            raise SeedError(f"{where}.{name}.tags: expected an object of strings")
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise SeedError(f"{where}.{name}.enabled: expected true or false")
        content_type = spec.get("contentType")
        if content_type is not None and not isinstance(content_type, str):
            raise SeedError(f"{where}.{name}.contentType: expected a string")
        out.append(
            SeedSecret(
                name=name,
                value=spec["value"],
                content_type=content_type,
                tags=tags,
                expires=_instant(spec.get("expires"), f"{where}.{name}.expires", now),
                not_before=_instant(spec.get("notBefore"), f"{where}.{name}.notBefore", now),
                enabled=enabled,
                created=_instant(spec.get("created"), f"{where}.{name}.created", now),
            )
        )
    return out


def parse_seed(data: Any, now: float) -> Seed:
    if not isinstance(data, dict):
        raise SeedError("the seed must be a JSON object of secret name -> value")
    plain = {k: v for k, v in data.items() if k != VAULTS_KEY}
    seed = Seed(default_secrets=_secrets(plain, "seed", now))
    vaults = data.get(VAULTS_KEY, {})
    if not isinstance(vaults, dict):
        raise SeedError(f"{VAULTS_KEY}: expected an object of vault name -> settings")
    for vault_name, spec in vaults.items():
        if not isinstance(spec, dict):
            raise SeedError(f"{VAULTS_KEY}.{vault_name}: expected an object")
        properties = spec.get("properties", {})
        if not isinstance(properties, dict):
            raise SeedError(f"{VAULTS_KEY}.{vault_name}.properties: expected an object")
        seed.vaults[vault_name] = SeedVault(
            properties=properties,
            secrets=_secrets(spec.get("secrets", {}), f"{VAULTS_KEY}.{vault_name}.secrets", now),
        )
    return seed


def load_seed(path: Path, now: float) -> Seed:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise SeedError(f"seed file {path} is not valid JSON: {exc}") from exc
    return parse_seed(data, now)
