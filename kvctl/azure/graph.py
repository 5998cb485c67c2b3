"""`DirectoryBackend` on Microsoft Graph v1.0: the few reads that resolve an `--assignee` and name
the principals in `access list`.

Tokens go only where GuardedCredential allows: the cloud's Graph host or the emulator.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from azure.core import PipelineClient
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HeadersPolicy, RetryPolicy
from azure.core.rest import HttpRequest

from ..core.errors import KvctlError
from ..core.principals import DirectoryUnavailable, Principal
from ..core.redaction import redact
from .errors import translate

_KINDS = {
    "#microsoft.graph.serviceprincipal": "ServicePrincipal",
    "#microsoft.graph.user": "User",
    "#microsoft.graph.group": "Group",
}


def _quote(value: str) -> str:
    """An OData string literal (a quote is doubled), so a name cannot change the filter."""
    return "'" + value.replace("'", "''") + "'"


def _principal(item: dict[str, Any], kind: str | None = None) -> Principal:
    kind = kind or _KINDS.get(str(item.get("@odata.type", "")).lower(), "Unknown")
    return Principal(
        object_id=str(item.get("id", "")),
        kind=kind,
        display_name=item.get("displayName"),
        app_id=item.get("appId"),
        upn=item.get("userPrincipalName"),
    )


class AzureGraph:
    def __init__(self, credential: Any, endpoint: str, scope: str, options: dict[str, Any]) -> None:
        self._endpoint = endpoint.rstrip("/")
        policies = [
            *options.get("per_call_policies", []),  # the token cache's evict-and-retry-once on 401
            HeadersPolicy({"Accept": "application/json"}),
            RetryPolicy(
                retry_total=options.get("retry_total", 3),
                retry_backoff_factor=options.get("retry_backoff_factor", 0.5),
                retry_backoff_max=options.get("retry_backoff_max", 8),
            ),
            BearerTokenCredentialPolicy(credential, scope),
        ]
        self._client: Any = PipelineClient(self._endpoint, policies=policies, transport=options["transport"])

    def _send(self, method: str, path: str, body: Any = None, *, url: str | None = None) -> dict[str, Any] | None:
        """The JSON answer; None for 404. Permission and availability failures raise DirectoryUnavailable."""
        request = HttpRequest(method, url or f"{self._endpoint}/v1.0{path}", json=body)
        try:
            response = self._client.send_request(request)
        except KvctlError:
            raise
        except Exception as exc:
            raise translate(exc, what="Microsoft Graph", where=self._endpoint) from exc
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise DirectoryUnavailable(
                f"Microsoft Graph refused the directory lookup ({response.status_code} {_error_code(response)})"
            )
        try:
            response.raise_for_status()
            data = response.json()
        except HttpResponseError as exc:
            raise translate(exc, what="Microsoft Graph", where=self._endpoint) from exc
        except ValueError:
            raise DirectoryUnavailable("Microsoft Graph answered with something that is not JSON") from None
        return data if isinstance(data, dict) else None

    def _values(self, path: str) -> list[dict[str, Any]]:
        data = self._send("GET", path)
        return [v for v in (data or {}).get("value", []) if isinstance(v, dict)]

    # -- DirectoryBackend ----------------------------------------------------------------------

    def get_by_ids(self, object_ids: list[str]) -> list[Principal]:
        body = {"ids": object_ids, "types": ["user", "group", "servicePrincipal"]}
        data = self._send("POST", "/directoryObjects/getByIds", body)
        return [_principal(v) for v in (data or {}).get("value", []) if isinstance(v, dict)]

    def service_principals_with_app_id(self, app_id: str) -> list[Principal]:
        query = urllib.parse.quote(f"appId eq {_quote(app_id)}")
        return [_principal(v, "ServicePrincipal") for v in self._values(f"/servicePrincipals?$filter={query}")]

    def user(self, upn: str) -> Principal | None:
        # A filter, not /users/{upn}: a UPN is then only ever a quoted literal, never part of the path.
        query = urllib.parse.quote(f"userPrincipalName eq {_quote(upn)}")
        found = self._values(f"/users?$filter={query}")
        return _principal(found[0], "User") if found else None

    def with_display_name(self, name: str) -> list[Principal]:
        query = urllib.parse.quote(f"displayName eq {_quote(name)}")
        found = [_principal(v, "ServicePrincipal") for v in self._values(f"/servicePrincipals?$filter={query}")]
        found += [_principal(v, "User") for v in self._values(f"/users?$filter={query}")]
        found += [_principal(v, "Group") for v in self._values(f"/groups?$filter={query}")]
        if not found:  # an app's identifier URI, or a managed identity's resource id
            names = urllib.parse.quote(f"servicePrincipalNames/any(c:c eq {_quote(name)})")
            found = [_principal(v, "ServicePrincipal") for v in self._values(f"/servicePrincipals?$filter={names}")]
        return found

    def transitive_members(self, group_id: str) -> list[Principal]:
        """Every member of the group, through nested groups too, following Graph's pages."""
        found: list[Principal] = []
        data = self._send("GET", f"/groups/{urllib.parse.quote(group_id, safe='')}/transitiveMembers?$top=999")
        pages = 0
        while data is not None:
            found += [_principal(v) for v in data.get("value", []) if isinstance(v, dict)]
            next_link = data.get("@odata.nextLink")
            pages += 1
            if not isinstance(next_link, str) or pages >= 1000:
                break
            # The next page is fetched only from the same Graph endpoint: the token goes nowhere else.
            if not next_link.lower().startswith(self._endpoint.lower() + "/"):
                raise DirectoryUnavailable("Microsoft Graph sent a next page link to another host")
            data = self._send("GET", "", url=next_link)
        return found

    def close(self) -> None:
        self._client.close()


def _error_code(response: Any) -> str:
    try:
        return redact(str(response.json().get("error", {}).get("code", "")))
    except (ValueError, AttributeError):
        return ""
