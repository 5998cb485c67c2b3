"""demo: a throwaway emulator, seeded, and a short tour of the main commands against it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from .params import FiniteFloatRange

SEED = {
    "db-password": {"value": "correct-horse-battery-staple", "contentType": "text/plain", "tags": {"app": "shop"}},
    "api-key": {"value": "ak_live_0123456789", "tags": {"app": "shop", "owner": "payments"}, "expires": "20d"},
    "smtp-password": {"value": "mail-s3cret", "tags": {"app": "mailer"}, "expires": "200d"},
}

# (what the user would type after `kvctl`, text piped to stdin)
TOUR: list[tuple[str, str | None]] = [
    ("whoami -o table", None),
    ("list -o table", None),
    ("get db-password", None),
    ("set db-password --tag app=shop --expires 90d -o table", "n3w-passw0rd\n"),
    ("versions db-password -o table", None),
    ("get db-password -o json", None),
    ("list --expiring-within 30d -o table", None),
    ("get db-password api-key -o dotenv", None),
    ("delete api-key -o table", None),
    ("list --deleted -o table", None),
    ("recover api-key -o table", None),
    ("get api-key", None),
    ("run --env DB_PASSWORD=db-password -- sh -c 'echo \"the app sees a ${#DB_PASSWORD}-character password\"'", None),
    ("export --format shell", None),
    ("rotate api-key --generator password --length 24 --expires-in 90d -o table", None),
    ("check -o table --fail-on never", None),
]


@click.command("demo")
@click.option(
    "--lifecycle-delay",
    type=FiniteFloatRange(0, 60),
    default=0,
    metavar="SECONDS",
    help="Make the emulator's delete/recover/purge/restore take this long to show, as Azure's do.",
)
def demo(lifecycle_delay: float) -> None:
    """Start a throwaway emulator, seed it, and run a short tour of kvctl against it.

    Each step prints the command and its real output. Nothing touches Azure, and the emulator
    and its data are removed at the end.
    """
    from ..emulator import Emulator, EmulatorOptions, KnobSettings

    with tempfile.TemporaryDirectory(prefix="kvctl-demo-") as tmp:
        seed = Path(tmp) / "seed.json"
        seed.write_text(json.dumps(SEED))
        knobs = KnobSettings(lifecycle_delay=lifecycle_delay)
        emulator = Emulator(EmulatorOptions(state_dir=Path(tmp) / "state", seed=seed, knobs=knobs))
        info = emulator.start()
        try:
            env = {**os.environ, **emulator.env, "KVCTL_NO_PROGRESS": "1", "COLUMNS": "100"}
            # The tour's tokens and files are the throwaway emulator's: they go with it, not into
            # the user's own cache and state directories.
            env["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
            env["XDG_STATE_HOME"] = str(Path(tmp) / "state-home")
            for name in ("KVCTL_AUTH", "KVCTL_OUTPUT", "KVCTL_CLOUD", "AZURE_CLIENT_ID"):
                env.pop(name, None)
            click.echo(f"# A local emulator is serving vault '{info['vaults'][0]['name']}' at {env['KVCTL_VAULT']}.")
            click.echo("# kvctl finds it through the environment that `kvctl emulator` writes to emulator.env.\n")
            failed = 0
            for command, stdin in TOUR:
                shown = f"echo {shlex.quote(stdin.strip())} | kvctl {command}" if stdin else f"kvctl {command}"
                click.echo(f"$ {shown}")
                result = subprocess.run(
                    [sys.executable, "-m", "kvctl", *shlex.split(command)],
                    input=stdin or "",
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                click.echo(result.stdout + result.stderr, nl=False)
                click.echo("")
                failed += result.returncode != 0
        finally:
            emulator.stop()
    click.echo("# Your turn, with state that survives restarts:")
    click.echo("#   kvctl emulator --state-dir ./kv-emulator      (in another terminal)")
    click.echo("#   source ./kv-emulator/emulator.env && kvctl list")
    if failed:
        raise SystemExit(1)
