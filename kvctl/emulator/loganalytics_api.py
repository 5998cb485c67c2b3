"""The Log Analytics query API, served under the ARM port at `/loganalytics/` (like Graph's `/v1.0/`).

    POST {logAnalyticsEndpoint}/v1/workspaces/{customerId}/query   {"query": KQL, "timespan": ISO8601}
    GET  {logAnalyticsEndpoint}/v1/workspaces/{customerId}/query?query=KQL&timespan=ISO8601

`logAnalyticsEndpoint` (emulator.json) is `https://127.0.0.1:ARMPORT/loganalytics`: what
`LogsQueryClient(credential, endpoint=...)` takes; the SDK adds `/v1` (azure-monitor-query 2.x
drops any path from an endpoint that already ends in `/v1`, so the endpoint does not).

As the service does: a bearer token for `https://api.loganalytics.io` (or for the endpoint's own
URL, the SDK's default audience for a custom endpoint) is required (401 `AuthorizationRequiredError`
/ `InvalidTokenError`); the caller needs `Microsoft.OperationalInsights/workspaces/query/read` on
the workspace (Reader, Log Analytics Reader, Contributor, Owner; else 403 `InsufficientAccessError`);
an unknown workspace is 404 `WorkspaceNotFoundError`. The `AzureDiagnostics` table holds the
workspace's rows, cut to `timespan` before the query runs. Answers: `{"tables": [{"name":
"PrimaryResult", "columns": [{"name", "type"}], "rows": [[...]]}]}`, datetimes as ISO text with Z,
dynamic values as JSON text; a query error is 400 `BadArgumentError` with an `innererror`
(`SyntaxError`/`SemanticError`, line, pos, token); more rows than the row limit
(`--log-query-row-limit`, the service's 500,000 by default) answer the first rows with a
`PartialError` beside the table.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from typing import Any

from . import kql
from .audit_log import COLUMNS
from .audit_store import WorkspaceRecord
from .authz import authorize_arm_action
from .http import ApiError, Request, Response
from .kql_values import json_cell
from .tokens import TokenError
from .world import World

PREFIX = "/loganalytics/"
QUERY_ACTION = "Microsoft.OperationalInsights/workspaces/query/read"
TABLE = "AzureDiagnostics"
PUBLIC_AUDIENCES = frozenset(
    {
        "https://api.loganalytics.io",
        "https://api.loganalytics.io/",
        "https://api.loganalytics.azure.com",
        "https://api.loganalytics.azure.com/",
    }
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?\Z"
)


class LaError(Exception):
    def __init__(self, status: int, code: str, message: str, inner: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.inner = status, code, message, inner
        self.headers: dict[str, str] = {}

    def response(self) -> Response:
        error: dict[str, Any] = {"message": self.message, "code": self.code, "correlationId": str(uuid.uuid4())}
        if self.inner is not None:
            error["innererror"] = self.inner
        return Response(self.status, {"error": error}, self.headers)


def bad_argument(code: str, message: str, **where: Any) -> LaError:
    return LaError(
        400, "BadArgumentError", "The request had some invalid properties", {"code": code, "message": message, **where}
    )


def _duration(text: str) -> dt.timedelta | None:
    match = _DURATION.match(text.strip().upper())
    if match is None:
        return None
    units = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
    return dt.timedelta(seconds=sum(float(match.group(k) or 0) * v for k, v in units.items()))


def _instant(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_timespan(text: str | None, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """ISO 8601 `DURATION` (ending now), `START/END`, `START/DURATION` or `DURATION/END`."""
    if text is None or not str(text).strip():
        return None, None
    try:
        start, end = _interval(str(text), now)
    except (OverflowError, ValueError):
        # a duration no timedelta holds (P99999999D), or one that moves past year 1 or 9999
        start = end = None
    if start is None and end is None:
        raise bad_argument("InvalidTimespanFormat", f"The timespan '{text}' is not a valid ISO 8601 time interval.")
    return start, end


def _interval(text: str, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(start, end) of a timespan, or (None, None) when it has none of the four forms."""
    parts = text.split("/")
    if len(parts) == 1:
        span = _duration(parts[0])
        if span is not None:
            return now - span, None
    elif len(parts) == 2:
        first_time, second_time = _instant(parts[0]), _instant(parts[1])
        first_span, second_span = _duration(parts[0]), _duration(parts[1])
        if first_time and second_time:
            return first_time, second_time
        if first_time and second_span is not None:
            return first_time, first_time + second_span
        if first_span is not None and second_time:
            return second_time - first_span, second_time
    return None, None


