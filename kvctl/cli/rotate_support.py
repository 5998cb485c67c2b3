"""`kvctl rotate`'s option rules and the collaborators it hands the core: checked before any request."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..core import validate
from ..core.errors import UsageError

if TYPE_CHECKING:
    from ..core.arm import ArmBackend
    from ..core.backend import BackendFactory
    from ..core.interrupt import Interrupt
    from ..core.models import Secret
    from ..core.rotation import RotationResult, Rotator, ValueSource

_VALUE_OPTIONS = ("generator", "length", "classes", "value_file", "from_command")
_BULK_OPTIONS = ("prefix", "tags")


def _flag(name: str) -> str:
    return "--" + {"tags": "tag", "resume_file": "resume"}.get(name, name).replace("_", "-")


def _given(opts: Mapping[str, Any], names: tuple[str, ...]) -> list[str]:
    return [_flag(n) for n in names if opts.get(n) not in (None, False, ())]


def check_options(refs: tuple[str, ...], opts: Mapping[str, Any]) -> None:
    """Combinations that make no sense are refused with one line, before anything is sent."""
    if opts["resume_file"] and opts["retry_failed"]:
        raise UsageError("give --resume FILE or --retry-failed RUNFILE, not both")
    if opts["resume_file"] or opts["retry_failed"]:
        what = "--resume finishes a saved rotation" if opts["resume_file"] else "--retry-failed redoes a saved run"
        clash = _given(opts, ("due_within", *_BULK_OPTIONS, *_VALUE_OPTIONS, "apply_command", "expires_in", "dry_run"))
        if opts["retry_failed"] and opts["force"]:
            clash.append("--force")
        if refs or clash:
            raise UsageError(
                f"{what}; it takes no {', '.join(clash) or 'REF'}",
                hint="the file holds the secrets, how to make and apply values, and their properties",
            )
    else:
        if opts["force"]:
            raise UsageError("--force applies only to --resume")
        if bool(refs) == bool(opts["due_within"]):
            raise UsageError(
                "give REFs or --due-within, not both" if refs else "name secrets to rotate, or --due-within DURATION",
                hint="e.g. kvctl rotate db-password, or kvctl rotate --due-within 14d",
            )
        if not opts["due_within"] and _given(opts, _BULK_OPTIONS):
            raise UsageError(f"{', '.join(_given(opts, _BULK_OPTIONS))} select secrets for --due-within only")
    if opts["keep"] is not None and not opts["disable_previous"]:
        raise UsageError("--keep applies only with --disable-previous")
    sources = [s for s in (("generator", "length", "classes"), ("value_file",), ("from_command",)) if _given(opts, s)]
    if len(sources) > 1:
        raise UsageError(
            f"choose one source for the new value: {' / '.join(_given(opts, s)[0] for s in sources)}",
            hint="a generator (default), --value-file or --from-command",
        )
    if opts["value_file"] and (opts["due_within"] or len(refs) > 1):
        raise UsageError(
            "--value-file gives one value; it can rotate one secret only",
            hint="use a generator or --from-command (it sees KVCTL_SECRET_NAME) for several",
        )


def value_source(opts: Mapping[str, Any], rotator: Rotator, value: str | None) -> ValueSource:
    from ..core.generators import CLASSES, GeneratorSpec, check, parse_classes
    from ..core.rotation_bulk import command_source, fixed_source, generator_source

    if opts["from_command"]:
        source = command_source(rotator.runner, opts["from_command"], rotator.env, float(opts["hook_timeout"]))
    elif opts["value_file"]:
        source = fixed_source(value or "")
    else:
        spec = GeneratorSpec(
            kind=opts["generator"] or "password",
            length=opts["length"],
            classes=parse_classes(opts["classes"]) if opts["classes"] else tuple(CLASSES),
        )
        source = generator_source(check(spec))
    return _never if opts["dry_run"] else source


def _never(ref: Any, current: Any) -> str:
    raise AssertionError("a dry run asks for no value")


def check_converges(opts: Mapping[str, Any]) -> None:
    """A bulk rotation must leave nothing due: a new expiry inside --due-within would be rotated again."""
    if not opts["due_within"] or not opts["expires_in"]:
        return
    window, given = validate.duration(opts["due_within"]), validate.duration(opts["expires_in"])
    if given <= window:
        raise UsageError(
            f"--expires-in {opts['expires_in']} ({_days(given)}) is within --due-within {opts['due_within']} "
            f"({_days(window)}): the new versions would be due again at once",
            hint=f"give --expires-in longer than {opts['due_within']}",
        )


def check_due_again(due: Sequence[Secret], window: dt.timedelta, now: dt.datetime, given: str | None) -> None:
    """Carried-forward validity shorter than the window would leave a secret due right after its rotation:
    refused up front (before anything runs), with each secret's figure."""
    from ..core.rotation_bulk import due_again

    short = due_again(due, window, now)
    if not short or given:
        return
    listed = ", ".join(f"{name} ({_days(period)})" for name, period in short[:10])
    more = f" and {len(short) - 10} more" if len(short) > 10 else ""
    raise UsageError(
        f"{len(short)} secret(s) carry a validity period no longer than --due-within ({_days(window)}), so "
        f"they would be due again at once: {listed}{more}; nothing was rotated",
        hint="give --expires-in DURATION longer than --due-within for the new versions",
    )


