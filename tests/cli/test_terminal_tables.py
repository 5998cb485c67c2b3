"""Tables as a user sees them: the real `kvctl` on a pseudo-terminal 40, 80 and 120 columns wide.

Whatever the width, every identifier a user must copy (secret names, version ids, role GUIDs,
principal ids, `check` remedies) appears whole on one line; kvctl's own bookkeeping tags are not
shown; times say their zone and never wrap.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.cli.pty_helpers import run_in_terminal, unbroken
from tests.conftest import EmulatorProcess, run_kvctl

WIDTHS = (40, 80, 120)
LONG_NAME = "payments-service-production-database-connection-string-primary"
NAMES = [
    "myapp-db-password",
    "myapp-db-password-replica",
    "myapp-api-key",
    "myapp-smtp-password",
    LONG_NAME,
    "x",
]


def _seed() -> dict:
    seed: dict = {}
    for i, name in enumerate(NAMES):
        seed[name] = {
            "value": f"value-{i}",
            "contentType": "text/plain" if i % 2 else "application/json",
            "tags": {"team": f"team-{i}", "owner": "platform engineering", "kvctl-rotation-id": f"r{i:031d}"},
            "expires": f"{30 + i * 40}d",
        }
    seed["_vaults"] = {"policies": {"properties": {"enableRbacAuthorization": False}, "secrets": {}}}
    return seed


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tables")
    seed = directory / "seed.json"
    seed.write_text(json.dumps(_seed()))
    process = EmulatorProcess(directory / "state", ["--seed", str(seed), "--identity", "app"]).start()
    for value in ("second", "third"):  # three versions of one secret
        assert run_kvctl(["set", "myapp-api-key", "--value", value], emulator=process).exit_code == 0
    yield process
    process.stop()


def _json(emu: EmulatorProcess, *args: str):
    result = run_kvctl([*args, "-o", "json"], emulator=emu)
    assert result.exit_code in (0, 10), result.stderr
    return result.json


@pytest.mark.parametrize("columns", WIDTHS)
def test_list_keeps_every_name_whole_hides_bookkeeping_tags_and_labels_times(emu, columns):
    shown = run_in_terminal(["list"], emu.env, columns=columns)
    assert shown.code == 0, shown.text
    for name in NAMES:
        assert unbroken(shown, name), f"{name} is cut or wrapped at {columns} columns:\n{shown.text}"
    assert "kvctl-rotation-id" not in shown.text
    assert "(UTC)" in shown.text
    expiring = [s for s in _json(emu, "list") if s["attributes"]["expires"]]
    assert len(expiring) >= 5
    for secret in expiring:
        expires = dt.datetime.fromisoformat(secret["attributes"]["expires"]).strftime("%Y-%m-%d %H:%M")
        assert unbroken(shown, expires), f"{expires} wrapped at {columns} columns:\n{shown.text}"
    if columns >= 80:
        assert shown.lines[0].startswith("Name"), "a table, not one block per secret"


def test_tsv_and_json_keep_the_bookkeeping_tags(emu):
    secrets = _json(emu, "list")
    assert sum("kvctl-rotation-id" in s["tags"] for s in secrets) >= 5
    tsv = run_kvctl(["list", "-o", "tsv"], emulator=emu)
    assert "kvctl-rotation-id=" in tsv.stdout


def test_local_time_converts_and_says_so(emu):
    shown = run_in_terminal(["list", "--local-time"], {**emu.env, "TZ": "Asia/Kolkata"}, columns=120)
    assert shown.code == 0, shown.text
    assert "(IST)" in shown.text and "(UTC)" not in shown.text
    for secret in [s for s in _json(emu, "list") if s["attributes"]["expires"]]:
        utc = dt.datetime.fromisoformat(secret["attributes"]["expires"])
        local = (utc + dt.timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M")
        assert unbroken(shown, local), shown.text


def test_a_column_that_is_the_same_on_every_row_is_left_out_and_named_once(emu):
    shown = run_in_terminal(["list", "--prefix", "myapp-db"], emu.env, columns=120)
    header = shown.lines[0]
    assert "Enabled" not in header, "every secret is enabled: the column says nothing"
    assert "Enabled: true" in shown.text, "the footer says what every row has"


@pytest.mark.parametrize("columns", WIDTHS)
def test_versions_keep_every_version_id_whole(emu, columns):
    shown = run_in_terminal(["versions", "myapp-api-key"], emu.env, columns=columns)
    assert shown.code == 0, shown.text
    versions = [v["id"].rsplit("/", 1)[-1] for v in _json(emu, "versions", "myapp-api-key")]
    assert len(versions) == 3
    for version in versions:
        assert re.fullmatch(r"[0-9a-f]{32}", version)
        assert unbroken(shown, version), f"{version} cut at {columns} columns:\n{shown.text}"


@pytest.mark.parametrize("columns", WIDTHS)
def test_roles_keep_names_and_guids_whole(emu, columns):
    shown = run_in_terminal(["access", "roles"], emu.env, columns=columns)
    assert shown.code == 0, shown.text
    for role in _json(emu, "access", "roles"):
        assert unbroken(shown, role["name"]), f"{role['name']} at {columns}:\n{shown.text}"
        assert unbroken(shown, role["id"]), f"{role['id']} at {columns}:\n{shown.text}"


@pytest.mark.parametrize("columns", WIDTHS)
def test_access_list_keeps_principal_ids_whole(emu, columns):
    shown = run_in_terminal(["access", "list"], emu.env, columns=columns)
    assert shown.code == 0, shown.text
    entries = _json(emu, "access", "list")
    assert entries
    for entry in entries:
        assert unbroken(shown, entry["principalId"]), f"at {columns}:\n{shown.text}"


@pytest.mark.parametrize("columns", WIDTHS)
def test_check_prints_each_remedy_whole_below_the_table(emu, columns):
    shown = run_in_terminal(["check", "--expiring-within", "400d"], emu.env, columns=columns)
    assert shown.code == 10, shown.text
    findings = _json(emu, "check", "--expiring-within", "400d")
    assert len(findings) >= len(NAMES)
    table_end = shown.text.index("To fix")
    for finding in findings:
        assert finding["id"] in shown.text[:table_end]
        assert any(line == finding["remedy"] for line in shown.lines[shown.lines.index(shown.lines[0]) :]), (
            f"remedy not on a line of its own at {columns}: {finding['remedy']}\n{shown.text}"
        )


def test_check_remedies_paste_into_a_shell(emu, tmp_path):
    """Pasted as they are, the remedies are valid shell (each line parses; no stray parentheses)."""
    import subprocess

    findings = _json(emu, "check", "--expiring-within", "400d")
    script = tmp_path / "fixes.sh"
    script.write_text("".join(f"{f['remedy']}\n" for f in findings))
    parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr


@pytest.mark.parametrize("columns", WIDTHS)
def test_show_keeps_the_identifier_whole_and_hides_bookkeeping_tags(emu, columns):
    shown = run_in_terminal(["show", LONG_NAME], emu.env, columns=columns)
    assert shown.code == 0, shown.text
    secret = _json(emu, "show", LONG_NAME)
    assert unbroken(shown, secret["id"])
    assert "team=team-4" in shown.text and "kvctl-rotation-id" not in shown.text
    assert "(UTC)" in shown.text
