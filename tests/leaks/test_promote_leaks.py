"""copy, diff and import under `--debug -v`, failure paths included: a marker value appears only
where asked for (diff --show-values' stdout), never on stderr, in a report, or in a file kvctl
wrote that is not 0600."""

from __future__ import annotations

import stat
import uuid

import pytest

from tests.conftest import run_kvctl

pytestmark = pytest.mark.leaks

MARKER = f"LEAKMARK{uuid.uuid4().hex}"


def test_copy_diff_import_keep_values_to_themselves(fresh_emulator, tmp_path, monkeypatch):
    emulator = fresh_emulator("--vault", "dev-kv", "--vault", "prod-kv", "--identity", "weak")
    dev, prod = (v["url"] for v in emulator.info["vaults"])
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"

    def kvctl(*args, input=None, allowed_stdout=False):
        result = run_kvctl(
            ["--debug", "-v", *args],
            emulator=emulator,
            input=input,
            env={"XDG_STATE_HOME": str(state), "KVCTL_RETRIES": "1"},
        )
        assert MARKER not in result.stderr, (args, result.stderr[-800:])
        assert allowed_stdout or MARKER not in result.stdout, args
        assert "eyJ" not in result.stderr
        return result

    multi = f"{MARKER}\nsecond line {MARKER}"
    assert kvctl("set", "app-one", "--vault", dev, input=MARKER).exit_code == 0
    assert kvctl("set", "app-two", "--vault", dev, "--file", "-", input=multi).exit_code == 0
    assert kvctl("copy", "--from", dev, "--to", prod, "--prefix", "app-", "--dry-run").exit_code == 0
    assert kvctl("copy", "--from", dev, "--to", prod, "--prefix", "app-").exit_code == 0
    assert kvctl("set", "app-one", "--vault", prod, input=MARKER + "x").exit_code == 0
    for fmt in ("json", "table", "tsv", "plain"):
        assert kvctl("diff", dev, prod, "-o", fmt).exit_code == 1
    shown = kvctl("diff", dev, prod, "--show-values", "-o", "json", allowed_stdout=True)
    assert MARKER in shown.stdout

    env_file = tmp_path / "in.env"
    env_file.write_text(f"NEW_ONE='{MARKER}'\n")
    assert kvctl("import", str(env_file), "--vault", dev, "--prefix", "imp").exit_code == 0
    assert kvctl("import", str(env_file), "--vault", dev, "--prefix", "imp", "--dry-run").exit_code == 0
    assert kvctl("diff", dev, str(env_file), "--prefix", "imp").exit_code == 0

    # failure paths: a forbidden destination (report), a deleted name, bad input
    weak = emulator.identity("weak")
    granted = kvctl(
        "access", "grant", "--vault", prod, "--assignee", weak["objectId"], "--assignee-type", "ServicePrincipal"
    )
    assert granted.exit_code == 0
    assert kvctl("set", "app-three", "--vault", dev, input=MARKER).exit_code == 0
    denied = kvctl("copy", "--from", dev, "--to", prod, "--prefix", "app-", "--to-client-id", weak["clientId"])
    assert denied.exit_code == 5
    assert kvctl("delete", "app-one", "--vault", prod).exit_code == 0
    assert kvctl("copy", "--from", dev, "--to", prod, "--prefix", "app-").exit_code == 6
    env_file.write_text(f"A='{MARKER}'\na='{MARKER}'\n")
    assert kvctl("import", str(env_file), "--vault", dev).exit_code == 2

    reports = list(state.rglob("*.json"))
    assert len(reports) == 1
    for path in reports:
        assert MARKER not in path.read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
