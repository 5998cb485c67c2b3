"""The hot reads — a secret's value, and the pages of the secret list — through the SecretClient's
own pipeline (`send_request`: challenge authentication, retries, throttling hooks, the transport's
origin rule, all unchanged), with the JSON read straight into kvctl's records.

Why: the SDK's models read each attribute through a generic, annotation-driven deserializer on
every access; for a list that is most of kvctl's CPU per item, and in `export` (a list and a get
per secret, on one interpreter lock) it slowed everything else down. What the SDK would raise for
an error answer is raised here too (the same exception types, the same parsed error body), so
errors.translate words every failure as before; an answer that is not what the API promises is
an invalid answer (exit 7), never kvctl's own crash.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import urllib.parse
from collections.abc import Iterator
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    map_error,
)
from azure.core.rest import HttpRequest

from ..core.clouds import is_loopback
from ..core.models import Secret, SecretAttributes
from ..core.redaction import register
from .paging import PageLinks
from .pipeline import origin_of
from .secret_records import checked_moment

_ERRORS = {401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError}
PAGE_SIZE = 25


class BadAnswer(DecodeError):
    """A service answer that does not have the shape the API promises (exit 7, as a decoding error)."""


def answer_json(client: Any, url: str) -> Any:
    """GET `url` (relative to the vault, or a page link) through the client's pipeline; the JSON of
    a success, else the SDK's own exception for the error answer."""
    try:  # the pipeline decodes JSON answers itself, before this sees them
        response = client.send_request(HttpRequest("GET", url))
        if response.status_code >= 400:
            map_error(status_code=response.status_code, response=response, error_map=_ERRORS)
            raise HttpResponseError(response=response)
        return response.json()
    except RecursionError:  # JSON nested thousands deep: no answer the API promises
        raise BadAnswer("an answer nested too deeply to read") from None


def get_secret(client: Any, name: str, version: str | None) -> Secret:
    path = f"/secrets/{urllib.parse.quote(name, safe='')}/{urllib.parse.quote(version or '', safe='')}"
    body = answer_json(client, path)
    if not isinstance(body, dict) or not isinstance(body.get("value"), str):
        raise BadAnswer("a secret without a value")
    register(body["value"])
    secret = _ours(client, secret_record(body, body["value"]))
    if secret.name.lower() != name.lower() or (version and (secret.version or "").lower() != version.lower()):
        raise BadAnswer("an answer about another secret than the one asked for")
    return secret


def list_pages(client: Any, what: str) -> Iterator[list[Secret]]:
    """The secret list, a page of records at a time (a page is read whole before it is handed on)."""
    links = PageLinks(what)
    url: str | None = f"/secrets?maxresults={PAGE_SIZE}"
    while url:
        body = answer_json(client, url)
        if not isinstance(body, dict) or not isinstance(body.get("value", []), list):
            raise BadAnswer("a list page without a list")
        yield [_ours(client, secret_record(item)) for item in body.get("value") or []]
        link = body.get("nextLink")
        if link is not None and not isinstance(link, str):
            raise BadAnswer("a page link that is not text")
        url = links.follow(_next_page(link)) if link else None


def _next_page(link: str) -> str:
    """The service's link to the list's next page, checked and with the client's API version: the
    SDK's pager re-pins it too, and a link may name no other path than the list's own. (The
    transport refuses any other origin.)"""
    if any(c == "\\" or c.isspace() or not c.isprintable() for c in link):
        raise BadAnswer("a page link with characters no URL has")
    parts = urllib.parse.urlsplit(link)
    if parts.scheme != "https" or parts.path.rstrip("/") != "/secrets" or parts.fragment:
        raise BadAnswer("a page link to somewhere else than the secret list")
    kept = [p for p in parts.query.split("&") if p and urllib.parse.unquote(p.split("=", 1)[0]) != "api-version"]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), ""))


def _ours(client: Any, secret: Secret) -> Secret:
    """`secret`, if its identifier is in the client's vault (Key Vault names no other vault's). A
    vault on loopback (the emulator, a test double) may be reached by another name than its
    identifiers carry (`localhost` for 127.0.0.1), so there only the rest is checked."""
    ours = origin_of(str(client.vault_url))
    if not is_loopback(urllib.parse.urlsplit(ours).hostname or "") and origin_of(secret.vault_url) != ours:
        raise BadAnswer("an item of another vault")
    return secret


def secret_record(item: Any, value: str | None = None) -> Secret:
    """A SecretBundle or SecretItem, as the wire has it, as kvctl's record."""
    if not isinstance(item, dict):
        raise BadAnswer("an item that is not an object")
    identifier = _text(item.get("id")) or ""
    vault_url, name, version = _identifier(identifier)
    attributes = item.get("attributes")
    attributes = {} if attributes is None else attributes
    if not isinstance(attributes, dict):
        raise BadAnswer("attributes that are not an object")
    tags = item.get("tags")
    if tags is not None and not (isinstance(tags, dict) and all(isinstance(v, str) for v in tags.values())):
        raise BadAnswer("tags that are not text")
    return Secret(
        id=identifier,
        vault_url=vault_url,
        name=name,
        version=version,
        attributes=SecretAttributes(
            enabled=_flag(attributes.get("enabled")),
            created=_moment(attributes.get("created"), name, "creation time"),
            updated=_moment(attributes.get("updated"), name, "update time"),
            expires=_moment(attributes.get("exp"), name, "expiry"),
            not_before=_moment(attributes.get("nbf"), name, "not-before time"),
            recovery_level=_text(attributes.get("recoveryLevel")),
            recoverable_days=_number(attributes.get("recoverableDays")),
        ),
        content_type=_text(item.get("contentType")),
        tags=dict(tags) if tags is not None else None,
        managed=_flag(item.get("managed")),
        kid=_text(item.get("kid")),
        value=value,
    )


def _identifier(identifier: str) -> tuple[str, str, str | None]:
    """(vault URL, name, version) of `https://VAULT/secrets/NAME[/VERSION]`, as the SDK parses it."""
    parts = urllib.parse.urlsplit(identifier)
    path = [segment for segment in parts.path.split("/") if segment]
    if parts.scheme != "https" or not parts.netloc or len(path) not in (2, 3) or path[0] != "secrets":
        raise BadAnswer("an identifier that is not a secret's")
    return f"{parts.scheme}://{parts.netloc}", path[1], path[2] if len(path) == 3 else None


def _moment(value: Any, name: str, field: str) -> dt.datetime | None:
    """A Unix time from the wire, refused as secret_records refuses one the SDK could not decode."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError, OSError, ValueError):
            value = dt.datetime.fromtimestamp(value, dt.UTC)
    return checked_moment(value, name, field)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadAnswer("a text field that is not text")


def _flag(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise BadAnswer("a flag that is not true or false")


def _number(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise BadAnswer("a number that is not a whole number")
