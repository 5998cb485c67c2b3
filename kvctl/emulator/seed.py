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

from .http import has_lone_surrogate
from .secret_rules import MAX_CONTENT_TYPE, MAX_INSTANT, MAX_TAGS
from .secrets_api import MAX_VALUE_BYTES, NAME_PATTERN
from .vault_rules import SETTABLE, VAULT_NAME, VaultRuleError, check_properties, finite_number

_DURATION = re.compile(r"^(-?)(\d+)([smhdw])\Z")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
VAULTS_KEY = "_vaults"
_SECRET_KEYS = {"value", "contentType", "tags", "expires", "notBefore", "enabled", "created"}
_VAULT_KEYS = {"properties", "secrets"}


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
    moment: float
    if finite_number(value):
        moment = value
    elif isinstance(value, str) and len(value) <= 64:
        match = _DURATION.match(value.strip())
        if match:
            sign = -1 if match.group(1) else 1
            moment = now + sign * int(match.group(2)) * _UNIT_SECONDS[match.group(3)]
        else:
            try:
                parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=dt.UTC)
                moment = parsed.timestamp()
            except (ValueError, OverflowError) as exc:
                raise SeedError(f"{where}: {value!r} is not a date, a duration like 30d, or Unix seconds") from exc
    else:
        raise SeedError(f"{where}: expected a date, a duration like 30d, or Unix seconds")
    if not 0 <= moment <= MAX_INSTANT:
        raise SeedError(f"{where}: {value!r} is outside the range the service keeps (1970 to 9999)")
    return int(moment)


def _tags(tags: Any, where: str) -> dict[str, str] | None:
    if tags is None:
        return None
    if not (isinstance(tags, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())):
        raise SeedError(f"{where}: expected an object of strings")
    if len(tags) > MAX_TAGS:
        raise SeedError(f"{where}: {len(tags)} tags; a secret can have at most {MAX_TAGS}")
    for key, tag in tags.items():
        if not 1 <= len(key) <= 512 or len(tag) > 256:
            raise SeedError(f"{where}: tag names are 1-512 characters and tag values at most 256")
    return dict(tags)


def _secrets(entries: Any, where: str, now: float) -> list[SeedSecret]:
    if not isinstance(entries, dict):
        raise SeedError(f"{where}: expected an object of secret name -> value")
    out = []
    seen: set[str] = set()
    for name, spec in entries.items():
        if not NAME_PATTERN.match(name):
            raise SeedError(f"{where}: {name!r} is not a valid secret name (letters, digits and -, 1-127)")
        if name.lower() in seen:  # the service's names are case-insensitive
            raise SeedError(f"{where}: {name!r} appears twice (names are case-insensitive)")
        seen.add(name.lower())
        if isinstance(spec, str):
            spec = {"value": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("value"), str):
            raise SeedError(f"{where}.{name}: expected a string, or an object with a string 'value'")
        unknown = set(spec) - _SECRET_KEYS
        if unknown:
            raise SeedError(f"{where}.{name}: unknown key(s) {', '.join(sorted(map(repr, unknown)))}")
        if not spec["value"]:
            raise SeedError(f"{where}.{name}: the value is empty (the service refuses empty values)")
        if len(spec["value"].encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
            raise SeedError(f"{where}.{name}: value is larger than 25 KiB")
        tags = _tags(spec.get("tags"), f"{where}.{name}.tags")
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise SeedError(f"{where}.{name}.enabled: expected true or false")
        content_type = spec.get("contentType")
        if content_type is not None and (not isinstance(content_type, str) or len(content_type) > MAX_CONTENT_TYPE):
            raise SeedError(f"{where}.{name}.contentType: expected a string of at most {MAX_CONTENT_TYPE} characters")
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
        if not VAULT_NAME.match(vault_name):
            raise SeedError(
                f"{VAULTS_KEY}: {vault_name!r} is not a valid vault name "
                "(3-24 letters, digits and single '-', starting with a letter)"
            )
        if vault_name.lower() in {v.lower() for v in seed.vaults}:
            raise SeedError(f"{VAULTS_KEY}: {vault_name!r} appears twice (names are case-insensitive)")
        if not isinstance(spec, dict):
            raise SeedError(f"{VAULTS_KEY}.{vault_name}: expected an object")
        unknown = set(spec) - _VAULT_KEYS
        if unknown:
            raise SeedError(f"{VAULTS_KEY}.{vault_name}: unknown key(s) {', '.join(sorted(map(repr, unknown)))}")
        properties = spec.get("properties", {})
        if not isinstance(properties, dict):
            raise SeedError(f"{VAULTS_KEY}.{vault_name}.properties: expected an object")
        unknown = set(properties) - (set(SETTABLE) - {"tenantId"})
        if unknown:
            names = ", ".join(sorted(map(repr, unknown)))
            raise SeedError(f"{VAULTS_KEY}.{vault_name}.properties: cannot set {names}")
        try:
            check_properties(properties)
        except VaultRuleError as exc:
            raise SeedError(f"{VAULTS_KEY}.{vault_name}.properties: {exc}") from None
        seed.vaults[vault_name] = SeedVault(
            properties=properties,
            secrets=_secrets(spec.get("secrets", {}), f"{VAULTS_KEY}.{vault_name}.secrets", now),
        )
    return seed


def load_seed(path: Path, now: float) -> Seed:
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc.strerror}") from exc
    except RecursionError as exc:
        raise SeedError(f"seed file {path} is nested too deeply") from exc
    except ValueError as exc:  # also bad UTF-8, and NaN / Infinity
        raise SeedError(f"seed file {path} is not valid JSON: {exc}") from exc
    if has_lone_surrogate(data):  # the text is not said: it may be a secret value
        raise SeedError(f"seed file {path} holds a lone surrogate escape (like \\ud800), which is not valid Unicode")
    return parse_seed(data, now)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
