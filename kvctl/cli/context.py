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
    token_cache_enabled,
)
from .ca_bundle import checked_ca_bundle
from .logs import CONSOLE_LINE, configure_logging

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
        # Not a click.Path: every problem with the bundle gets kvctl's one-line error (_ca_bundle).
        {"metavar": "PATH"},
    ),
    (
        "output",
        ("-o", "--output"),
        "KVCTL_OUTPUT",
        "Output format: table, json, tsv, plain (each command lists its own).",
        {"metavar": "FMT"},
    ),
    (
        "wait_for_access",
        ("--wait-for-access",),
        "KVCTL_WAIT_FOR_ACCESS",
        "On ForbiddenByRbac, retry until DURATION has passed (a new role assignment takes minutes to apply).",
        {"metavar": "DURATION"},
    ),
    ("local_time", ("--local-time",), None, "Times in tables in the local time zone, not UTC.", {"is_flag": True}),
    (
        "verbose",
        ("-v", "--verbose"),
        None,
        "More detail on stderr; -vv adds a line per HTTP request (redacted).",
        {"count": True},
    ),
    ("debug", ("--debug",), None, "Redacted HTTP logging and tracebacks on stderr.", {"is_flag": True}),
    ("quiet", ("-q", "--quiet"), None, "Only data and errors.", {"is_flag": True}),
]


class AppContext:
    def __init__(self) -> None:
        self.root: dict[str, Any] = {}
        self.overrides: dict[str, Any] = {}
        self.explicit: set[str] = set()  # options given on the command line (not from the environment)
        self._settings: Settings | None = None
        self._output: Output | None = None
        self._clients: AzureClients | None = None
        CONSOLE_LINE.clear()  # log lines go to this run's console once it exists

    def value(self, name: str) -> Any:
        if name == "verbose":
            return (self.root.get("verbose") or 0) + (self.overrides.get("verbose") or 0)
        if name in self.overrides:
            return self.overrides[name]
        return self.root.get(name)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            if self.value("output"):
                check_format(self.value("output"), self.output_source())  # KVCTL_OUTPUT=yaml is never ignored
            token_cache_enabled(os.environ.get("KVCTL_TOKEN_CACHE"))  # KVCTL_TOKEN_CACHE=maybe: refused, not "on"
            self._settings = Settings(
                vault=self.value("vault"),
                auth=self.value("auth") or "auto",
                client_id=self.value("client_id"),
                tenant=self.value("tenant"),
                subscription=self.value("subscription"),
                cloud=self.value("cloud") or "public",
                ca_bundle=checked_ca_bundle(self.value("ca_bundle")),
                arm_endpoint=os.environ.get("KVCTL_ARM_ENDPOINT") or None,
                output=self.value("output"),
                verbose=self.value("verbose"),
                debug=bool(self.value("debug")),
                quiet=bool(self.value("quiet")),
                timeout=_env_number("KVCTL_TIMEOUT", DEFAULT_TIMEOUT, float, 1, 600),
                retries=int(_env_number("KVCTL_RETRIES", DEFAULT_RETRIES, int, 0, 20)),
                concurrency=int(_env_number("KVCTL_CONCURRENCY", DEFAULT_CONCURRENCY, int, 1, 64)),
                wait_for_access=_wait_for_access(self.value("wait_for_access")),
            )
            configure_logging(self._settings)
        return self._settings

    @property
    def output(self) -> Output:
        if self._output is None:
            from ..output import Output

            self._output = Output(
                quiet=bool(self.value("quiet")),
                verbose=self.value("verbose"),
                local_time=bool(self.value("local_time")),
            )
            CONSOLE_LINE[:] = [self._output.console.line]
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
        """The format for this command: -o if allowed here, else KVCTL_OUTPUT if it fits, else default.

        A value kvctl does not know is refused wherever it comes from (naming KVCTL_OUTPUT when it
        came from there); a known one from KVCTL_OUTPUT that this command does not print (`table`
        for `get`) gives way to the command's default, so one setting can serve every command."""
        return self.output.resolve(self.requested_format(allowed), allowed, default=default)

    def requested_format(self, allowed: Sequence[str]) -> str | None:
        """The -o / KVCTL_OUTPUT value if this command accepts it; None for "the command's default"."""
        requested = self.value("output")
        if requested:
            check_format(requested, self.output_source())
        if requested and requested not in allowed:
            if self.output_source() != "KVCTL_OUTPUT":
                raise UsageError(
                    f"-o {requested} is not available for this command", hint=f"choose one of: {', '.join(allowed)}"
                )
            return None
        return requested

    def output_source(self) -> str:
        """Where the -o value came from: "-o" (the command line) or "KVCTL_OUTPUT"."""
        explicit = self.overrides.get("output") or self.root.get("output_explicit")
        return "-o" if explicit else "KVCTL_OUTPUT"

    def close(self) -> None:
        if self._clients is not None:
            self._clients.close()


