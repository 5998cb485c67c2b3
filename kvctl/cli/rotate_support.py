"""`kvctl rotate`'s option rules and the collaborators it hands the core: checked before any request."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..core import validate
from ..core.errors import UsageError

if TYPE_CHECKING:
    from ..core.backend import BackendFactory
    from ..core.rotation import Rotator, ValueSource

_VALUE_OPTIONS = ("generator", "length", "classes", "value_file", "from_command")
_BULK_OPTIONS = ("prefix", "tags")


def _flag(name: str) -> str:
    return "--" + {"tags": "tag", "resume_file": "resume"}.get(name, name).replace("_", "-")


def _given(opts: Mapping[str, Any], names: tuple[str, ...]) -> list[str]:
    return [_flag(n) for n in names if opts.get(n) not in (None, False, ())]


def check_options(refs: tuple[str, ...], opts: Mapping[str, Any]) -> None:
    """Combinations that make no sense are refused with one line, before anything is sent."""
    if opts["resume_file"]:
        clash = _given(opts, ("due_within", *_BULK_OPTIONS, *_VALUE_OPTIONS, "apply_command", "expires_in", "dry_run"))
        if refs or clash:
            raise UsageError(
                f"--resume finishes a saved rotation; it takes no {', '.join(clash) or 'REF'}",
                hint="the recovery file holds the secret, the value and its properties",
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


def rotator_for(
    factory: BackendFactory, relay: Callable[[bytes], None], env: dict[str, str], recovery_dir: Path | None
) -> Rotator:
    from ..core.hooks import ShellRunner
    from ..core.rotation import Rotator

    return Rotator(factory, ShellRunner(relay), env, lambda: dt.datetime.now(dt.UTC), recovery_dir)


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
