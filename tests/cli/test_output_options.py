"""-o per command: help lists what the command accepts, KVCTL_OUTPUT is checked, and every result
goes to stdout in the format asked for; -v and -vv differ."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import EmulatorProcess, run_kvctl, run_kvctl_process

FORMATS = {
    ("list",): ["table", "json", "tsv", "plain"],
    ("get",): ["plain", "json", "env", "dotenv"],
    ("show",): ["table", "json", "tsv", "plain"],
    ("versions",): ["table", "json", "tsv", "plain"],
    ("set",): ["table", "json", "tsv", "plain"],
    ("check",): ["table", "json", "sarif", "tsv", "plain"],
    ("access", "grant"): ["table", "json", "tsv", "plain"],
    ("whoami",): ["table", "json", "tsv", "plain"],
}


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    process = EmulatorProcess(tmp_path_factory.mktemp("formats"), ["--identity", "app"]).start()
    assert run_kvctl(["set", "fmt-secret", "--value", "v1"], emulator=process).exit_code == 0
    yield process
    process.stop()


@pytest.mark.parametrize("command", list(FORMATS), ids=" ".join)
def test_help_lists_only_the_formats_the_command_accepts(command):
    shown = run_kvctl([*command, "--help"])
    assert shown.exit_code == 0
    line = next(line for line in shown.stdout.splitlines() if "--output" in line)
    offered = re.search(r"\[([a-z|]+)\]", line)
    assert offered, line
    assert offered.group(1).split("|") == FORMATS[command]


def test_get_refuses_table_and_does_not_offer_it(emu):
    assert "table" not in next(line for line in run_kvctl(["get", "--help"]).stdout.splitlines() if "--output" in line)
    for args in (["get", "fmt-secret", "-o", "table"], ["-o", "table", "get", "fmt-secret"]):
        refused = run_kvctl(args, emulator=emu)
        assert refused.exit_code == 2 and refused.stdout == "", refused


@pytest.mark.parametrize("command", [["list"], ["get", "fmt-secret"], ["export"], ["access", "list"]])
def test_an_unknown_kvctl_output_is_an_error_naming_the_variable(emu, command):
    refused = run_kvctl(command, emulator=emu, env={"KVCTL_OUTPUT": "yaml"})
    assert refused.exit_code == 2, refused
    assert "KVCTL_OUTPUT=yaml" in refused.stderr and refused.stdout == ""
    assert "Traceback" not in refused.stderr


def test_a_known_kvctl_output_a_command_does_not_print_gives_way_to_its_default(emu):
    got = run_kvctl(["get", "fmt-secret"], emulator=emu, env={"KVCTL_OUTPUT": "table"})
    assert got.exit_code == 0 and got.stdout == "v1\n"
    listed = run_kvctl(["list"], emulator=emu, env={"KVCTL_OUTPUT": "plain"})
    assert "fmt-secret\n" in listed.stdout


def test_a_bad_format_stops_a_change_before_it_is_made(emu):
    app = emu.identity("app")["objectId"]
    for args in (["-o", "yaml"], ["-o", "sarif"]):
        refused = run_kvctl(
            [*args, "access", "grant", "--assignee", app, "--assignee-type", "ServicePrincipal"], emulator=emu
        )
        assert refused.exit_code == 2, refused
    listed = run_kvctl(["access", "list", "-o", "json"], emulator=emu)
    assert app not in listed.stdout, "nothing was granted"


def test_access_grant_prints_its_result_to_stdout_in_every_format(emu):
    principal = str(uuid.uuid4())
    base = ["access", "grant", "--assignee", principal, "--assignee-type", "ServicePrincipal"]
    tsv = run_kvctl([*base, "-o", "tsv"], emulator=emu)
    assert tsv.exit_code == 0, tsv.stderr
    fields = tsv.stdout.rstrip("\n").split("\t")
    assert fields[:3] == ["granted", "Key Vault Secrets User", principal], tsv.stdout
    assert "granted" not in tsv.stderr
    plain = run_kvctl([*base, "-o", "plain"], emulator=emu)
    assert plain.stdout == "already granted\n"
    table = run_kvctl([*base, "-o", "table"], emulator=emu)
    assert table.stdout.startswith("already granted: Key Vault Secrets User for " + principal)
    revoked = run_kvctl(["access", "revoke", "--assignee", principal, "-o", "tsv"], emulator=emu)
    assert revoked.stdout.split("\t")[0] == "revoked", revoked


def test_vv_adds_one_line_per_http_request_and_v_does_not(emu):
    once = run_kvctl_process(["-v", "get", "fmt-secret"], env=emu.env)
    twice = run_kvctl_process(["-vv", "get", "fmt-secret"], env=emu.env)
    assert once.returncode == twice.returncode == 0
    assert once.stdout == twice.stdout == b"v1\n"
    requests = [
        line for line in twice.stderr.decode().splitlines() if line.startswith("http: ") and "GET /secrets" in line
    ]
    assert requests, twice.stderr
    assert b"http: " not in once.stderr
    assert b"v1" not in twice.stderr and b"Bearer" not in twice.stderr and b"eyJ" not in twice.stderr


def test_help_works_whatever_kvctl_output_says():
    for args in (["--help"], ["list", "--help"], ["get", "--help"]):
        shown = run_kvctl(args, env={"KVCTL_OUTPUT": "yaml"})
        assert shown.exit_code == 0 and "Usage:" in shown.stdout, (args, shown)
