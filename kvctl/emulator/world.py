"""Everything the emulator's endpoints share: the store, the token authority, the identities,
the subscription and resource group, and the test knobs."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .audit_log import AuditLog
from .directory import Directory
from .http import ResetConnection
from .knobs import Knobs
from .lifecycle import Lifecycle
from .store import IdentityRecord, RoleAssignmentRecord, Store, VaultRecord
from .tokens import Identity, TokenAuthority

ADMIN_IDENTITY = "admin"
DEFAULT_LOCATION = "eastus"
DEFAULT_RETENTION_DAYS = 90
DEFAULT_SUBSCRIPTION_NAME = "kvctl emulator"
OWNER_ROLE_GUID = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
KEY_VAULT_ADMINISTRATOR_GUID = "00482a5a-887f-4fb3-b363-3b7fe8e74483"


def utc_iso(epoch: float | None = None) -> str:
    moment = time.gmtime(epoch if epoch is not None else time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%S", moment) + ".0000000Z"


def default_vault_properties(tenant_id: str, vault_url: str) -> dict[str, Any]:
    """A vault as `az keyvault create` makes one today."""
    return {
        "sku": {"family": "A", "name": "standard"},
        "tenantId": tenant_id,
        "accessPolicies": [],
        "enabledForDeployment": False,
        "enabledForDiskEncryption": False,
        "enabledForTemplateDeployment": False,
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": DEFAULT_RETENTION_DAYS,
        "enableRbacAuthorization": True,
        "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": []},
        "vaultUri": vault_url.rstrip("/") + "/",
        "provisioningState": "Succeeded",
        "publicNetworkAccess": "Enabled",
    }


def recovery_of(properties: dict[str, Any]) -> tuple[str, int | None]:
    """The `recoveryLevel` and `recoverableDays` that secrets in a vault with these settings report."""
    if not properties.get("enableSoftDelete", True):
        return "Purgeable", None
    days = int(properties.get("softDeleteRetentionInDays") or DEFAULT_RETENTION_DAYS)
    level = "Recoverable" if days == DEFAULT_RETENTION_DAYS else "CustomizedRecoverable"
    if not properties.get("enablePurgeProtection"):
        level += "+Purgeable"
    return level, days


class VaultHosting(Protocol):
    """Serves vaults created (and stops serving vaults deleted) while the emulator runs."""

    def open_vault(self, name: str, make_record: Callable[[str], VaultRecord]) -> VaultRecord:
        """Bind a port, store `make_record(url)`, serve it, and list it in emulator.json."""
        ...

    def close_vault(self, name: str) -> None: ...


@dataclass(frozen=True)
class Site:
    """Where the emulator's endpoints are and what subscription it pretends to be."""

    subscription_id: str
    tenant_id: str
    resource_group: str
    location: str