def _wait_for_access(text: str | None) -> float:
    if not text or text.strip() == "0":
        return 0.0
    from ..core import validate

    try:
        return validate.duration(text).total_seconds()
    except UsageError:
        raise UsageError(
            f"--wait-for-access (or KVCTL_WAIT_FOR_ACCESS) {text!r} is not a duration",
            hint="e.g. 30s, 5m or 1h (0 to not wait)",
        ) from None


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


def check_format(value: str, source: str) -> None:
    from ..output import KNOWN_FORMATS

    if value not in KNOWN_FORMATS:
        where = f"KVCTL_OUTPUT={value}" if source == "KVCTL_OUTPUT" else f"-o {value}"
        raise UsageError(f"{where} is not an output format", hint=f"kvctl knows: {', '.join(KNOWN_FORMATS)}")


def _store(root: bool, formats: Sequence[str] | None = None) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        app = ctx.ensure_object(AppContext)
        assert param.name is not None
        if root:
            app.root[param.name] = value
            if ctx.get_parameter_source(param.name) == click.core.ParameterSource.COMMANDLINE:
                app.explicit.add(param.name)
            if param.name == "output":
                source = ctx.get_parameter_source(param.name)
                app.root["output_explicit"] = source == click.core.ParameterSource.COMMANDLINE
                if value and app.root["output_explicit"]:
                    check_format(value, "-o")  # KVCTL_OUTPUT is checked when used, so --help always works
        elif value not in (None, False, 0):
            app.overrides[param.name] = value
            app.explicit.add(param.name)
        if param.name == "output" and formats is not None and not root:
            # Checked while parsing, so that a bad format stops the command before any request.
            app.requested_format(formats)

    return callback


def global_options(
    root: bool = False, exclude: tuple[str, ...] = (), formats: Sequence[str] | None = None
) -> Callable[[F], F]:
    """Add the global options; at the root they read their environment variables. A command
    whose own option takes a global one's flag (inject's `-o OUT`) excludes that global one.
    `formats` declares the -o values the command accepts: its help lists only those."""

    def decorate(fn: F) -> F:
        for name, flags, env, help_text, extra in reversed(_GLOBAL_OPTIONS):
            if name in exclude:
                continue
            kwargs = dict(extra)
            if name == "output" and formats is not None:
                # Not a click.Choice: a refused value gets kvctl's one-line error and a hint.
                kwargs = {"metavar": "[" + "|".join(formats) + "]"}
                help_text = "Output format."
            if root and env:
                kwargs.update(envvar=env, show_envvar=True)
            elif env:
                help_text = f"{help_text} [env var: {env}]"
            fn = click.option(
                *flags,
                name,
                help=help_text,
                expose_value=False,
                callback=_store(root, formats if name == "output" else None),
                is_eager=False,
                **kwargs,
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
    with app.output.paused():  # no progress line drawn over the question
        answer = click.confirm(question, default=False, err=True)
    if not answer:
        raise UsageError("not confirmed; nothing was changed")
