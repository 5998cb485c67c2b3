"""Turn Azure SDK exceptions into kvctl's typed errors, with messages a person can act on."""

from __future__ import annotations

import json
import re
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from ..core.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    KvctlError,
    NotFoundError,
    UnavailableError,
    UsageError,
    unexpected,
)
from ..core.redaction import redact

_CALLER = re.compile(r"Caller:\s*([^\r\n]+)")
_ACTION = re.compile(r"Action:\s*'([^']+)'")
_RESOURCE = re.compile(r"Resource:\s*'([^']+)'")
_POLICY = re.compile(r"application '([^']+)' does not have secrets (\w+) permission on key vault '([^;']+)")
_ARM_DENIED = re.compile(
    r"object id '([^']+)' does not have authorization to perform action '([^']+)' over scope '([^']+)'"
)
_OID = re.compile(r"oid=([0-9a-fA-F-]{36})")


def _code(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    return str(getattr(error, "code", None) or "")


def _message(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    text = getattr(error, "message", None) or exc.message or str(exc)
    return redact(str(text))


def _inner_code(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    inner = getattr(error, "innererror", None) or {}
    if isinstance(inner, dict):
        return str(inner.get("code") or "")
    return ""


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else text


def summarize_credential_failure(text: str) -> str:
    """One line out of azure-identity's multi-line account of every credential it tried."""
    tried = re.findall(r"^\s*(\w+Credential):\s*(.+)$", text, flags=re.MULTILINE)
    if not tried:
        return _first_line(redact(text))[:300]
    parts = []
    for name, reason in tried:
        parts.append(f"{name} ({_short(redact(reason).split('. ')[0].strip().rstrip('.'))})")
    return "no credential could get a token; tried " + "; ".join(parts)


def _short(reason: str, limit: int = 140) -> str:
    """A reason cut, if at all, at a word and never inside an open parenthesis."""
    if len(reason) <= limit:
        return reason
    cut = reason[:limit].rsplit(" ", 1)[0]
    while cut.count("(") > cut.count(")"):
        cut = cut[: cut.rfind("(")].rstrip()
    return cut.rstrip(",;:") + " …"


def forbidden(message: str, vault_hint: str | None = None) -> ForbiddenError:
    """Explain a 403: who you are, what was refused, and what would allow it."""
    caller = _CALLER.search(message)
    action = _ACTION.search(message)
    resource = _RESOURCE.search(message)
    policy = _POLICY.search(message)
    arm = _ARM_DENIED.search(message)
    where = vault_hint or "the vault"
    if action:
        from ..core.roles import role_for_action  # the built-in roles' table: only for a refusal

        role = role_for_action(action.group(1))
        oid_match = _OID.search(caller.group(1)) if caller else None
        oid = oid_match.group(1) if oid_match else None
        who = f"object id {oid}" if oid else (caller.group(1) if caller else "the caller")
        scope = resource.group(1) if resource else where
        role_text = f"'{role.name}'" if role else "a role that allows it"
        return ForbiddenError(
            f"forbidden: {who} may not perform {action.group(1)} on {scope}",
            hint=f"ask for {role_text} on {where}"
            + (f": kvctl access grant --assignee {oid} --role '{role.name}'" if oid and role else ""),
            caller=caller.group(1) if caller else None,
            action=action.group(1),
            resource=scope,
        )
    if policy:
        oid_match = _OID.search(policy.group(1))
        oid = oid_match.group(1) if oid_match else policy.group(1)
        permission, vault = policy.group(2), policy.group(3)
        return ForbiddenError(
            f"forbidden: object id {oid} has no '{permission}' secret permission "
            f"in the access policies of vault {vault}",
            hint=f"vault {vault} uses access policies, not RBAC: an owner must add '{permission}' for {oid} "
            f"(az keyvault set-policy --name {vault} --object-id {oid} --secret-permissions {permission})",
            caller=policy.group(1),
            action=f"secrets/{permission}",
        )
    if arm:
        oid, arm_action, scope = arm.groups()
        from ..core.roles import role_for_action

        role = role_for_action(arm_action)
        role_text = f"'{role.name}'" if role else "a role that allows it"
        return ForbiddenError(
            f"forbidden: object id {oid} may not perform {arm_action} on {scope}",
            hint=f"ask for {role_text} on {scope}",
            caller=oid,
            action=arm_action,
            resource=scope,
        )
    return ForbiddenError(f"forbidden: {_first_line(message)}", hint="check your role assignments on the vault")


def translate(exc: BaseException, *, what: str, where: str) -> KvctlError:
    """Map an SDK exception raised while doing `what` (e.g. "secret 'x'") at `where` (a vault)."""
    if isinstance(exc, KvctlError):
        return exc
    if isinstance(exc, ValueError) and "challenge" in str(exc).lower():
        return AuthenticationError(
            f"{where} asked for a token for another resource; kvctl sent none",
            hint="the vault URL may be wrong, or something between you and the vault is impersonating it",
        )
    if isinstance(exc, (DecodeError, ValueError, TypeError, AttributeError, KeyError)):
        if not is_answer_error(exc):
            raise exc  # kvctl's own bug: exit 1 "unexpected error", never "retry later"
        return invalid_answer(exc, where)
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) != 401:
        import shutil

        return AuthenticationError(
            summarize_credential_failure(str(exc.message or exc)),
            hint="sign in with `az login`, or choose a credential with --auth (see `kvctl --help`)"
            if shutil.which("az")
            else "install the Azure CLI and run `az login`, or choose a credential with --auth (see `kvctl --help`)",
        )
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = exc.status_code
        code = _code(exc)
        message = _message(exc)
        if status == 401:
            return AuthenticationError(
                f"{where} rejected the token: {_first_line(message)}",
                hint="the credential works but its token is not valid for this vault (tenant, audience or expiry)",
            )
        if status == 403:
            if code == "Forbidden" and "disabled secret" in message:
                return ForbiddenError(
                    f"{what} is disabled, so its value cannot be read",
                    hint="re-enable it (kvctl update NAME --version VERSION --enable), or store a new version",
                    action="Microsoft.KeyVault/vaults/secrets/getSecret/action",
                )
            if "purge protection" in message:
                return ForbiddenError(
                    f"{what} cannot be purged: {where} has purge protection",
                    hint="it will be purged automatically when its retention period ends",
                )
            return forbidden(message, where)
        if status == 404 or isinstance(exc, ResourceNotFoundError):
            return NotFoundError(f"{what} not found in {where}")
        if status == 409 or isinstance(exc, ResourceExistsError):
            return ConflictError(f"{what}: {_first_line(message)}")
        if status == 429:
            return UnavailableError(
                f"{where} is throttling requests ({code or 'Throttled'}) and retries ran out",
                hint="slow down, or lower KVCTL_CONCURRENCY",
            )
        if status >= 500:
            return UnavailableError(
                f"{where} is unavailable ({status} {code}) and retries ran out", hint="try again later"
            )
        if status == 400:
            return UsageError(f"{where} refused the request for {what}: {_first_line(message)}")
        return KvctlError(f"{where} answered {status} {code}: {_first_line(message)}")
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return UnavailableError(
            f"could not reach {where}: {_network_reason(exc)}",
            hint="check the vault URL, your network and proxy; retries ran out",
        )
    return unexpected(exc)


# Where decoding a service answer happens: the SDK's (de)serializers and models, json, codecs.
_DECODING_FILES = ("serializ", "model_base", "_models.py", "/json/", "codecs.py", "/encodings/", "http/client.py")


def is_answer_error(exc: BaseException) -> bool:
    """Did this error come from decoding what the service sent (exit 7), or is it a bug (exit 1)?
    Decoding errors have their own types, or are raised inside the SDK's deserialization code."""
    if isinstance(exc, (DecodeError, DeserializationError, json.JSONDecodeError, UnicodeDecodeError)):
        return True
    tb = exc.__traceback__
    innermost = None
    while tb is not None:
        innermost = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    if innermost is None:
        return False
    path = innermost.replace("\\", "/")
    return "/kvctl/" not in path and any(part in path for part in _DECODING_FILES)


def invalid_answer(exc: BaseException, where: str) -> UnavailableError:
    """The service answered something that is not what the API promises (truncated, not JSON, wrong shape)."""
    kind = "an incomplete answer" if "IncompleteRead" in type(exc).__name__ else "an answer kvctl could not read"
    return UnavailableError(
        f"{where} sent {kind} ({type(exc).__name__})",
        hint="a proxy or the service misbehaved; retry, and rerun with --debug to see the details",
    )


def _network_reason(exc: Any) -> str:
    text = redact(str(getattr(exc, "message", None) or exc))
    for marker in (
        "Connection refused",
        "Name or service not known",
        "timed out",
        "CERTIFICATE_VERIFY_FAILED",
        "Connection reset",
        "Connection aborted",
        "RemoteDisconnected",
    ):
        if marker.lower() in text.lower():
            if marker == "CERTIFICATE_VERIFY_FAILED":
                return "the server's TLS certificate is not trusted (for the emulator, pass --ca-bundle)"
            return marker.lower()
    return _first_line(text)[:200]