class World:
    def __init__(
        self,
        store: Store,
        tokens: TokenAuthority,
        site: Site,
        knobs: Knobs,
        principal_replication_delay: float = 0.0,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.site = site
        self.knobs = knobs
        self.lifecycle = Lifecycle(lambda: knobs.settings.lifecycle_delay)
        self.replication_delay = principal_replication_delay
        self.vault_urls: dict[str, str] = {}
        self.hosting: VaultHosting | None = None
        # (id, display name): the first is the emulator's own (--vault NAME goes there); a vault
        # lives in another with --vault SUBSCRIPTION/NAME or a PUT under that subscription.
        self.subscriptions: list[tuple[str, str]] = [(site.subscription_id, DEFAULT_SUBSCRIPTION_NAME)]
        self._identities: list[Identity] = []
        self._lock = threading.Lock()
        # --rbac-propagation-delay: role assignment changes not yet visible to the data plane.
        self._pending_added: dict[str, float] = {}
        self._pending_removed: dict[str, tuple[float, RoleAssignmentRecord]] = {}
        self.reload_identities()
        self.directory = Directory(self)
        self.audit = AuditLog(store, lambda: site.subscription_id)  # AuditEvent rows (audit_log.py)

    # -- role assignments as the data plane sees them ------------------------------------------

    def assignment_added(self, name: str) -> None:
        with self._lock:
            self._pending_added[name.lower()] = time.monotonic()
            self._pending_removed.pop(name.lower(), None)

    def assignment_removed(self, record: RoleAssignmentRecord) -> None:
        with self._lock:
            self._pending_removed[record.name.lower()] = (time.monotonic(), record)
            self._pending_added.pop(record.name.lower(), None)

    def data_plane_assignments(self) -> list[RoleAssignmentRecord]:
        """Role assignments as Key Vault sees them: changes arrive `rbac_propagation_delay` late."""
        delay = self.knobs.settings.rbac_propagation_delay
        current = self.store.role_assignments()
        if delay <= 0:
            return current
        cutoff = time.monotonic() - delay
        with self._lock:
            self._pending_added = {k: t for k, t in self._pending_added.items() if t > cutoff}
            self._pending_removed = {k: v for k, v in self._pending_removed.items() if v[0] > cutoff}
            hidden = set(self._pending_added)
            lingering = [record for _, record in self._pending_removed.values()]
        return [ra for ra in current if ra.name.lower() not in hidden] + lingering

    # -- identities ----------------------------------------------------------------------------

    def reload_identities(self) -> None:
        with self._lock:
            self._identities = [
                Identity(r.name, r.client_id, r.object_id, r.created) for r in self.store.get_identities()
            ]

    def ensure_identity(self, name: str) -> Identity:
        for identity in self.identities():
            if identity.name == name:
                return identity
        self.store.add_identity(IdentityRecord(name, str(uuid.uuid4()), str(uuid.uuid4()), time.time()))
        self.reload_identities()
        return next(i for i in self.identities() if i.name == name)

    def identities(self) -> list[Identity]:
        with self._lock:
            return list(self._identities)

    def find_identity(
        self, *, client_id: str | None = None, object_id: str | None = None, name: str | None = None
    ) -> Identity | None:
        for identity in self.identities():
            if client_id and identity.client_id.lower() == client_id.lower():
                return identity
            if object_id and identity.object_id.lower() == object_id.lower():
                return identity
            if name and identity.name == name:
                return identity
        return None

    def admin(self) -> Identity:
        admin = self.find_identity(name=ADMIN_IDENTITY)
        assert admin is not None, "the admin identity is created at start"
        return admin

    def principal_known(self, object_id: str) -> bool:
        """Directory lookup, with the replication delay a new principal has in Azure."""
        return self.directory.known(object_id) is not None

    # -- vaults --------------------------------------------------------------------------------

    def vault_group(self, name: str) -> str:
        """The resource group a vault lives in (vaults from the command line: the emulator's)."""
        return self.store.vault_group(name) or self.site.resource_group

    def subscription_id_of(self, given: str) -> str | None:
        """The id of an emulated subscription named by its id or display name, else None."""
        for sub_id, name in self.subscriptions:
            if given.lower() in (sub_id.lower(), name.lower()):
                return sub_id
        return None

    def vault_subscription(self, name: str) -> str:
        """The subscription a vault lives in (the emulator's first unless placed elsewhere)."""
        return self.store.vault_subscription(name) or self.site.subscription_id

    def vault_resource_id(self, name: str) -> str:
        return (
            f"/subscriptions/{self.vault_subscription(name)}/resourceGroups/{self.vault_group(name)}"
            f"/providers/Microsoft.KeyVault/vaults/{name}"
        )

    def vault(self, name: str) -> VaultRecord:
        record = self.store.get_vault(name)
        if record is None:
            # Deleted through ARM while a client still holds a kept-alive connection to its port:
            # the vault's host is gone, so the connection goes too.
            raise ResetConnection()
        return record

    def create_vault(
        self, name: str, url: str, properties: dict[str, Any] | None = None, subscription: str | None = None
    ) -> VaultRecord:
        existing = self.store.get_vault(name)
        if existing is None and subscription is not None and subscription != self.site.subscription_id:
            self.store.set_vault_subscription(name, subscription)
        if existing is not None:
            # The port may differ from the last run; the URL follows it.
            props = {**existing.properties, "vaultUri": url.rstrip("/") + "/"}
            record = VaultRecord(existing.name, existing.location, existing.tags, props, existing.created, utc_iso())
        else:
            props = default_vault_properties(self.site.tenant_id, url)
            props.update(properties or {})
            now = utc_iso()
            record = VaultRecord(name, self.site.location, {}, props, now, now)
        self.store.put_vault(record)
        self.vault_urls[name.lower()] = url
        return record
