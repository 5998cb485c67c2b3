"""What only a terminal shows: tables and colour (and NO_COLOR), the hidden prompt for `set`."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

from tests.conftest import _ISOLATED_ENV

COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-7]m|\x1b\[[0-9;]*38;")


def in_terminal(args: list[str], env: dict[str, str], answers: list[str] = (), timeout: float = 60) -> tuple[int, str]:
    """Run kvctl with a pseudo-terminal as stdin, stdout and stderr; type `answers` at prompts."""
    primary, secondary = pty.openpty()
    base = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    process = subprocess.Popen(
        [sys.executable, "-m", "kvctl", *args],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**base, "TERM": "xterm-256color", "COLUMNS": "160", **env},
        close_fds=True,
    )
    os.close(secondary)
    output = b""
    pending = list(answers)
    answered = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            fresh = output[answered:].strip()
            if pending and fresh.endswith(b":"):  # a prompt shown since the last answer
                time.sleep(0.2)  # getpass flushes typed-ahead input when it sets up the terminal
                os.write(primary, pending.pop(0).encode() + b"\n")
                answered = len(output)
        elif process.poll() is not None:
            break
    process.wait(timeout=10)
    os.close(primary)
    return process.returncode, output.decode("utf-8", "replace")


def test_hidden_prompt_and_table_on_a_terminal(emulator, unique, kvctl):
    name = unique("tty")
    code, shown = in_terminal(["set", name], emulator.env, answers=["typed-secret", "typed-secret"])
    assert code == 0, shown
    assert "typed-secret" not in shown, "the prompt does not echo the value"
    assert kvctl("get", name).stdout == "typed-secret\n"
    code, table = in_terminal(["list", "--prefix", name], emulator.env)
    assert code == 0 and "Name" in table and "Enabled" in table and not table.lstrip().startswith("[")


def test_colour_on_a_terminal_and_none_with_no_color(fresh_emulator, tmp_path):
    import json

    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"old": {"value": "v", "expires": "-1d"}}))
    emulator = fresh_emulator("--seed", str(seed))
    _, coloured = in_terminal(["check"], emulator.env)
    assert COLOUR.search(coloured), coloured
    _, plain = in_terminal(["check"], {**emulator.env, "NO_COLOR": "1"})
    assert "KV010" in plain and not COLOUR.search(plain)
