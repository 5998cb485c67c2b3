"""`--auth default` (and `auto` for Azure hosts) without probes that cannot succeed here.

DefaultAzureCredential tries every credential it knows, in a fixed order, each paying its own
timeout: users report 8–15 s before the one that works answers. kvctl tries only the credentials
that have a signal on this machine, the one that answered last time (per cloud and tenant) first,
and with -v says in one line why each one that was skipped or failed did not answer.

Signals (any one makes the credential a candidate):
- environment: AZURE_CLIENT_ID and AZURE_TENANT_ID, with AZURE_CLIENT_SECRET,
  AZURE_CLIENT_CERTIFICATE_PATH or AZURE_USERNAME
- workload identity: AZURE_FEDERATED_TOKEN_FILE
- managed identity: IDENTITY_ENDPOINT, MSI_ENDPOINT, KVCTL_IMDS=1, or an Azure VM (its DMI chassis
  asset tag is Azure's 7783-7084-3265-9085). Without one IMDS is not probed; `--auth managed-identity`
  or KVCTL_IMDS=1 forces it.
- azure-cli: `az` on PATH
The remembered winner (a credential kind, no secret) is kept in `${XDG_CACHE_HOME:-~/.cache}/kvctl/chain.json`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

_AZURE_ASSET_TAG = "7783-7084-3265-9085"
_CLASS_NAMES = {
    "environment": "EnvironmentCredential",
    "workload-identity": "WorkloadIdentityCredential",
    "managed-identity": "ManagedIdentityCredential",
    "azure-cli": "AzureCliCredential",
}
_log = logging.getLogger("kvctl.auth")


def on_azure_vm(dmi: Path = Path("/sys/class/dmi/id/chassis_asset_tag")) -> bool:
    try:
        return dmi.read_text().strip() == _AZURE_ASSET_TAG
    except OSError:
        return False


def candidates(
    environ: Mapping[str, str], which: Callable[[str], str | None] = shutil.which
) -> tuple[list[str], dict[str, str]]:
    """The credential kinds worth trying here, in DefaultAzureCredential's order, and why the others are not."""
    chosen: list[str] = []
    skipped: dict[str, str] = {}
    has_app = environ.get("AZURE_CLIENT_ID") and environ.get("AZURE_TENANT_ID")
    if has_app and any(
        environ.get(n) for n in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME")
    ):
        chosen.append("environment")
    else:
        skipped["environment"] = (
            "AZURE_CLIENT_ID, AZURE_TENANT_ID and a secret, certificate or username are not all set"
        )
    if environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        chosen.append("workload-identity")
    else:
        skipped["workload-identity"] = "AZURE_FEDERATED_TOKEN_FILE is not set"
    forced = environ.get("KVCTL_IMDS", "").strip().lower() in ("1", "true", "yes", "on")
    if environ.get("IDENTITY_ENDPOINT") or environ.get("MSI_ENDPOINT") or forced or on_azure_vm():
        chosen.append("managed-identity")
    else:
        skipped["managed-identity"] = (
            "no IDENTITY_ENDPOINT or MSI_ENDPOINT and not an Azure VM, so IMDS is not probed "
            "(KVCTL_IMDS=1 or --auth managed-identity forces it)"
        )
    if which("az"):
        chosen.append("azure-cli")
    else:
        skipped["azure-cli"] = "`az` is not on PATH"
    return chosen, skipped


class _Memory:
    """Which kind answered last, per cloud and tenant (no token, no secret)."""

    def __init__(self, directory: Path | None, key: str) -> None:
        self.path = directory / "chain.json" if directory else None
        self.key = key

    def _all(self) -> dict[str, str]:
        if self.path is None:
            return {}
        try:  # never through a symlink, never blocking on a planted FIFO: only a regular file counts
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, encoding="utf-8") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    return {}
                data = json.loads(handle.read(65536))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def last(self) -> str | None:
        return self._all().get(self.key)

    def remember(self, kind: str) -> None:
        if self.path is None or self.last() == kind:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            data = {**self._all(), self.key: kind}
            fd, temp = tempfile.mkstemp(prefix=".chain-", dir=self.path.parent)
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle)
            os.replace(temp, self.path)


class FastChain:
    """Tries the candidate credentials in turn; the first token wins and is remembered."""

    def __init__(self, builders: dict[str, Callable[[], Any]], skipped: dict[str, str], memory: _Memory) -> None:
        last = memory.last()
        order = list(builders)
        if last in builders:
            order.remove(last)
            order.insert(0, last)
        self._order = order
        self._builders = builders
        self._skipped = skipped
        self._memory = memory
        self._built: dict[str, Any] = {}
        self._winner: str | None = None
        self.name = "DefaultAzureCredential"

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        if self._winner is not None:
            return self._built[self._winner].get_token(*scopes, **kwargs)
        for kind, why in self._skipped.items():
            _log.info("auth: skipped %s: %s", kind, why)
        failures: list[str] = []
        for kind in self._order:
            try:
                credential = self._built.get(kind) or self._builders[kind]()
                self._built[kind] = credential
                token = credential.get_token(*scopes, **kwargs)
            except (ClientAuthenticationError, ValueError) as exc:
                line = _one_line(exc)
                _log.info("auth: %s did not answer: %s", kind, line)
                failures.append(f"\t{_CLASS_NAMES[kind]}: {line}")
                continue
            _log.info("auth: %s answered", kind)
            self._winner = kind
            self.name = type(credential).__name__
            self._memory.remember(kind)
            return token
        failures += [f"\t{_CLASS_NAMES[kind]}: skipped, {why}" for kind, why in self._skipped.items()]
        detail = "\n".join(failures)
        raise ClientAuthenticationError(
            message="DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
            f"Attempted credentials:\n{detail}"
        )

    def close(self) -> None:
        for credential in self._built.values():
            close = getattr(credential, "close", None)
            if close:
                close()


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return (text.splitlines() or ["no details"])[0][:200]


def fast_default(
    identity: Any, settings: Any, verify: dict[str, Any], environ: Mapping[str, str] = os.environ
) -> FastChain:
    """The `default` chain: only credentials with a signal here, the last winner first."""
    from . import token_cache

    client_id = settings.client_id
    chosen, skipped = candidates(environ)
    every: dict[str, Callable[[], Any]] = {
        "environment": lambda: identity.EnvironmentCredential(**verify),
        "workload-identity": lambda: identity.WorkloadIdentityCredential(
            tenant_id=settings.tenant, client_id=client_id, **verify
        ),
        "managed-identity": lambda: identity.ManagedIdentityCredential(client_id=client_id, **verify),
        "azure-cli": lambda: identity.AzureCliCredential(tenant_id=settings.tenant or ""),
    }
    # Kept even with KVCTL_TOKEN_CACHE=off: it holds no token, only which kind answered.
    memory = _Memory(token_cache.cache_dir(), f"{settings.cloud}|{(settings.tenant or '').lower()}")
    return FastChain({kind: every[kind] for kind in chosen}, skipped, memory)
