"""The state one kvctl invocation shares: settings from options and environment, the output,
and (built on first use) the Azure clients. Also the global options, accepted both before and
after the command name (`kvctl --vault v get x` and `kvctl get x --vault v`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..core.errors import UsageError
from ..core.settings import (
    AUTH_MODES,
    DEFAULT_CONCURRENCY,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    Settings,
)

if TYPE_CHECKING:
    from ..azure.clients import AzureClients
    from ..core.backend import BackendFactory
    from ..output import Output

F = TypeVar("F", bound=Callable[..., Any])
CLOUD_NAMES = ("public", "china", "usgov")

# name, flags, environment variable, help, extra click arguments
_GLOBAL_OPTIONS: list[tuple[str, tuple[str, ...], str | None, str, dict[str, Any]]] = [
    ("vault", ("--vault",), "KVCTL_VAULT", "Vault name or URL.", {"metavar": "NAME|URL"}),
    (
        "auth",
        ("--auth",),
        "KVCTL_AUTH",
        "Credential to use (auto: the emulator's for loopback vaults, else DefaultAzureCredential).",
        {"type": click.Choice(AUTH_MODES)},
    ),
    (
        "client_id",
        ("--client-id",),
        "AZURE_CLIENT_ID",
        "Client id of a user-assigned managed identity or app.",
        {"metavar": "ID"},
    ),
    ("tenant", ("--tenant",), "AZURE_TENANT_ID", "Tenant id.", {"metavar": "ID"}),
    (
        "subscription",
        ("--subscription",),
        "AZURE_SUBSCRIPTION_ID",
        "Subscription for ARM operations.",
        {"metavar": "ID"},
    ),
    ("cloud", ("--cloud",), "KVCTL_CLOUD", "Azure cloud.", {"type": click.Choice(CLOUD_NAMES)}),
    (
        "ca_bundle",
        ("--ca-bundle",),
        "KVCTL_CA_BUNDLE",
        "Extra CA certificate to trust (the emulator's).",
        {"type": click.Path(exists=True, dir_okay=False), "metavar": "PATH"},
    ),
    (
        "output",
        ("-o", "--output"),
        "KVCTL_OUTPUT",
        "Output format: table, json, tsv, plain (some commands add more).",
        {"metavar": "FMT"},
    ),
    ("verbose", ("-v", "--verbose"), None, "More detail on stderr (repeat for more).", {"count": True}),
    ("debug", ("--debug",), None, "Redacted HTTP logging and tracebacks on stderr.", {"is_flag": True}),
    ("quiet", ("-q", "--quiet"), None, "Only data and errors.", {"is_flag": True}),
]


class AppContext:
    def __init__(self) -> None:
        self.root: dict[str, Any] = {}
        self.overrides: dict[str, Any] = {}
        self._settings: Settings | None = None
        self._output: Output | None = None
        self._clients: AzureClients | None = None

    def value(self, name: str) -> Any:
        if name == "verbose":
            return (self.root.get("verbose") or 0) + (self.overrides.get("verbose") or 0)
        if name in self.overrides:
            return self.overrides[name]
        return self.root.get(name)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings(
                vault=self.value("vault"),
                auth=self.value("auth") or "auto",
                client_id=self.value("client_id"),
                tenant=self.value("tenant"),
                subscription=self.value("subscription"),
                cloud=self.value("cloud") or "public",
                ca_bundle=self.value("ca_bundle"),
                arm_endpoint=os.environ.get("KVCTL_ARM_ENDPOINT") or None,
                output=self.value("output"),
                verbose=self.value("verbose"),
                debug=bool(self.value("debug")),
                quiet=bool(self.value("quiet")),
                timeout=_env_number("KVCTL_TIMEOUT", DEFAULT_TIMEOUT, float, 1, 600),
                retries=int(_env_number("KVCTL_RETRIES", DEFAULT_RETRIES, int, 0, 20)),
                concurrency=int(_env_number("KVCTL_CONCURRENCY", DEFAULT_CONCURRENCY, int, 1, 64)),
            )
            _configure_logging(self._settings)
        return self._settings

    @property
    def output(self) -> Output:
        if self._output is None:
            from ..output import Output

            self._output = Output(quiet=bool(self.value("quiet")), verbose=self.value("verbose"))
        return self._output

    @property
    def clients(self) -> AzureClients:
        if self._clients is None:
            from ..azure.clients import AzureClients

            self._clients = AzureClients(self.settings)
        return self._clients

    @property
    def factory(self) -> BackendFactory:
        return self.clients.secrets

    def output_format(self, allowed: Sequence[str], default: str | None = None) -> str:
        """The format for this command: -o if allowed here, else KVCTL_OUTPUT if it fits, else default."""
        explicit = self.overrides.get("output") or self.root.get("output_explicit")
        requested = self.value("output")
        if requested and requested not in allowed:
            if explicit:
                raise UsageError(f"-o {requested} is not available here", hint=f"choose one of: {', '.join(allowed)}")
            requested = None
        return self.output.resolve(requested, allowed, default=default)

    def close(self) -> None:
        if self._clients is not None:
            self._clients.close()


def _configure_logging(settings: Settings) -> None:
    """kvctl's log lines with -v; the SDK's too (azure-identity's at -v, HTTP with --debug), redacted.
    Without -v the SDK says nothing: its warnings would otherwise reach stderr through logging's
    last-resort handler, beside (and contradicting) kvctl's own one-line error."""
    import logging
    import sys

    from ..core.redaction import redact

    # Headers and URLs only (the SDK redacts Authorization); request bodies are never logged.
    sdk_loggers = ("azure.core.pipeline.policies.http_logging_policy", "azure.identity")
    for name in ("kvctl", "azure", *sdk_loggers):  # what an earlier run in this process set up
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "kvctl", False)]:
            logger.removeHandler(old)
        logger.setLevel(logging.NOTSET)
    if not (settings.verbose or settings.debug):
        silence = logging.NullHandler()
        silence.kvctl = True  # type: ignore[attr-defined]
        logging.getLogger("azure").addHandler(silence)
        return

    class RedactingFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return redact(super().format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    handler.kvctl = True  # type: ignore[attr-defined]
    for name in ("kvctl", *sdk_loggers):
        logger = logging.getLogger(name)
        if name == "kvctl" or name == "azure.identity" or settings.debug:
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG if settings.debug else logging.INFO)


