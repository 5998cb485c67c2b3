"""Running a command as kvctl's child: its exit status comes back, and signals sent to kvctl reach
it exactly once.

A terminal's Ctrl-C (or a hang-up) goes to the whole foreground process group, so the child
already has it; forwarding it again would deliver it twice, and some programs treat a second
SIGINT as "quit now". On Linux kvctl waits for signals with sigtimedwait, which says who sent
each one: those the kernel sent (si_code SI_KERNEL: the terminal) are not forwarded, those a
process sent (kill, a supervisor, a container runtime) are. Elsewhere every one is forwarded.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from types import FrameType

from .errors import UsageError

log = logging.getLogger("kvctl.run")
_SI_KERNEL = 0x80
FORWARDED: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)


def exit_status(returncode: int) -> int:
    """A shell's convention: a child killed by signal N is reported as 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def run_child(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run `argv` with exactly `env`, wait for it, and return its exit status."""
    on_main_thread = threading.current_thread() is threading.main_thread()
    holder: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if holder and holder[0].returncode is None:
            holder[0].send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED} if on_main_thread else {}
    try:
        holder.append(_start(argv, env))
        if on_main_thread and hasattr(signal, "sigtimedwait"):
            return exit_status(_wait_forwarding_once(holder[0]))
        return exit_status(holder[0].wait())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(list(argv), env=dict(env))
    except FileNotFoundError:
        raise UsageError(f"command not found: {argv[0]}", hint="check the command after --, and PATH") from None
    except PermissionError:
        raise UsageError(f"cannot run {argv[0]}: permission denied", hint="is it executable?") from None
    except OSError as exc:
        raise UsageError(f"cannot run {argv[0]}: {exc.strerror}") from None


def _wait_forwarding_once(child: subprocess.Popen[bytes]) -> int:
    # Blocked signals stay pending until sigtimedwait takes them; SIGCHLD wakes the loop at exit.
    # The child was started before blocking, so it does not inherit the mask.
    waited = {*FORWARDED, signal.SIGCHLD}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    try:
        while (code := child.poll()) is None:
            info = signal.sigtimedwait(waited, 0.5)
            if info is None or info.si_signo == signal.SIGCHLD:
                continue
            name = signal.Signals(info.si_signo).name
            if info.si_code == _SI_KERNEL:
                log.info("%s came from the terminal, which sent it to the command as well", name)
            else:
                log.info("passing %s on to the command", name)
                child.send_signal(info.si_signo)
        return code
    finally:
        # Signals that arrive once the child is gone are not kvctl's to act on.
        while signal.sigtimedwait(waited, 0) is not None:
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
