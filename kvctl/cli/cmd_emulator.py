"""emulator: run the local Key Vault + ARM + managed identity emulator in the foreground."""

from __future__ import annotations

from pathlib import Path

import click

from ..core.errors import UsageError
from ..core.validate import VAULT_NAME


def _rate(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise click.BadParameter("must be between 0 and 1")
    return value


def _group(spec: str) -> tuple[str, list[str]]:
    name, sep, members = spec.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--group {spec!r}: expected NAME=MEMBER[,MEMBER...]")
    return name.strip(), [m.strip() for m in members.split(",") if m.strip()]


def _placed_vaults(given: tuple[str, ...], subscriptions: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """`--vault [SUBSCRIPTION/]NAME` -> the vault names, and the subscription (by name) of those placed."""
    names: list[str] = []
    placed: dict[str, str] = {}
    known = {s.lower(): s for s in subscriptions}
    seen: dict[str, str] = {}
    for spec in given:
        subscription, sep, name = spec.rpartition("/")
        if not VAULT_NAME.match(name):
            raise UsageError(
                f"invalid vault name {name!r}", hint="3-24 letters, digits and '-', starting with a letter"
            )
        if name.lower() in seen:
            # a vault name is a DNS name (NAME.vault.azure.net): unique across every subscription
            raise UsageError(
                f"--vault {spec}: the vault name {name!r} is already given (--vault {seen[name.lower()]})",
                hint="vault names are global in Azure, whatever the subscription or case: give each vault once",
            )
        seen[name.lower()] = spec
        if sep:
            if subscription.lower() not in known:
                raise UsageError(
                    f"--vault {spec}: no --subscription named {subscription!r}",
                    hint="name the subscription with --subscription NAME (the first holds vaults given without one)",
                )
            placed[name.lower()] = known[subscription.lower()]
        names.append(name)
    return names, placed


@click.command("emulator")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="First port: vaults use PORT, PORT+1, ..., then ARM, then the identity endpoint. 0 = free ports.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep state (secrets, versions, deleted secrets, CA) here across restarts. Default: a temp dir.",
)
@click.option(
    "--vault",
    "vaults",
    multiple=True,
    metavar="[SUBSCRIPTION/]NAME",
    help="A vault to serve (repeatable). Default: emulator. SUBSCRIPTION/NAME places it in that --subscription "
    "(by name); NAME alone in the first.",
)
@click.option(
    "--identity",
    "identities",
    multiple=True,
    metavar="NAME",
    help="A managed identity besides the admin (repeatable); it starts with no roles.",
)
@click.option(
    "--user",
    "users",
    multiple=True,
    metavar="NAME",
    help="A directory user NAME@kvctlemulator.onmicrosoft.com (repeatable), for role assignments and Graph.",
)
@click.option(
    "--group",
    "groups",
    multiple=True,
    metavar="NAME=MEMBER,...",
    help="A security group of identities, users or earlier groups, by name (repeatable).",
)
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON of secrets to preload: {name: value} or {name: {value, contentType, tags, expires}}.",
)
@click.option("--latency", type=click.FloatRange(0, 60000), default=0, metavar="MS", help="Delay every answer.")
@click.option(
    "--fault-rate",
    type=float,
    default=0.0,
    callback=_rate,
    metavar="F",
    help="Fraction of requests answered 503 or reset before any work is done.",
)
@click.option(
    "--drop-response-rate",
    type=float,
    default=0.0,
    callback=_rate,
    metavar="F",
    help="Fraction of writes done and then answered with a reset connection.",
)
@click.option("--throttle", is_flag=True, help="Enforce the service limits: 4,000 ops / 10 s, 300 writes / 10 s.")
@click.option(
    "--token-latency",
    type=click.FloatRange(0, 600000),
    default=0,
    metavar="MS",
    help="Every token endpoint (managed identity, IMDS, Entra) answers this much later.",
)
@click.option(
    "--rbac-propagation-delay",
    type=click.FloatRange(0, 3600),
    default=0,
    metavar="S",
    help="Role assignment changes reach the data plane S seconds after ARM accepts them.",
)
@click.option(
    "--principal-replication-delay",
    type=click.FloatRange(0, 3600),
    default=0,
    metavar="SECONDS",
    help="New identities are unknown to role assignments for this long (as in Azure).",
)
@click.option(
    "--lifecycle-delay",
    type=click.FloatRange(0, 3600),
    default=0,
    metavar="SECONDS",
    help="Delete, recover, purge and restore take this long to become visible (as in Azure: seconds).",
)
@click.option(
    "--subscription",
    "subscriptions",
    multiple=True,
    metavar="NAME",
    help="A subscription to show (repeatable); --vault NAME goes to the first, --vault SUBSCRIPTION/NAME to any.",
)
@click.option(
    "--audit-logs",
    is_flag=True,
    help="Every vault starts with a diagnostic setting (kvctl-audit) sending AuditEvent logs to the "
    "emulator's Log Analytics workspace.",
)
@click.option(
    "--log-query-row-limit",
    type=click.IntRange(1, 500000),
    default=500000,
    show_default=True,
    metavar="N",
    help="Rows one Log Analytics query answers before the answer is partial (the service's limit: 500000).",
)
@click.option("--random-seed", type=int, help="Seed for the fault injection, for repeatable runs.")
@click.option("-v", "--verbose", is_flag=True, help="Log each request (method, path, status) to stderr.")
def emulator(
    port: int,
    state_dir: Path | None,
    vaults: tuple[str, ...],
    identities: tuple[str, ...],
    users: tuple[str, ...],
    groups: tuple[str, ...],
    seed: Path | None,
    latency: float,
    fault_rate: float,
    drop_response_rate: float,
    throttle: bool,
    token_latency: float,
    rbac_propagation_delay: float,
    principal_replication_delay: float,
    lifecycle_delay: float,
    subscriptions: tuple[str, ...],
    audit_logs: bool,
    log_query_row_limit: int,
    random_seed: int | None,
    verbose: bool,
) -> None:
    """Run a local, faithful Azure Key Vault emulator until Ctrl-C.

    It serves the secrets API over HTTPS (one port per vault), ARM (resource groups, vaults,
    deleted vaults, role definitions and assignments) with Microsoft Graph's principal lookups on the
    same port (/v1.0/), the Log Analytics query API with every vault request as an AuditEvent row
    (/loganalytics/), and managed-identity token endpoints. On start it writes
    STATE_DIR/emulator.json and STATE_DIR/emulator.env and prints them;

    \b
      source STATE_DIR/emulator.env && kvctl list

    then works with no other flag. The Azure SDK works too, with the CA in emulator.json and
    verify_challenge_resource=False.
    """
    import logging

    from ..emulator import EmulatorOptions, KnobSettings
    from ..emulator.directory import DirectoryError
    from ..emulator.runner import run_foreground
    from ..emulator.seed import SeedError
    from ..emulator.service import PortsExhausted, StartupError
    from ..emulator.state_lock import StateDirInUse

    named: set[str] = set()
    for name in subscriptions:
        if not name.strip() or len(name) > 64 or not name.isprintable():
            raise UsageError(f"invalid subscription name {name!r}", hint="1-64 printable characters")
        if name.lower() in named:
            # --vault NAME/... finds a subscription by name regardless of case: two would be ambiguous
            raise UsageError(
                f"--subscription {name}: a subscription of that name is already given",
                hint="subscription names must differ regardless of case",
            )
        named.add(name.lower())
    vault_names, placed = _placed_vaults(vaults, subscriptions)
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    knobs = KnobSettings(
        latency,
        fault_rate,
        drop_response_rate,
        throttle,
        lifecycle_delay=lifecycle_delay,
        token_latency_ms=token_latency,
        rbac_propagation_delay=rbac_propagation_delay,
        log_query_row_limit=log_query_row_limit,
    )
    try:
        knobs.validate()  # click's ranges let NaN through
    except ValueError as exc:
        raise UsageError(f"invalid knob: {exc}") from None
    if principal_replication_delay != principal_replication_delay:
        raise UsageError("invalid --principal-replication-delay: nan")
    options = EmulatorOptions(
        state_dir=state_dir,
        port=port,
        vaults=vault_names or ["emulator"],
        vault_subscriptions=placed,
        identities=list(identities),
        users=list(users),
        groups=[_group(spec) for spec in groups],
        seed=seed,
        knobs=knobs,
        principal_replication_delay=principal_replication_delay,
        random_seed=random_seed,
        subscriptions=list(subscriptions),
        audit_logs=audit_logs,
    )
    try:
        run_foreground(options)
    except SeedError as exc:
        raise UsageError(f"--seed: {exc}") from None
    except DirectoryError as exc:
        raise UsageError(f"--user/--group: {exc}") from None
    except (StateDirInUse, PortsExhausted) as exc:
        raise UsageError(str(exc)) from None
    except StartupError as exc:
        raise UsageError(str(exc), hint="try --port 0 for free ports, or another --state-dir") from None
    except OSError as exc:
        raise UsageError(
            f"cannot start the emulator: {exc.strerror or exc}", hint="try --port 0 for free ports"
        ) from None
