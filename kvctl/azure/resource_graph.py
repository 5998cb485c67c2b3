"""Azure Resource Graph (azure-mgmt-resourcegraph): one query over many subscriptions, paged with
skip tokens. This is the core's `ResourceGraphBackend`."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from azure.core.exceptions import HttpResponseError

from ..core.errors import KvctlError, NotFoundError, UsageError
from ..core.fleet import FleetScope
from ..core.redaction import redact
from .errors import translate
from .paging import PageLinks

# The largest page ARG serves: a fleet of up to this many vaults takes one request.
PAGE_SIZE = 1000


def _details(exc: HttpResponseError) -> str:
    """ARG's specific cause (its second detail), else the error's own message."""
    error = getattr(exc, "error", None)
    details = getattr(error, "details", None) or []
    for detail in reversed(details):
        message = getattr(detail, "message", None)
        if message:
            return redact(str(message))
    return redact(str(getattr(error, "message", None) or exc.message or exc))


class AzureResourceGraph:
    def __init__(self, credential: Any, endpoint: str, scope: str, options: dict[str, Any]) -> None:
        self._credential = credential
        self._endpoint = endpoint.rstrip("/")
        self._scope = scope
        self._options = options
        self._client: Any = None

    def _graph(self) -> Any:
        if self._client is None:
            from azure.mgmt.resourcegraph import ResourceGraphClient

            options = {"base_url": self._endpoint, "credential_scopes": [self._scope], **self._options}
            if options.get("per_call_policies"):
                options["per_call_policies"] = [copy.copy(p) for p in options["per_call_policies"]]
            self._client = ResourceGraphClient(self._credential, **options)
        return self._client

    def query(self, text: str, scope: FleetScope) -> Iterator[dict[str, Any]]:
        """Every row of `text` over `scope`, page after page (objectArray rows)."""
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        token: str | None = None
        tokens = PageLinks("the Resource Graph answer")
        while True:
            request = QueryRequest(
                query=text,
                subscriptions=list(scope.subscriptions) or None,
                management_groups=list(scope.management_groups) or None,
                options=QueryRequestOptions(top=PAGE_SIZE, skip_token=token, result_format="objectArray"),
            )
            response = self._call(scope, self._graph().resources, request)
            data = response.data if isinstance(response.data, list) else []
            yield from (row for row in data if isinstance(row, dict))
            token = response.skip_token
            if not token:
                return
            tokens.follow(token)

    def _call(self, scope: FleetScope, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except KvctlError:
            raise
        except HttpResponseError as exc:
            code = str(getattr(getattr(exc, "error", None), "code", None) or "")
            if scope.management_groups and exc.status_code in (403, 404):
                groups = ", ".join(scope.management_groups)
                raise NotFoundError(
                    f"management group {groups} not found, or you may not read it",
                    hint="give the management group's id (the tenant root group's id is the tenant id): "
                    "az account management-group list",
                ) from exc
            if exc.status_code == 400 and code == "BadRequest":
                raise UsageError(f"Resource Graph refused the query: {_details(exc)}") from exc
            raise translate(exc, what="the Resource Graph query", where=self._endpoint) from exc
        except Exception as exc:
            raise translate(exc, what="the Resource Graph query", where=self._endpoint) from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
