"""What the secrets API accepts in a request body, and its conflict answer."""

from __future__ import annotations

from typing import Any

from .http import ApiError, bad_request

MAX_CONTENT_TYPE = 255
MAX_TAGS = 15
# The service keeps times as .NET DateTimes: nothing after 9999-12-31T23:59:59Z, nothing before 1970.
MAX_INSTANT = 253402300799


def deleted_conflict(name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this "
        "state, the secret can only be recovered or purged.",
        inner="ObjectIsDeletedButRecoverable",
    )


def content_type(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_CONTENT_TYPE:
        raise bad_request(f"Property 'contentType' must be a string of at most {MAX_CONTENT_TYPE} characters.")
    return value


def tags(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise bad_request("Property 'tags' must be an object of string values.")
    if len(value) > MAX_TAGS:
        raise bad_request(f"A secret can have at most {MAX_TAGS} tags.")
    for key, tag in value.items():
        if not 1 <= len(key) <= 512 or len(tag) > 256:
            raise bad_request("Tag names are 1-512 characters and tag values at most 256 characters.")
    return dict(value)


def attributes_in(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request("Property 'attributes' must be an object.")
    out: dict[str, Any] = {}
    if value.get("enabled") is not None:
        if not isinstance(value["enabled"], bool):
            raise bad_request("Property 'attributes.enabled' must be a boolean.")
        out["enabled"] = value["enabled"]
    for key in ("nbf", "exp"):
        if value.get(key) is not None:
            if isinstance(value[key], bool) or not isinstance(value[key], int):
                raise bad_request(f"Property 'attributes.{key}' must be a Unix time in seconds.")
            if not 0 <= value[key] <= MAX_INSTANT:
                # Stored, such a time would break every client that decodes it (a year past 9999).
                raise bad_request(
                    f"Property 'attributes.{key}' is out of range: a Unix time from 0 (1970-01-01) "
                    f"to {MAX_INSTANT} (9999-12-31T23:59:59Z).",
                    code="BadParameter",
                )
            out[key] = value[key]
    return out
