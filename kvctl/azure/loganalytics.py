"""`LogsBackend` on azure-monitor-query's LogsQueryClient: one query over one time range of one
workspace, with the service's partial answers reported as such, and its errors as kvctl's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import HttpResponseError

from ..core.audit import Workspace, workspace_forbidden
from ..core.audit_run import LogsAnswer
from ..core.errors import KvctlError, NotFoundError
from ..core.redaction import redact
from .errors import translate
from .pipeline import READ_ONLY_POST


def _error_text(exc: HttpResponseError) -> tuple[str, str]:
    error = getattr(exc, "error", None) or getattr(exc, "model", None)
    code = str(getattr(error, "code", None) or "")
    message = str(getattr(error, "message", None) or exc.message or exc)
    return code, redact(message.strip().splitlines()[0] if message.strip() else message)


def _rows(tables: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for table in tables or []:
        columns = list(table.columns)
        rows += [dict(zip(columns, list(row), strict=False)) for row in table.rows]
    return rows


def _partial_reason(error: Any) -> str | None:
    """The most specific reason the service gave: the first inner error of its details, if any."""
    for detail in getattr(error, "details", None) or []:
        # Plain dicts, or the SDK's own mapping models, depending on how the answer was decoded.
        inner = detail.get("innererror") if isinstance(detail, Mapping) else None
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
    return getattr(error, "message", None) or getattr(error, "code", None)


class AzureLogs:
    def __init__(self, credential: Any, endpoint: str, audience: str, options: dict[str, Any]) -> None:
        from azure.monitor.query import LogsQueryClient

        # The client drops any path from an endpoint that ends in /v1 (it expects the bare host), so
        # the emulator's /loganalytics/v1 is given as its base plus the API version.
        base = endpoint.rstrip("/").removesuffix("/v1")
        self._where = endpoint
        self._client = LogsQueryClient(
            credential,
            endpoint=base,
            api_version="v1",
            audience=audience,
            **{k: v for k, v in options.items() if k != "per_call_policies"},
            per_call_policies=list(options.get("per_call_policies", [])),
        )

    def query(self, workspace: Workspace, query: str, start: dt.datetime, end: dt.datetime) -> LogsAnswer:
        from azure.monitor.query import LogsQueryPartialResult

        try:
            # The query only reads: its POST may be resent after a 429 or a reset like a GET.
            result = self._client.query_workspace(
                workspace.customer_id, query, timespan=(start, end), retry_on_methods=READ_ONLY_POST
            )
        except KvctlError:
            raise
        except HttpResponseError as exc:
            raise self._translate(exc, workspace) from exc
        except Exception as exc:
            raise translate(exc, what=f"the audit log query of workspace {workspace.name}", where=self._where) from exc
        if isinstance(result, LogsQueryPartialResult):
            problem = _partial_reason(getattr(result, "partial_error", None))
            return LogsAnswer(
                _rows(result.partial_data), complete=False, problem=redact(str(problem)) if problem else None
            )
        return LogsAnswer(_rows(result.tables))

    def _translate(self, exc: HttpResponseError, workspace: Workspace) -> KvctlError:
        code, message = _error_text(exc)
        if exc.status_code == 403:
            return workspace_forbidden(workspace.resource_id, verb="query")
        if exc.status_code == 404:
            return NotFoundError(
                f"Log Analytics has no workspace {workspace.customer_id} ({workspace.name}): {message}",
                hint="the diagnostic setting may name a workspace that was deleted or moved",
            )
        if exc.status_code == 400:
            return KvctlError(
                f"Log Analytics refused kvctl's query of workspace {workspace.name} ({code}): {message}",
                hint="this is kvctl's bug or an unsupported service: rerun with --debug and report it",
            )
        return translate(exc, what=f"the audit log query of workspace {workspace.name}", where=self._where)

    def close(self) -> None:
        self._client.close()
