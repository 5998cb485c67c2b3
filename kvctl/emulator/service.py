"""Start and stop the whole emulator: one HTTPS port per vault, one for ARM (and the Entra token
endpoint), and one plain-HTTP port for the managed-identity endpoints."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .arm_api import ArmService
from .arm_store import ResourceGroupRecord
from .arm_workspaces import setup_log_analytics
from .bootstrap import apply_seed, grant_admin
from .directory import TENANT_DOMAIN
from .http import EmulatorHTTPServer, Request, Response, server_ssl_context
from .identity_api import APP_SERVICE_PATH, IdentityService, federated_token
from .knobs import Knobs, KnobSettings
from .loganalytics_api import PREFIX as LOG_ANALYTICS_PREFIX
from .secrets_api import VaultService
from .seed import Seed, load_seed
from .state_files import system_cas, write_atomic
from .state_lock import lock_state_dir
from .store import Store, VaultRecord
from .tls import ensure_tls_files
from .tokens import TokenAuthority
from .world import (
    ADMIN_IDENTITY,
    DEFAULT_LOCATION,
    Site,
    World,
)

DEFAULT_VAULT = "emulator"
INFO_FILE = "emulator.json"
ENV_FILE = "emulator.env"
CA_BUNDLE_FILE = "ca-bundle.pem"
MAX_PORT = 65535


class StartupError(Exception):
    """The emulator could not start (a port taken, an unusable state directory): one line to show."""


class PortsExhausted(StartupError):
    """--port leaves too few ports below 65536 for every vault, ARM and the identity endpoint."""


@dataclass
class EmulatorOptions:
    state_dir: Path | None = None
    port: int = 0
    vaults: list[str] = field(default_factory=lambda: [DEFAULT_VAULT])
    identities: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    groups: list[tuple[str, list[str]]] = field(default_factory=list)  # (name, member names)
    seed: Path | None = None
    knobs: KnobSettings = field(default_factory=KnobSettings)
    principal_replication_delay: float = 0.0
    random_seed: int | None = None
    # Display names of the subscriptions to show; vaults go to the first unless placed elsewhere.
    subscriptions: list[str] = field(default_factory=list)
    # --audit-logs: every vault starts with a diagnostic setting sending AuditEvent to the default workspace.
    audit_logs: bool = False
    # Vault name (lower case) -> the display name of the subscription it lives in.
    vault_subscriptions: dict[str, str] = field(default_factory=dict)


def _not_ready(request: Request) -> Response:
    return Response(503, {"error": {"code": "ServiceUnavailable", "message": "The emulator is starting."}})


class Emulator:
    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options
        self._temporary = options.state_dir is None
        self.state_dir = Path(options.state_dir or tempfile.mkdtemp(prefix="kvctl-emulator-")).resolve()
        self._servers: list[EmulatorHTTPServer] = []
        self._serving: set[int] = set()  # ids of servers whose serve_forever loop was started
        self._threads: list[threading.Thread] = []
        self._vault_servers: dict[str, EmulatorHTTPServer] = {}
        self._info_lock = threading.RLock()
        self._context: Any = None
        self._region: dict[str, str] = {}
        self._started = False
        self.info: dict[str, Any] = {}
        self.env: dict[str, str] = {}
        self.world: World | None = None
        self._store: Store | None = None
        self._lock_fd: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Start everything, or nothing: a failure closes what was opened and raises StartupError
        (or the seed's SeedError)."""
        try:
            return self._start()
        except BaseException as exc:
            self.stop()
            if isinstance(exc, OSError):
                raise StartupError(f"cannot start the emulator: {exc.strerror or exc}") from exc
            if isinstance(exc, sqlite3.Error):
                raise StartupError(f"cannot open the emulator's state in {self.state_dir}: {exc}") from exc
            raise

    def _start(self) -> dict[str, Any]:
        options = self.options
        seed = load_seed(options.seed, time.time()) if options.seed else Seed()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.state_dir, 0o700)  # an existing directory too: it will hold keys and values
        self._lock_fd = lock_state_dir(self.state_dir)
        for stale in (INFO_FILE, ENV_FILE):
            (self.state_dir / stale).unlink(missing_ok=True)
        store = self._store = Store(self.state_dir / "state.db")
        site = Site(
            subscription_id=self._meta(store, "subscription_id", lambda: str(uuid.uuid4())),
            tenant_id=self._meta(store, "tenant_id", lambda: str(uuid.uuid4())),
            resource_group=self._meta(store, "resource_group", lambda: "kvctl-emulator"),
            location=self._meta(store, "location", lambda: DEFAULT_LOCATION),
        )
        signing_key = base64.b64decode(
            self._meta(store, "signing_key", lambda: base64.b64encode(os.urandom(32)).decode())
        )
        identity_header = self._meta(store, "identity_header", lambda: secrets.token_urlsafe(24))
        world = self.world = World(
            store,
            TokenAuthority(signing_key, site.tenant_id),
            site,
            Knobs(options.knobs, seed=options.random_seed),
            principal_replication_delay=options.principal_replication_delay,
        )
        if options.subscriptions:
            names = list(dict.fromkeys(options.subscriptions))
            world.subscriptions = [(site.subscription_id, names[0])] + [
                (self._meta(store, f"subscription:{name}", lambda: str(uuid.uuid4())), name) for name in names[1:]
            ]
        admin = world.ensure_identity(ADMIN_IDENTITY)
        for name in options.identities:
            world.ensure_identity(name)
        grant_admin(world, admin.object_id)
        for name in options.users:
            world.directory.ensure_user(name)
        for name, members in options.groups:
            world.directory.ensure_group(name, members)
        if store.get_group(site.resource_group) is None:
            store.put_group(ResourceGroupRecord(site.resource_group, site.location, {}))

        tls = ensure_tls_files(self.state_dir)
        context = self._context = server_ssl_context(str(tls.server_cert), str(tls.server_key))
        # Vaults named on the command line, then the seed's, then those created through ARM before.
        wanted = options.vaults + list(seed.vaults) + [v.name for v in store.list_vaults()]
        vault_names: list[str] = []
        for name in wanted:
            if name.lower() not in {v.lower() for v in vault_names}:
                vault_names.append(name)
        if options.port and options.port + len(vault_names) + 1 > MAX_PORT:
            raise PortsExhausted(
                f"--port {options.port} with {len(vault_names)} vault(s) needs ports up to "
                f"{options.port + len(vault_names) + 1}, past {MAX_PORT}: use a lower --port, or --port 0"
            )
        for name in vault_names:  # a vault named again on the command line comes back from deletion
            deleted = store.get_deleted_vault(name)
            if deleted is not None and store.get_vault(name) is None:
                store.forget_deleted_vault(name)
                store.put_vault(deleted.vault)

        def next_port(index: int) -> int:
            return options.port + index if options.port else 0

        region = self._region = {
            "x-ms-keyvault-region": site.location,
            "x-ms-keyvault-service-version": "1.9.2800.1",
        }
        vault_entries = []
        for index, name in enumerate(vault_names):
            server = self._serve(next_port(index), context, region)
            url = f"https://127.0.0.1:{server.port}"
            extra = seed.vaults[name].properties if name in seed.vaults else None
            placed = options.vault_subscriptions.get(name.lower())
            subscription = world.subscription_id_of(placed) if placed else None
            # A restart keeps the stored settings (and the subscription a vault was created in).
            record = world.create_vault(name, url, extra, subscription)
            server.handler = VaultService(world, record.name, url).handle
            self._vault_servers[record.name.lower()] = server
            vault_entries.append(self._vault_entry(record.name, url))
        arm_server = self._serve(next_port(len(vault_names)), context, {})
        arm_url = f"https://127.0.0.1:{arm_server.port}"
        arm_server.handler = ArmService(world, arm_url, lambda: self.info).handle
        identity_server = self._serve(next_port(len(vault_names) + 1), None, {})
        identity_server.handler = IdentityService(world, identity_header).handle
        identity_root = f"http://127.0.0.1:{identity_server.port}"

        workspaces = setup_log_analytics(world, [e["name"] for e in vault_entries], options.audit_logs)

        apply_seed(world, vault_names[0], seed.default_secrets)
        for name, spec in seed.vaults.items():
            apply_seed(world, name, spec.secrets)

        federated_dir = self.state_dir / "federated"
        federated_dir.mkdir(exist_ok=True, mode=0o700)
        identities = []
        for identity in world.identities():
            token_file = federated_dir / f"{identity.name}.jwt"
            write_atomic(token_file, federated_token(world, identity))
            identities.append(
                {
                    "name": identity.name,
                    "clientId": identity.client_id,
                    "objectId": identity.object_id,
                    "federatedTokenFile": str(token_file),
                }
            )
        ca_bundle = self.state_dir / CA_BUNDLE_FILE
        write_atomic(ca_bundle, system_cas() + tls.ca_cert.read_text(), 0o644)
        self.info = {
            "vaults": vault_entries,
            "armEndpoint": arm_url,
            "authorityHost": arm_url,
            "subscriptionId": site.subscription_id,
            "subscriptions": [{"name": name, "subscriptionId": sub_id} for sub_id, name in world.subscriptions],
            "resourceGroup": site.resource_group,
            "tenantId": site.tenant_id,
            "location": site.location,
            "caFile": str(tls.ca_cert),
            "identityEndpoint": identity_root + APP_SERVICE_PATH,
            "identityHeader": identity_header,
            "imdsEndpoint": identity_root,
            "identities": identities,
            "graphEndpoint": arm_url,
            "tenantDomain": TENANT_DOMAIN,
            "users": [
                {"name": u.display_name, "userPrincipalName": u.upn, "objectId": u.object_id}
                for u in world.directory.users()
            ],
            "groups": [
                {"name": g.display_name, "objectId": g.object_id, "members": list(g.members)}
                for g in world.directory.groups()
            ],
            "logAnalyticsEndpoint": arm_url + LOG_ANALYTICS_PREFIX.rstrip("/"),
            "logAnalyticsWorkspaces": workspaces,
            "caBundle": str(ca_bundle),
            "stateDir": str(self.state_dir),
            "pid": os.getpid(),
        }
        self.env = {
            "KVCTL_VAULT": vault_entries[0]["url"],
            "KVCTL_CA_BUNDLE": str(tls.ca_cert),
            "KVCTL_ARM_ENDPOINT": arm_url,
            "AZURE_SUBSCRIPTION_ID": site.subscription_id,
            "IDENTITY_ENDPOINT": self.info["identityEndpoint"],
            "IDENTITY_HEADER": identity_header,
        }
        for server in list(self._servers):
            self._start_serving(server)
        world.hosting = self
        self._started = True
        self._write_files()
        return self.info

    def _start_serving(self, server: EmulatorHTTPServer) -> None:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._serving.add(id(server))
        thread.start()
        self._threads.append(thread)

    def _write_files(self) -> None:
        with self._info_lock:
            write_atomic(self.state_dir / ENV_FILE, self.env_text())
            write_atomic(self.state_dir / INFO_FILE, json.dumps(self.info, indent=2) + "\n")

    # -- vaults created and deleted through ARM (world.hosting) ------------------------------------

    def open_vault(self, name: str, make_record: Any) -> VaultRecord:
        assert self.world is not None
        with self._info_lock:
            server = self._serve(0, self._context, self._region)
            url = f"https://127.0.0.1:{server.port}"
            try:
                record: VaultRecord = make_record(url)
                self.world.store.put_vault(record)
            except BaseException:
                self._servers.remove(server)
                server.server_close()
                raise
            self.world.vault_urls[record.name.lower()] = url
            server.handler = VaultService(self.world, record.name, url).handle
            self._vault_servers[record.name.lower()] = server
            self._start_serving(server)
            self.info["vaults"] = [v for v in self.info["vaults"] if v["name"].lower() != record.name.lower()] + [
                self._vault_entry(record.name, url)
            ]
            if self._started:
                self._write_files()
            return record

    def _vault_entry(self, name: str, url: str) -> dict[str, str]:
        assert self.world is not None
        return {
            "name": name,
            "url": url,
            "resourceId": self.world.vault_resource_id(name),
            "subscriptionId": self.world.vault_subscription(name),
        }

    def close_vault(self, name: str) -> None:
        with self._info_lock:
            server = self._vault_servers.pop(name.lower(), None)
            self.info["vaults"] = [v for v in self.info["vaults"] if v["name"].lower() != name.lower()]
            if self.world is not None:
                self.world.vault_urls.pop(name.lower(), None)
            if self._started:
                self._write_files()
        if server is not None:
            self._close_server(server)

    def _close_server(self, server: EmulatorHTTPServer) -> None:
        # shutdown() waits for serve_forever to notice; on a server that never served it would
        # wait for ever, so only servers that serve are shut down.
        if id(server) in self._serving:
            server.shutdown()
            self._serving.discard(id(server))
        server.server_close()
        if server in self._servers:
            self._servers.remove(server)

    def env_text(self) -> str:
        return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in self.env.items())

    def stop(self) -> None:
        if self.world is not None:
            self.world.hosting = None
        self._started = False
        for server in list(self._servers):
            self._close_server(server)
        self._servers.clear()
        self._vault_servers.clear()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._lock_fd is not None:  # else the directory is another emulator's: its files stay
            for name in (INFO_FILE, ENV_FILE):
                (self.state_dir / name).unlink(missing_ok=True)
        if self._temporary:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        if self._lock_fd is not None:
            # Released last, once this emulator's files are gone. The lock file stays: removing
            # it would let two emulators lock two different files of the same name.
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers -------------------------------------------------------------------------------

    def _serve(self, port: int, context: Any, headers: dict[str, str]) -> EmulatorHTTPServer:
        """Bind a port now (so its URL is known); its handler is attached once the URL is."""
        try:
            server = EmulatorHTTPServer(port, _not_ready, context, headers)
        except OSError as exc:
            where = f"port {port}" if port else "a free port"
            raise StartupError(f"cannot listen on 127.0.0.1 {where}: {exc.strerror or exc}") from exc
        self._servers.append(server)
        return server

    @staticmethod
    def _meta(store: Store, key: str, make: Any) -> str:
        return store.meta_or_set(key, make)
