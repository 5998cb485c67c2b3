"""Builds (and reuses) credentials and SDK clients from settings: one session, one credential per
target host, one SecretClient per vault."""

from __future__ import annotations

import os
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any

from ..core.clouds import host_of, is_loopback
from ..core.errors import KvctlError
from ..core.settings import Settings
from ..core.throttle import ThrottleGate
from .credentials import GuardedCredential, build_credential, resolve_mode, token_claims
from .errors import translate
from .pipeline import client_options, origin_of, throttle_hooks
from .secrets import AzureSecretBackend
from .token_cache import default_store, eviction_policy
from .writes import ServerClock

if TYPE_CHECKING:
    from .arm import AzureArm
    from .graph import AzureGraph
    from .loganalytics import AzureLogs
    from .resource_graph import AzureResourceGraph


def user_agent_policy() -> Any:
    """The SDK's User-Agent, with the platform named from os.uname() alone: azure-core's default
    calls platform.platform(), which starts a `uname -p` process and scans the Python binary for
    its libc version in every process (~10 ms of CPU, more wall time on a busy machine)."""
    import platform

    from azure.core.pipeline.policies import UserAgentPolicy
    from azure.keyvault.secrets import __version__

    uname = os.uname() if hasattr(os, "uname") else None
    system = f"{uname.sysname}-{uname.release}-{uname.machine}" if uname else platform.system()
    return UserAgentPolicy(
        base_user_agent=f"azsdk-python-keyvault-secrets/{__version__} Python/{platform.python_version()} ({system})"
    )