def _days(period: dt.timedelta) -> str:
    days = period.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 1 and days == int(days) else f"{days:.2f} days"


def rotator_for(
    factory: BackendFactory,
    relay: Callable[[bytes], None],
    env: dict[str, str],
    recovery_dir: Path | None,
    interrupt: Interrupt,
    arm: Callable[[], ArmBackend] | None = None,
    notify: Callable[[str], None] = lambda message: None,
) -> Rotator:
    from ..core.hooks import ShellRunner
    from ..core.rotation import Rotator
    from ..core.rotation_lease import DEFAULT_SETTLE_SECONDS, LeaseKeeper, arm_rights

    settle = _settle(env.get("KVCTL_ROTATION_SETTLE"), DEFAULT_SETTLE_SECONDS)
    return Rotator(
        factory,
        ShellRunner(relay, interrupt),
        env,
        lambda: dt.datetime.now(dt.UTC),
        recovery_dir,
        interrupt=interrupt,
        leases=LeaseKeeper(settle=settle),
        rights=arm_rights(arm) if arm is not None else None,
        notify=notify,
    )


def _settle(text: str | None, default: float) -> float:
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 600:
        raise UsageError(f"KVCTL_ROTATION_SETTLE must be seconds from 0 to 600, not {text!r}")
    return value


_STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


@contextlib.contextmanager
def stopping_on_signals(interrupt: Interrupt) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP trip `interrupt` instead of killing kvctl mid-step, so every
    rotation can stop where it is safe and say what happened. A signal the parent ignored
    (nohup) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def trip(signum: int, frame: Any) -> None:
        interrupt.trip(signum)

    previous: dict[int, Any] = {}
    for sig in _STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, trip)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def interrupt_summary(interrupt: Interrupt, results: Sequence[RotationResult], run_file: Path | None) -> list[str]:
    """One line per secret after an interrupt: what happened to it and how to finish it."""
    lines = [f"kvctl: stopped by {interrupt.name}; nothing new was started. Per secret:"]
    for r in results:
        if r.status in ("rotated", "resumed", "already-stored"):
            lines.append(f"  {r.name}: {r.status} (new version {r.new_version})")
        elif r.status == "not-started":
            lines.append(f"  {r.name}: not started; unchanged")
        else:
            what = r.error.message if r.error else r.status
            lines.append(f"  {r.name}: {r.status}: {what}")
            if r.recovery_file:
                state = f" (apply state: {r.apply_state})" if r.apply_state else ""
                lines.append(f"    recovery file{state}: {r.recovery_file}")
                lines.append(f"    finish it with: kvctl rotate --resume {r.recovery_file}")
    if run_file is not None:
        lines.append(f"the run is recorded in {run_file}; the rest: kvctl rotate --retry-failed {run_file}")
    return lines


def relay_to(stream: IO[str]) -> Callable[[bytes], None]:
    from ..core.redaction import redact

    def relay(line: bytes) -> None:
        stream.write(redact(line.decode("utf-8", "replace")))
        stream.flush()

    return relay


def recovery_dir(opts: dict[str, Any]) -> Path | None:
    from ..core.recovery import default_dir, prepare_dir

    if opts["dry_run"]:
        return None
    given = opts["recovery_dir"]
    return prepare_dir(Path(given).expanduser() if given else default_dir(os.environ, Path.home()))


def read_value(path: str) -> str:
    from ..core.files import read_text
    from ..core.redaction import register

    text = read_text(path, "the new value", sys.stdin.buffer)
    register(text)
    if not text:
        raise UsageError(f"the new value from {'stdin' if path == '-' else path} is empty")
    return validate.secret_value(text)


_RUN_SETTINGS = (
    "generator",
    "length",
    "classes",
    "from_command",
    "apply_command",
    "hook_timeout",
    "expires_in",
    "disable_previous",
    "keep",
)


def run_settings(opts: Mapping[str, Any]) -> dict[str, Any]:
    """What a run file keeps so --retry-failed makes and applies values as the run did."""
    return {key: opts.get(key) for key in _RUN_SETTINGS}
