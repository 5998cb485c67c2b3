"""Running a command as kvctl's child, as an exec wrapper would: the child's exit status comes
back, signals sent to kvctl reach it exactly once, and the child cannot outlive kvctl.

- A terminal's Ctrl-C (or a hang-up) goes to the whole foreground process group, so the child
  already has it; forwarding it again would deliver it twice, and some programs treat a second
  SIGINT as "quit now". On Linux kvctl waits for signals with sigtimedwait, which says who sent
  each one: those the kernel sent (si_code SI_KERNEL: the terminal) are not forwarded, those a
  process sent (kill, a supervisor, a container runtime) are. Elsewhere every one is forwarded.
- A signal that kvctl's own parent made it ignore (`nohup` ignores SIGHUP, `cmd &` in a script
  ignores SIGINT and SIGQUIT) stays ignored: kvctl installs no handler for it, does not forward
  it, and the child inherits it ignored, as it would without kvctl in between.
- A child killed by signal N makes kvctl die by N too (default disposition, no core file), so a
  shell loop around `kvctl run` stops on Ctrl-C as it would around the command itself.
- On Linux the child asks the kernel to SIGKILL it when kvctl dies (PR_SET_PDEATHSIG), so a
  SIGKILLed kvctl leaves no orphan. If kvctl died between fork and that request, the child
  notices that its parent changed and kills itself before exec.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

from .errors import UsageError

log = logging.getLogger("kvctl.run")
_SI_KERNEL = 0x80
_PR_SET_PDEATHSIG = 1
FORWARDED: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
# Signals whose default action does not end a process: a child "killed" by one cannot happen,
# and re-raising one would not end kvctl.
_NOT_FATAL = {getattr(signal, n) for n in ("SIGCHLD", "SIGCONT", "SIGURG", "SIGWINCH") if hasattr(signal, n)}
_die_by: int | None = None


def exit_status(returncode: int) -> int:
    """A shell's convention: a child killed by signal N is reported as 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def ignored_signals() -> set[signal.Signals]:
    """The forwardable signals that this process inherited as ignored."""
    return {sig for sig in FORWARDED if signal.getsignal(sig) == signal.SIG_IGN}


def run_child(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run `argv` with exactly `env`, wait for it, and return its exit status (128+N if signal N
    killed it; `die_like_child` then ends kvctl by the same signal)."""
    global _die_by
    on_main_thread = threading.current_thread() is threading.main_thread()
    handled = [sig for sig in FORWARDED if sig not in ignored_signals()]
    holder: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if holder and holder[0].returncode is None:
            holder[0].send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in handled} if on_main_thread else {}
    try:
        holder.append(_start(argv, env))
        if on_main_thread and hasattr(signal, "sigtimedwait"):
            code = _wait_forwarding_once(holder[0], handled)
        else:
            code = holder[0].wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _die_by = -code if code < 0 and -code not in _NOT_FATAL else None
    return exit_status(code)


def note_interrupted() -> None:
    """Ctrl-C came before the command started: kvctl ends by SIGINT as well (`die_like_child`),
    so that a shell loop around it stops there too."""
    global _die_by
    _die_by = int(signal.SIGINT)


def die_like_child(status: int) -> None:
    """If the last child of `run_child` was killed by a signal (or `note_interrupted` was called)
    and `status` is what was reported for it, end this process by that signal (default action,
    no core file). Returns otherwise."""
    signum = _die_by
    if signum is None or status != 128 + signum:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:  # SIGKILL's disposition cannot be changed, nor need it be
        signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), signum)


def _start(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(list(argv), env=dict(env), preexec_fn=_parent_death_guard())
    except FileNotFoundError:
        raise UsageError(f"command not found: {argv[0]}", hint="check the command after --, and PATH") from None
    except PermissionError:
        raise UsageError(f"cannot run {argv[0]}: permission denied", hint="is it executable?") from None
    except subprocess.SubprocessError as exc:  # the guard failed in the child: refuse rather than orphan
        raise UsageError(f"cannot run {argv[0]}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot run {argv[0]}: {exc.strerror}") from None


def _parent_death_guard() -> Callable[[], None] | None:
    """A function for the child between fork and exec that makes the kernel SIGKILL it when kvctl
    dies (Linux). Everything it needs is looked up here, in the parent, so the child only makes
    two system calls."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        # The symbols already loaded into this process (libc's among them): ctypes.util.find_library
        # would run `ldconfig -p` (and more) to find libc's file, ~30 ms of CPU in every `run`.
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        try:
            import ctypes.util

            prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
        except (OSError, AttributeError):
            log.info("no prctl: the command may outlive kvctl if kvctl is killed")
            return None
    parent = os.getpid()
    kill_sig = int(signal.SIGKILL)

    def guard() -> None:
        prctl(_PR_SET_PDEATHSIG, kill_sig, 0, 0, 0)
        if os.getppid() != parent:  # kvctl died before the request took effect
            os.kill(os.getpid(), kill_sig)

    return guard


def _wait_forwarding_once(child: subprocess.Popen[bytes], handled: Sequence[signal.Signals]) -> int:
    # Blocked signals stay pending until sigtimedwait takes them; SIGCHLD wakes the loop at exit.
    # The child was started before blocking, so it does not inherit the mask. Ignored signals are
    # neither blocked nor waited for: they stay ignored.
    waited = {*handled, signal.SIGCHLD}
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