def _cell(value: Any, kind: str) -> Any:
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"
    if isinstance(value, dt.timedelta):
        return json_cell(value, "timespan")  # Kusto's text: [-][d.]hh:mm:ss[.fffffff]
    if isinstance(value, float) and not math.isfinite(value):
        return json_cell(value, kind)  # Kusto's text for NaN and infinities: JSON has no such numbers
    if kind == "dynamic" and value is not None and not isinstance(value, str):
        return json.dumps(value)
    return value


def _row_in(row: dict[str, Any], workspace: WorkspaceRecord) -> dict[str, Any]:
    """A stored row as the query sees it: the workspace's TenantId, TimeGenerated as a datetime."""
    out = dict(row)
    out["TenantId"] = workspace.customer_id
    # Stored as the service writes it (7 fractional digits); Python keeps microseconds.
    out["TimeGenerated"] = dt.datetime.fromisoformat(str(row["TimeGenerated"])[:26]).replace(tzinfo=dt.UTC)
    return out


class LogAnalyticsService:
    def __init__(self, world: World, base_url: str) -> None:
        self.world = world
        self.endpoint = base_url.rstrip("/") + PREFIX.rstrip("/")
        self.audiences = PUBLIC_AUDIENCES | {self.endpoint, self.endpoint + "/"}

    def handle(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except LaError as err:
            return err.response()

    def _handle(self, request: Request) -> Response:
        parts = [p for p in request.path[len(PREFIX) :].split("/") if p]
        lowered = [p.lower() for p in parts]
        if len(parts) != 4 or lowered[0] != "v1" or lowered[1] != "workspaces" or lowered[3] != "query":
            raise LaError(404, "PathNotFoundError", f"The requested path does not exist: {request.path}")
        if request.method not in ("GET", "POST"):
            raise LaError(405, "MethodNotAllowed", f"The requested method '{request.method}' is not allowed.")
        self.world.knobs.count("logQueries")
        claims = self._authenticate(request)
        workspace = self._workspace(parts[2], claims)
        query, timespan, extra = self._arguments(request)
        workspaces = [workspace] + [self._workspace(w, claims, additional=True) for w in extra]
        now = dt.datetime.now(dt.UTC)
        start, end = parse_timespan(timespan, now)
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for ws in workspaces:
            if ws.customer_id.lower() in seen:
                continue
            seen.add(ws.customer_id.lower())
            found = self.world.store.audit_events(
                ws.customer_id, start.timestamp() if start else None, end.timestamp() if end else None
            )
            rows.extend(_row_in(r, ws) for r in found)
        columns, result = run_query(query, rows, now, absent=self._never_filled(rows, workspaces))
        return Response(200, self._answer(columns, result))

    def _never_filled(self, rows: list[dict[str, Any]], workspaces: list[Any]) -> set[str]:
        """The caller-dependent columns no row of these workspaces has filled: as in Log Analytics,
        AzureDiagnostics has such a column only once some row filled it (a workspace that only
        managed identities wrote to has no identity_claim_upn_s), so a query naming it fails."""
        missing = {c for c in SPARSE_COLUMNS if not any(r.get(c) not in (None, "") for r in rows)}
        if missing:  # outside the query's time range, perhaps: the workspace's whole log decides
            for ws in workspaces:
                for r in self.world.store.audit_events(ws.customer_id, None, None):
                    missing -= {c for c in missing if r.get(c) not in (None, "")}
                    if not missing:
                        return missing
        return missing

    def _authenticate(self, request: Request) -> dict[str, Any]:
        token = request.bearer_token()
        tenant = self.world.site.tenant_id
        challenge = {
            "WWW-Authenticate": f'Bearer authorization_uri="https://login.microsoftonline.com/{tenant}", '
            'error="invalid_token", error_description="Valid authentication was not provided", '
            'realm="https://api.loganalytics.io"'
        }
        if token is None:
            err = LaError(401, "AuthorizationRequiredError", "Valid authentication was not provided")
            err.headers = challenge
            raise err
        try:
            return self.world.tokens.verify(token, frozenset(self.audiences))
        except TokenError:
            err = LaError(401, "InvalidTokenError", "The provided authentication is not valid for this resource")
            err.headers = challenge
            raise err from None

    def _workspace(self, ident: str, claims: dict[str, Any], *, additional: bool = False) -> WorkspaceRecord:
        found: WorkspaceRecord | None = None
        if _GUID.match(ident):
            found = self.world.store.workspace_by_customer_id(ident)
        elif additional:  # additional workspaces may be named by resource id too
            found = self.world.audit.workspace_of(ident)
        if found is None:
            if additional and not _GUID.match(ident) and "/" not in ident:
                raise bad_argument("InvalidWorkspace", f"The workspace '{ident}' is not a workspace id.")
            raise LaError(404, "WorkspaceNotFoundError", f"The workspace could not be found: {ident}")
        resource_id = (
            f"/subscriptions/{self.world.site.subscription_id}/resourceGroups/{found.resource_group}"
            f"/providers/Microsoft.OperationalInsights/workspaces/{found.name}"
        )
        try:
            authorize_arm_action(self.world, claims, QUERY_ACTION, resource_id)
        except ApiError:
            raise LaError(
                403,
                "InsufficientAccessError",
                "The provided credentials have insufficient access to perform the requested operation",
            ) from None
        return found

    @staticmethod
    def _arguments(request: Request) -> tuple[str, str | None, list[str]]:
        if request.method == "GET":
            params = request.query
            extra = [w for w in (params.get("workspaces") or "").split(",") if w]
            query, timespan = params.get("query"), params.get("timespan")
        else:
            try:
                body = json.loads(request.body or b"null")
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise bad_argument("InvalidJson", "The request body is not valid JSON.") from None
            if not isinstance(body, dict):
                raise bad_argument("InvalidBody", "The request body must be a JSON object.")
            query, timespan = body.get("query"), body.get("timespan")
            extra = body.get("workspaces") or []
            if not isinstance(extra, list) or not all(isinstance(w, str) for w in extra):
                raise bad_argument("InvalidWorkspaces", "'workspaces' must be a list of workspace ids.")
        if not isinstance(query, str) or not query.strip():
            raise bad_argument("EmptyQuery", "The query is missing or empty.")
        if timespan is not None and not isinstance(timespan, str):
            raise bad_argument("InvalidTimespanFormat", "'timespan' must be an ISO 8601 time interval.")
        return query, timespan, list(extra)

    def _answer(self, columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> dict[str, Any]:
        limit = self.world.knobs.settings.log_query_row_limit
        kept = rows[:limit]
        table = {
            "name": "PrimaryResult",
            "columns": [{"name": name, "type": kind} for name, kind in columns],
            "rows": [[_cell(row.get(name), kind) for name, kind in columns] for row in kept],
        }
        answer: dict[str, Any] = {"tables": [table]}
        if len(rows) > limit:
            answer["error"] = {
                "message": "There were some errors when processing your query.",
                "code": "PartialError",
                "correlationId": str(uuid.uuid4()),
                "details": [
                    {
                        "code": "EngineError",
                        "message": "Something went wrong processing your query on the server.",
                        "innererror": {
                            "code": "E_QUERY_RESULT_SET_TOO_LARGE",
                            "message": f"Query result set has exceeded the internal record count limit {limit} "
                            "records. The results were truncated.",
                            "severity": 2,
                            "severityName": "Error",
                        },
                    }
                ],
            }
        return answer


SPARSE_COLUMNS = frozenset(name for name, _kind in COLUMNS if name.startswith("identity_claim_"))


def run_query(
    query: str, rows: list[dict[str, Any]], now: dt.datetime, absent: set[str] | frozenset[str] = frozenset()
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Run `query` (kql.py) over the AzureDiagnostics rows: (columns as (name, type), result rows).
    `absent`: columns the table does not have (yet)."""
    table = kql.Table(TABLE, [kql.Column(name, kind) for name, kind in COLUMNS if name not in absent], rows)
    try:
        result = kql.execute(query, {TABLE: table}, now=now)
    except kql.KqlError as exc:
        kind = exc.kind if exc.kind in ("SyntaxError", "SemanticError") else "SemanticError"
        raise bad_argument(kind, exc.message, **_where(query, exc.position, exc.token)) from None
    return [(c.name, c.type) for c in result.columns], list(result.rows)


def _where(query: str, position: Any, token: Any) -> dict[str, Any]:
    """The service's `line` and `pos` (1-based line, 0-based column) of an error, with its token."""
    out: dict[str, Any] = {}
    if isinstance(position, int) and 0 <= position <= len(query):
        before = query[:position]
        out["line"] = before.count("\n") + 1
        out["pos"] = position - (before.rfind("\n") + 1)
    if isinstance(token, str):
        out["token"] = token
    return out