class AzureClients:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session: Any = None  # requests' session, only once a client needs it
        self._proxy: bool | None = None
        self._trust: Any = None  # the data plane's TLS context, built with the first client
        self._credentials: dict[str, GuardedCredential] = {}
        self._shared_credentials: dict[str, Any] = {}  # per auth mode, shared by every host's guard
        self._backends: dict[str, AzureSecretBackend] = {}
        self._arm: AzureArm | None = None
        self._graph: AzureGraph | None = None
        self._logs: AzureLogs | None = None
        self._fleet_arm: AzureArm | None = None
        self._resource_graph: AzureResourceGraph | None = None
        self._lock = threading.RLock()

    def _options(self, endpoint: str, *, direct: bool = False) -> dict[str, Any]:
        """The SDK options of a client for `endpoint`: its transport sends nothing anywhere else.

        `direct`: the client may use the data plane's http.client transport (unless a proxy is
        configured, which requests' transport implements in full)."""
        origin = origin_of(endpoint)
        if direct and origin.startswith("https://") and not self._proxied():
            from .direct_transport import DirectTransport, trust_context

            if self._trust is None:  # one for every vault's client (building one parses CA files)
                self._trust = trust_context(self.settings.ca_bundle)
            transport = DirectTransport(
                origin,
                self._trust,
                connection_timeout=min(self.settings.timeout, 10.0),
                read_timeout=self.settings.timeout,
                pool_size=max(4, self.settings.concurrency + 4),
            )
            options = client_options(self.settings, transport)
        else:
            from .transport import make_session, requests_options

            if self._session is None:
                self._session = make_session(self.settings)
            options = requests_options(self.settings, self._session, origin)
        store = default_store()
        if store is not None:  # a 401 to a cached token evicts it and retries once with a fresh one
            options["per_call_policies"] = [*options.get("per_call_policies", []), eviction_policy(store)]
        return options

    def _proxied(self) -> bool:
        if self._proxy is None:
            from .direct_transport import proxy_configured

            self._proxy = proxy_configured()
        return self._proxy

    def credential(self, target_url: str) -> GuardedCredential:
        host = host_of(urllib.parse.urlsplit(target_url).netloc)
        with self._lock:
            if host not in self._credentials:
                self._credentials[host] = build_credential(self.settings, target_url, self._shared_credentials)
            return self._credentials[host]

    def secrets(self, vault_url: str) -> AzureSecretBackend:
        """The backend for one vault (this is the core's BackendFactory)."""
        key = vault_url.lower()
        with self._lock:  # one client per vault, even when threads ask at once (it owns the vault's gate)
            backend = self._backends.get(key)
            if backend is None:
                from azure.keyvault.secrets import SecretClient

                loopback = is_loopback(host_of(urllib.parse.urlsplit(vault_url).netloc))
                hooks = throttle_hooks(ThrottleGate())  # throttling is per vault
                clock = ServerClock()  # so is the service's clock, which judges lost writes
                on_response = hooks["raw_response_hook"]
                credential = self.credential(vault_url)
                from .challenges import ChallengeRecorder, challenge_store, seed

                store = challenge_store()
                recorder = None
                if store is not None:
                    seed(store, credential, vault_url, None if loopback else self.settings.cloud_info.vault_scope)
                    recorder = ChallengeRecorder(store, vault_url)

                def observe(
                    response: Any,
                    on_response: Any = on_response,
                    clock: ServerClock = clock,
                    recorder: Any = recorder,
                ) -> None:
                    on_response(response)
                    headers = response.http_response.headers
                    clock.observe(headers.get("Date"))
                    if recorder is not None:
                        recorder.observe(response.http_response.status_code, headers)

                client = SecretClient(
                    vault_url,
                    credential,
                    verify_challenge_resource=not loopback,  # a loopback host can never match the challenge
                    user_agent_policy=user_agent_policy(),
                    **self._options(vault_url, direct=True),
                    **{**hooks, "raw_response_hook": observe},
                )
                backend = self._backends[key] = AzureSecretBackend(
                    client, vault_url, self.settings.retries, clock=clock
                )
            return backend

    def arm(self) -> AzureArm:
        """The ARM backend (the core's ArmFactory), on the cloud's or the overridden endpoint."""
        if self._arm is None:
            from ..core.arm import az_cli_default_subscription, choose_subscription
            from ..core.clouds import arm_endpoint
            from .arm import AzureArm

            cloud = self.settings.cloud_info
            endpoint = arm_endpoint(self.settings.arm_endpoint, cloud)
            given = self.settings.subscription

            def subscription(arm: AzureArm) -> str:
                return choose_subscription(given, az_cli_default_subscription(), arm.visible_subscriptions)

            self._arm = AzureArm(
                self.credential(endpoint), endpoint, cloud.arm_scope, self._options(endpoint), subscription
            )
        return self._arm

    def fleet_arm(self) -> AzureArm:
        """ARM for requests about resources in any subscription (diagnostic settings, role
        assignments, the subscription list): the subscription is never guessed, since no URL it
        builds names one."""
        if self._fleet_arm is None:
            from ..core.arm import az_cli_default_subscription
            from ..core.clouds import arm_endpoint
            from .arm import PLACEHOLDER_SUBSCRIPTION, AzureArm

            cloud = self.settings.cloud_info
            endpoint = arm_endpoint(self.settings.arm_endpoint, cloud)
            given = self.settings.subscription

            def subscription(arm: AzureArm) -> str:
                return given or az_cli_default_subscription() or PLACEHOLDER_SUBSCRIPTION

            self._fleet_arm = AzureArm(
                self.credential(endpoint), endpoint, cloud.arm_scope, self._options(endpoint), subscription
            )
        return self._fleet_arm

    def resource_graph(self) -> AzureResourceGraph:
        """Azure Resource Graph, on the ARM endpoint (the core's ResourceGraphBackend)."""
        if self._resource_graph is None:
            from ..core.clouds import arm_endpoint
            from .resource_graph import AzureResourceGraph

            cloud = self.settings.cloud_info
            endpoint = arm_endpoint(self.settings.arm_endpoint, cloud)
            self._resource_graph = AzureResourceGraph(
                self.credential(endpoint), endpoint, cloud.arm_scope, self._options(endpoint)
            )
        return self._resource_graph

    def graph(self) -> AzureGraph:
        """Microsoft Graph (the core's DirectoryBackend): the cloud's, or the emulator's when ARM is
        the emulator; its credential is guarded for that host like every other."""
        if self._graph is None:
            from ..core.clouds import arm_endpoint, graph_endpoint
            from .graph import AzureGraph

            cloud = self.settings.cloud_info
            endpoint = graph_endpoint(arm_endpoint(self.settings.arm_endpoint, cloud), cloud)
            self._graph = AzureGraph(self.credential(endpoint), endpoint, cloud.graph_scope, self._options(endpoint))
        return self._graph

    def logs(self) -> AzureLogs:
        """Log Analytics' query API (the core's LogsBackend): the cloud's, the emulator's when ARM is
        the emulator, or KVCTL_LOG_ANALYTICS_ENDPOINT; its credential is guarded for that host."""
        if self._logs is None:
            import os

            from ..core.clouds import arm_endpoint, log_analytics_endpoint
            from .loganalytics import AzureLogs

            cloud = self.settings.cloud_info
            override = os.environ.get("KVCTL_LOG_ANALYTICS_ENDPOINT") or None
            endpoint = log_analytics_endpoint(arm_endpoint(self.settings.arm_endpoint, cloud), cloud, override)
            self._logs = AzureLogs(
                self.credential(endpoint), endpoint, cloud.log_analytics_endpoint, self._options(endpoint)
            )
        return self._logs

    def caller_object_id(self, target_url: str, scope: str) -> str | None:
        """The object id in the token kvctl uses for `target_url` (claims only, never the token)."""
        return self.token_info(target_url, scope)["claims"].get("oid")

    def token_info(self, target_url: str, scope: str) -> dict[str, Any]:
        """Claims of a token for `scope` (never the token itself), and how it was obtained."""
        credential = self.credential(target_url)
        try:
            token = credential.get_token(scope)
        except KvctlError:
            raise
        except Exception as exc:
            raise translate(exc, what="a token", where=target_url) from exc
        host = host_of(urllib.parse.urlsplit(target_url).netloc)
        return {
            "mode": resolve_mode(self.settings, host),
            "credential": credential.name,
            "claims": token_claims(token.token),
            "expires_on": token.expires_on,
        }

    def close(self) -> None:
        for backend in self._backends.values():
            backend.client.close()
        for arm in (self._arm, self._fleet_arm, self._resource_graph):
            if arm is not None:
                arm.close()
        if self._graph is not None:
            self._graph.close()
        if self._logs is not None:
            self._logs.close()
        for credential in self._shared_credentials.values():  # each once, not once per host
            credential.close()
        if self._session is not None:
            self._session.close()