def _env_number(name: str, default: float, kind: type, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise UsageError(f"{name}={raw} is out of range", hint=f"use {low:g}-{high:g}")
    return value


def _store(root: bool) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        app = ctx.ensure_object(AppContext)
        assert param.name is not None
        if root:
            app.root[param.name] = value
            if param.name == "output":
                source = ctx.get_parameter_source(param.name)
                app.root["output_explicit"] = source == click.core.ParameterSource.COMMANDLINE
        elif value not in (None, False, 0):
            app.overrides[param.name] = value

    return callback


def global_options(root: bool = False, exclude: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Add the global options; at the root they read their environment variables. A command
    whose own option takes a global one's flag (inject's `-o OUT`) excludes that global one."""

    def decorate(fn: F) -> F:
        for name, flags, env, help_text, extra in reversed(_GLOBAL_OPTIONS):
            if name in exclude:
                continue
            kwargs = dict(extra)
            if root and env:
                kwargs.update(envvar=env, show_envvar=True)
            elif env:
                help_text = f"{help_text} [env var: {env}]"
            fn = click.option(
                *flags, name, help=help_text, expose_value=False, callback=_store(root), is_eager=False, **kwargs
            )(fn)
        return fn

    return decorate


def confirm(app: AppContext, question: str, yes: bool) -> None:
    """Ask before something destructive or irreversible; without a terminal, demand --yes."""
    if yes:
        return
    import sys

    if not sys.stdin.isatty():
        raise UsageError(f"confirmation needed: {question}", hint="pass --yes to confirm in a non-interactive run")
    if not click.confirm(question, default=False, err=True):
        raise UsageError("not confirmed; nothing was changed")
