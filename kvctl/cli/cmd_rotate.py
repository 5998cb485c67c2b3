"""Rotating secrets: rotate REF... | --due-within D | --resume FILE."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..core import validate
from ..core.generators import KINDS
from .context import AppContext, global_options
from .params import FiniteFloatRange

if TYPE_CHECKING:
    from ..core.interrupt import Interrupt
    from ..core.rotation import RotationOptions, RotationResult, Rotator
    from ..core.rotation_runs import RunFile

pass_app = click.make_pass_decorator(AppContext, ensure=True)
FORMATS = ("table", "json", "tsv", "plain")


@click.command("rotate")
@click.argument("refs", nargs=-1, metavar="[REF...]")
@click.option("--due-within", metavar="DURATION", help="Rotate every enabled secret expiring within e.g. 14d.")
@click.option("--prefix", help="With --due-within: only names starting with this.")
@click.option("--tag", "tags", multiple=True, metavar="NAME=VALUE", help="With --due-within: only with this tag.")
@click.option("--generator", type=click.Choice(KINDS), help="Generate the new value (default: password).")
@click.option("--length", type=int, help="Generated length: characters (password, hex) or bytes (base64).")
@click.option("--classes", metavar="LIST", help="Password characters: lower,upper,digits,symbols (default all).")
@click.option("--value-file", metavar="PATH|-", help="Take the new value from a file or stdin (-), exactly.")
@click.option("--from-command", metavar="CMD", help="Take the new value from CMD's stdout (run by /bin/sh).")
@click.option("--apply-command", metavar="CMD", help="Run CMD with the new value on stdin before storing it.")
@click.option(
    "--hook-timeout", type=FiniteFloatRange(1, 86400), default=300, metavar="SECONDS", help="Limit for CMDs (300)."
)
@click.option("--expires-in", metavar="DURATION", help="New expiry from now (default: carry the period forward).")
@click.option("--disable-previous", is_flag=True, help="Then disable older enabled versions.")
@click.option("--keep", type=click.IntRange(0, 1000), metavar="N", help="With --disable-previous: spare N older.")
@click.option("--dry-run", is_flag=True, help="Show what would be rotated; change nothing, run nothing.")
@click.option("--resume", "resume_file", metavar="FILE", help="Finish a rotation from its recovery file.")
@click.option("--force", is_flag=True, help="With --resume: write even if a newer version appeared meanwhile.")
@click.option("--retry-failed", "retry_failed", metavar="RUNFILE", help="Redo only what a recorded run did not finish.")
@click.option(
    "--recovery-dir",
    envvar="KVCTL_RECOVERY_DIR",
    show_envvar=True,
    metavar="DIR",
    help="Where new values wait until the vault has them (default ~/.local/state/kvctl/recovery).",
)
@global_options(formats=FORMATS)
@pass_app
def rotate(app: AppContext, refs: tuple[str, ...], **opts: Any) -> int:
    """Rotate secrets: store a new value, keeping content type and tags, never losing the value.

    \b
    Examples:
      kvctl rotate db-password --apply-command ./set-db-password.sh
      kvctl rotate api-key --from-command 'new-api-key --print' --disable-previous
      kvctl rotate --due-within 14d --prefix app- --dry-run
      kvctl rotate --resume ~/.local/state/kvctl/recovery/FILE.json

    First kvctl checks that you may write the secret and takes a rotation lease on it (a tag on
    the current version), so nothing runs that could not finish and no two rotations of one
    secret overlap. The new value is saved to a 0600 recovery file; the apply command gets it on
    stdin (and KVCTL_SECRET_NAME, KVCTL_SECRET_VERSION_OLD, KVCTL_VAULT_URL in its environment).
    If it fails, the vault is unchanged. If the vault write fails or kvctl is interrupted, the
    file stays: --resume FILE. Several secrets: a run file records each outcome; --retry-failed.
    """
    from ..core.interrupt import Interrupt
    from .rotate_support import (
        check_converges,
        check_options,
        recovery_dir,
        relay_to,
        rotator_for,
        stopping_on_signals,
    )

    check_options(refs, opts)
    check_converges(opts)
    if opts["retry_failed"]:
        from .rotate_retry import load_run

        run, refs, opts = load_run(opts)
    else:
        run = None
    settings = app.settings
    options = _options(opts)
    fmt = app.output_format(FORMATS)
    interrupt = Interrupt()
    rotator = rotator_for(
        app.factory,
        relay_to(app.output.stderr),
        dict(os.environ),
        recovery_dir(opts),
        interrupt,
        arm=app.clients.arm,
        notify=app.output.info,
    )

    with stopping_on_signals(interrupt):
        if opts["resume_file"]:
            result = rotator.resume(Path(opts["resume_file"]), options, settings.cloud_info, force=opts["force"])
            _render(app, [result], fmt, single=True)
            if interrupt.tripped:
                return _interrupted(app, interrupt, [result], None)
            _report_one(app, result)
            return 0
        return _rotate(app, rotator, refs, opts, options, fmt, run)


def _options(opts: dict[str, Any]) -> RotationOptions:
    from ..core.rotation import RotationOptions

    return RotationOptions(
        expires_in=validate.duration(opts["expires_in"]) if opts["expires_in"] else None,
        apply_command=opts["apply_command"],
        hook_timeout=float(opts["hook_timeout"]),
        disable_previous=opts["disable_previous"],
        keep=opts["keep"] or 0,
        dry_run=opts["dry_run"],
    )


def _rotate(
    app: AppContext,
    rotator: Rotator,
    refs: tuple[str, ...],
    opts: dict[str, Any],
    options: RotationOptions,
    fmt: str,
    run: RunFile | None,
) -> int:
    from ..core.refs import SecretRef, parse_ref
    from ..core.rotation_bulk import failure, rotate_many, select_due, unique_refs
    from ..core.secrets import ListFilter
    from .rotate_support import check_due_again, read_value, run_settings, value_source

    settings = app.settings
    bulk = bool(opts["due_within"])
    given = read_value(opts["value_file"]) if opts["value_file"] and not opts["dry_run"] else None
    source = value_source(opts, rotator, given)
    targets: list[SecretRef]
    if run is not None:
        targets = [SecretRef(e["vaultUrl"], e["name"]) for e in run.unfinished()]
    elif bulk:
        window = validate.duration(opts["due_within"])
        filters = ListFilter(prefix=opts["prefix"], tags=validate.tags(opts["tags"]))
        now = rotator.now()
        due = select_due(app.factory, settings.require_vault_url(), window, filters, now)
        check_due_again(due, window, now, opts["expires_in"])
        targets = [SecretRef(settings.require_vault_url(), s.name) for s in due]
    else:
        targets = unique_refs([parse_ref(r, settings.vault, settings.cloud_info) for r in refs])
    single = not bulk and run is None and len(refs) == 1
    if run is None and not single and not options.dry_run and targets and rotator.recovery_dir is not None:
        from ..core.rotation_runs import RunFile

        run = RunFile.create(rotator.recovery_dir, targets, run_settings(opts), rotator.now())

    def recorded(advance: Callable[[int], Any]) -> Callable[[RotationResult], None]:
        def done(result: RotationResult) -> None:
            if run is not None:
                run.record(result)
            advance(1)

        return done

    with app.output.progress("rotating", total=len(targets)) as advance:
        if run is not None and opts["retry_failed"]:
            from .rotate_retry import redo

            results = redo(rotator, run, targets, source, options, settings, on_done=recorded(advance))
        else:
            results = rotate_many(
                rotator,
                targets,
                source,
                options,
                concurrency=settings.concurrency,
                on_done=recorded(advance),
            )
    kept = run.close() if run is not None else False
    run_path = run.path if run is not None and kept else None
    _render(app, results, fmt, single=single)
    if rotator.interrupt.tripped:
        return _interrupted(app, rotator.interrupt, results, run_path)
    if single:
        _report_one(app, results[0])
        return 0
    ok = sum(1 for r in results if r.ok)
    verb = "would rotate" if options.dry_run else "rotated"
    app.output.info(f"{verb} {ok} of {len(results)} secret(s)" if results else "no secret is due; nothing to do")
    error = failure(results, run_path)
    if error:
        raise error
    return 0


def _interrupted(app: AppContext, interrupt: Interrupt, results: list[RotationResult], run: Path | None) -> int:
    from .rotate_support import interrupt_summary

    for line in interrupt_summary(interrupt, results, run):
        app.output.stderr.write(line + "\n")
    app.output.stderr.flush()
    return interrupt.exit_code


def _render(app: AppContext, results: list[RotationResult], fmt: str, *, single: bool) -> None:
    from ..output import Column

    if fmt == "json" and single:
        app.output.json(results[0].to_json())
        return
    columns = (
        Column("Name", lambda r: r["name"]),
        Column("Status", lambda r: r["status"]),
        Column("Old version", lambda r: r["oldVersion"]),
        Column("New version", lambda r: r["newVersion"]),
        Column("Expires", lambda r: (r["expires"] or "")[:16].replace("T", " ")),
        Column("Recovery file", lambda r: r["recoveryFile"]),
    )
    if fmt == "table" and not results:
        return
    app.output.rows((r.to_json() for r in results), columns, fmt)


def _report_one(app: AppContext, result: RotationResult) -> None:
    if result.status == "would-rotate":
        app.output.info(f"would rotate '{result.name}' (version {result.old_version}); dry run, nothing changed")
    elif result.new_version:
        what = "was already stored" if result.status == "already-stored" else "stored"
        app.output.info(f"'{result.name}': new version {result.new_version} {what} (was {result.old_version})")
    if result.error:
        raise result.error
