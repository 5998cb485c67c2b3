"""`kvctl`: the root command, and the one place errors become messages and exit codes."""

from __future__ import annotations

import errno
import gc
import os
import sys
from typing import Any, NoReturn

import click

from .. import __version__
from ..core.errors import ExitCode, KvctlError
from .context import AppContext, global_options
from .lazy import LazyGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "whoami": ("kvctl.cli.cmd_whoami:whoami", "Show who kvctl signs in as: tenant, object id, expiry (no token)."),
    "list": ("kvctl.cli.cmd_read:list_cmd", "List secrets (or deleted secrets) with their attributes."),
    "get": ("kvctl.cli.cmd_read:get", "Print the value of one or more secrets."),
    "show": ("kvctl.cli.cmd_read:show", "Show a secret's attributes and tags, without its value."),
    "set": ("kvctl.cli.cmd_write:set_cmd", "Store a new version of a secret (value from stdin, a file or a prompt)."),
    "update": ("kvctl.cli.cmd_write:update_cmd", "Change a secret's attributes (expiry, tags, enabled...) only."),
    "versions": ("kvctl.cli.cmd_read:versions", "List every version of a secret."),
    "delete": ("kvctl.cli.cmd_lifecycle:delete", "Delete a secret (soft delete: it can be recovered)."),
    "recover": ("kvctl.cli.cmd_lifecycle:recover", "Recover a deleted secret."),
    "purge": ("kvctl.cli.cmd_lifecycle:purge", "Permanently erase a deleted secret (asks first)."),
    "backup": ("kvctl.cli.cmd_lifecycle:backup", "Save a secret's protected backup blob to a file."),
    "restore": ("kvctl.cli.cmd_lifecycle:restore", "Restore a secret from a backup file."),
    "run": ("kvctl.cli.cmd_run:run", "Run a command with secrets in its environment."),
    "export": (
        "kvctl.cli.cmd_export:export",
        "Print many secrets at once as dotenv, shell, JSON or CI (GitHub, Azure DevOps) variables.",
    ),
    "inject": ("kvctl.cli.cmd_export:inject", "Replace {{ REF }} placeholders in a template with secret values."),
    "copy": ("kvctl.cli.cmd_copy:copy", "Copy secrets to another vault, idempotently (promote dev -> prod)."),
    "diff": ("kvctl.cli.cmd_diff:diff", "Compare two vaults, or a vault and a .env/JSON file (exit 1 if they differ)."),
    "import": ("kvctl.cli.cmd_import:import_cmd", "Set each variable of a .env or JSON file as a secret."),
    "rotate": ("kvctl.cli.cmd_rotate:rotate", "Rotate secrets safely: one, several, or every one that is due."),
    "access": ("kvctl.cli.cmd_access:access", "Grant, revoke and list RBAC roles on a vault (idempotent)."),
    "audit": (
        "kvctl.cli.cmd_audit:audit",
        "Who read or changed secrets, and when: the vault's AuditEvent log in Log Analytics.",
    ),
    "logout": ("kvctl.cli.cmd_logout:logout", "Clear kvctl's token cache (the next command gets a new token)."),
    "check": ("kvctl.cli.cmd_check:check", "Check vault settings and secret hygiene (CI gate, SARIF, safe fixes)."),
    "emulator": ("kvctl.cli.cmd_emulator:emulator", "Run the local Key Vault + ARM + managed identity emulator."),
    "demo": ("kvctl.cli.cmd_demo:demo", "Start a throwaway emulator and tour the main commands against it."),
    "completion": ("kvctl.cli.cmd_completion:completion", "Print the shell completion script (bash, zsh, fish)."),
}


class ReaderGone(Exception):
    """stdout's reader went away (`kvctl list | head -1`): stop writing, and exit 0."""


class RootGroup(LazyGroup):
    def invoke(self, ctx: click.Context) -> Any:
        # Caught here, before click turns a closed pipe into exit 1 (and only sometimes: whether the
        # reader closed before the last write is a race), so the status is always the same.
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise ReaderGone from None
            raise


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=RootGroup, lazy=COMMANDS, context_settings=CONTEXT_SETTINGS)
@global_options(root=True)
@click.version_option(__version__, "--version", prog_name="kvctl", message="%(prog)s %(version)s")
def cli() -> None:
    """kvctl: Azure Key Vault secrets from the command line, fast and safe.

    \b
    Examples:
      kvctl demo                              a tour against a local emulator
      kvctl --vault myvault list
      kvctl get db-password                   prints the value
      echo -n 's3cret' | kvctl set db-password
      kvctl get akv://myvault/api-key -o json

    A secret is named by NAME (in --vault), akv://VAULT/NAME[/VERSION] or its identifier URL.
    Exit codes: 0 ok (also when stdout's reader closed early, as with | head), 1 unexpected,
    2 usage, 3 not found, 4 authentication, 5 forbidden, 6 conflict, 7 unavailable, 10 check failed.
    """


def _run(app: AppContext, argv: list[str] | None) -> int:
    try:
        result: Any = cli.main(args=argv, prog_name="kvctl", standalone_mode=False, obj=app)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return result if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> NoReturn:
    if argv is None:  # kvctl is the process itself (not a call inside tests or another program)
        _lighten_gc()
    app = AppContext()
    code: int
    try:
        code = _run(app, argv)
    except KvctlError as exc:
        app.output.error(exc.message, exc.hint)
        if app.value("debug"):
            _print_traceback()
        code = int(exc.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("kvctl: aborted\n")
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("kvctl: interrupted\n")
        code = 130
    except (ReaderGone, BrokenPipeError):
        _silence_stdout()
        code = 0
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, and a trace only with --debug
        from .crash import describe

        sys.stderr.write(f"kvctl: unexpected error: {describe(exc)}\n")
        sys.stderr.write("hint: rerun with --debug for details, and report it if it persists\n")
        if app.value("debug"):
            _print_traceback()
        code = int(ExitCode.UNEXPECTED)
    finally:
        try:
            app.close()
        except Exception:  # noqa: BLE001, S110 - closing must not change the outcome
            pass
        _flush_stdout()
        sys.stderr.flush()
    if argv is None:  # kvctl is the process itself, not a call inside another program
        # Every object alive now lives until the process ends: moved out of the collector's reach,
        # the interpreter's final collections skip them (~75 ms of CPU for a `get`, more than its
        # request). Nothing is lost: files are closed and flushed above, and atexit handlers,
        # thread joins and stream flushes at exit still run as usual.
        gc.freeze()
        if code > 128:
            from ..core.process import die_like_child

            die_like_child(code)  # `run`: a child killed by signal N ends kvctl by N, not by exit 128+N
    sys.exit(code)


def _lighten_gc() -> None:
    """Collect the young generation less often: a command's imports create ~40,000 long-lived
    objects (the SDK's modules and classes), and the default threshold of 700 makes the collector
    walk them again and again while they load. Cycles are still collected in long commands."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(20_000, middle, old)


def _flush_stdout() -> None:
    """Flush now, so that a reader that has gone is noticed here and not at interpreter exit
    (where Python would print "Exception ignored" and exit 120)."""
    try:
        sys.stdout.flush()
    except OSError:
        _silence_stdout()
    except ValueError:  # already closed
        pass


def _silence_stdout() -> None:
    """Point stdout at /dev/null: whatever is still buffered for the gone reader is dropped quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _print_traceback() -> None:
    from .crash import traceback_text

    exc = sys.exc_info()[1]
    if exc is not None:
        sys.stderr.write(traceback_text(exc))
        sys.stderr.flush()
