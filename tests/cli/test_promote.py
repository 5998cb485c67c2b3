"""`kvctl copy`, `kvctl diff` and `kvctl import` end to end: the real CLI and the real SDK against
one emulator serving two vaults."""

from __future__ import annotations

import json
import os
import re
import stat
import time
import uuid

import pytest

from kvctl.core.envformat import parse_dotenv
from tests.conftest import EmulatorProcess, run_kvctl, secret_client

SECRETS_USER = "Key Vault Secrets User"
SECRETS_OFFICER = "Key Vault Secrets Officer"


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    process = EmulatorProcess(
        tmp_path_factory.mktemp("promote"),
        ["--vault", "dev-kv", "--vault", "prod-kv", "--identity", "reader", "--identity", "officer"],
    ).start()
    yield process
    process.stop()


@pytest.fixture
def kv(emu, tmp_path, monkeypatch):
    """kvctl in a temporary working directory, reports going to a temporary state directory."""
    monkeypatch.chdir(tmp_path)

    def call(*args, input=None, env=None):
        return run_kvctl(
            list(args), emulator=emu, input=input, env={"XDG_STATE_HOME": str(tmp_path / "state"), **(env or {})}
        )

    return call


@pytest.fixture
def p():
    return f"p{uuid.uuid4().hex[:8]}-"


def urls(emu):
    return emu.info["vaults"][0]["url"], emu.info["vaults"][1]["url"]


def state(emu, vault, prefix):
    """name -> [values of every version, oldest first], for the secrets under prefix."""
    return {
        s["name"]: [v["value"] for v in s["versions"]]
        for s in emu.state(vault)
        if s["name"].startswith(prefix) and not s["deleted"]
    }


def put(kv, vault, name, value, *extra):
    result = kv("set", name, "--vault", vault, *extra, input=value)
    assert result.exit_code == 0, result.stderr


def test_copy_carries_value_and_attributes_and_a_rerun_writes_nothing(emu, kv, p):
    dev, prod = urls(emu)
    put(
        kv,
        dev,
        f"{p}db",
        "s3cret-db",
        "--content-type",
        "text/plain",
        "--tag",
        "env=dev",
        "--tag",
        "team=a",
        "--expires",
        "2030-01-01T00:00:00Z",
        "--not-before",
        "2025-01-01T00:00:00Z",
    )
    put(kv, dev, f"{p}api", "multi\nline\r\nvalue 'quoted' $x")
    put(kv, dev, f"{p}off", "disabled-value", "--disabled")
    put(kv, dev, f"other-{p}x", "not-selected")

    first = kv("copy", "--from", dev, "--to", prod, "--prefix", p, "-o", "json")
    assert first.exit_code == 0, first.stderr
    assert first.json["counts"] == {"created": 2}
    assert "s3cret-db" not in first.stdout + first.stderr
    assert state(emu, "prod-kv", p) == {f"{p}api": ["multi\nline\r\nvalue 'quoted' $x"], f"{p}db": ["s3cret-db"]}
    copied = kv("show", f"{p}db", "--vault", prod, "-o", "json").json
    original = kv("show", f"{p}db", "--vault", dev, "-o", "json").json
    assert copied["contentType"] == "text/plain" and copied["tags"] == {"env": "dev", "team": "a"}
    for key in ("expires", "notBefore"):
        assert copied["attributes"][key] == original["attributes"][key] is not None

    again = kv("copy", "--from", dev, "--to", prod, "--prefix", p, "-o", "json")
    assert again.exit_code == 0, again.stderr
    assert again.json["counts"] == {"skipped": 2}
    assert {s["reason"] for s in again.json["secrets"]} == {"same value and attributes"}
    assert state(emu, "prod-kv", p) == {f"{p}api": ["multi\nline\r\nvalue 'quoted' $x"], f"{p}db": ["s3cret-db"]}


def test_dry_run_says_what_and_why_and_changes_nothing(emu, kv, p):
    dev, prod = urls(emu)
    put(kv, dev, f"{p}same", "1")
    put(kv, prod, f"{p}same", "1")
    put(kv, dev, f"{p}changed", "new", "--tag", "k=v")
    put(kv, prod, f"{p}changed", "old", "--tag", "k=v")
    put(kv, dev, f"{p}tagged", "t", "--tag", "k=new")
    put(kv, prod, f"{p}tagged", "t", "--tag", "k=old")
    put(kv, dev, f"{p}new", "n")
    before = state(emu, "prod-kv", p)
    result = kv("copy", "--from", dev, "--to", prod, "--prefix", p, "--dry-run", "-o", "json")
    assert result.exit_code == 0, result.stderr
    plan = {s["name"]: (s["action"], s["reason"]) for s in result.json["secrets"]}
    assert plan == {
        f"{p}same": ("skip", "same value and attributes"),
        f"{p}changed": ("update", "differs: value"),
        f"{p}tagged": ("update", "differs: tags"),
        f"{p}new": ("create", "not in the destination"),
    }
    assert state(emu, "prod-kv", p) == before
    done = kv("copy", "--from", dev, "--to", prod, "--prefix", p, "-o", "json")
    assert done.json["counts"] == {"skipped": 1, "updated": 2, "created": 1}
    assert state(emu, "prod-kv", p)[f"{p}changed"] == ["old", "new"]


def test_names_and_tags_select(emu, kv, p):
    dev, prod = urls(emu)
    put(kv, dev, f"{p}a", "1", "--tag", "promote=yes")
    put(kv, dev, f"{p}b", "2")
    put(kv, dev, f"{p}c", "3", "--tag", "promote=yes")
    by_name = kv("copy", "--from", dev, "--to", prod, f"{p}b", "-o", "json")
    assert by_name.exit_code == 0, by_name.stderr
    by_tag = kv("copy", "--from", dev, "--to", prod, "--prefix", p, "--tag", "promote=yes", "-o", "json")
    assert by_tag.exit_code == 0, by_tag.stderr
    assert sorted(state(emu, "prod-kv", p)) == [f"{p}a", f"{p}b", f"{p}c"]
    assert [s["name"] for s in by_tag.json["secrets"]] == [f"{p}a", f"{p}c"]


def test_all_versions_copies_enabled_history_oldest_first_and_continues(emu, kv, p, monkeypatch):
    dev, prod = urls(emu)
    for value in ("v1", "v2", "v3", "v4"):
        put(kv, dev, f"{p}h", value)
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu.info["identityEndpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emu.info["identityHeader"])
    client = secret_client(emu, dev)
    v3 = next(
        v
        for v in client.list_properties_of_secret_versions(f"{p}h")
        if client.get_secret(f"{p}h", v.version).value == "v3"
    )
    client.update_secret_properties(f"{p}h", v3.version, enabled=False)
    put(kv, prod, f"{p}h", "v1")  # the destination already has the oldest
    result = kv("copy", "--from", dev, "--to", prod, f"{p}h", "--all-versions", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json["secrets"][0]["reason"] == "has 1 of 3 versions"
    assert state(emu, "prod-kv", p)[f"{p}h"] == ["v1", "v2", "v4"], "disabled versions are not copied"
    again = kv("copy", "--from", dev, "--to", prod, f"{p}h", "--all-versions", "-o", "json")
    assert again.json["counts"] == {"skipped": 1}
    assert state(emu, "prod-kv", p)[f"{p}h"] == ["v1", "v2", "v4"]


def test_rename_prefix(emu, kv, p):
    dev, prod = urls(emu)
    put(kv, dev, f"{p}dev-db", "x")
    result = kv(
        "copy",
        "--from",
        dev,
        "--to",
        prod,
        "--prefix",
        f"{p}dev-",
        "--rename-prefix",
        f"{p}dev-={p}prod-",
        "-o",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    assert result.json["secrets"][0] | {"versions": None} == {
        "source": f"{p}dev-db",
        "name": f"{p}prod-db",
        "action": "create",
        "reason": "not in the destination",
        "status": "created",
        "versions": None,
        "error": None,
    }
    assert state(emu, "prod-kv", p) == {f"{p}prod-db": ["x"]}
    assert kv(
        "copy",
        "--from",
        dev,
        "--to",
        prod,
        "--prefix",
        f"{p}dev-",
        "--rename-prefix",
        f"{p}dev-={p}prod-",
        "-o",
        "json",
    ).json["counts"] == {"skipped": 1}
    within = kv("copy", "--from", dev, "--to", dev, "--prefix", f"{p}dev-", "--rename-prefix", f"{p}dev-={p}copy-")
    assert within.exit_code == 0, within.stderr
    assert state(emu, "dev-kv", f"{p}copy-") == {f"{p}copy-db": ["x"]}


def test_deleted_destination_names(emu, kv, p):
    dev, prod = urls(emu)
    for name in ("gone", "fine"):
        put(kv, dev, f"{p}{name}", f"new-{name}")
    put(kv, prod, f"{p}gone", "old")
    assert kv("delete", f"{p}gone", "--vault", prod).exit_code == 0

    refused = kv("copy", "--from", dev, "--to", prod, "--prefix", p)
    assert refused.exit_code == 6, refused.stderr
    assert f"{p}gone" in refused.stderr and "deleted but recoverable" in refused.stderr
    assert "--recover-deleted" in refused.stderr and "Traceback" not in refused.stderr
    assert state(emu, "prod-kv", p) == {}, "nothing is written when a name is blocked"

    unconfirmed = kv("copy", "--from", dev, "--to", prod, "--prefix", p, "--purge-deleted")
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.stderr
    assert state(emu, "prod-kv", p) == {}

    recovered = kv("copy", "--from", dev, "--to", prod, "--prefix", p, "--recover-deleted", "-o", "json")
    assert recovered.exit_code == 0, recovered.stderr
    assert state(emu, "prod-kv", p) == {f"{p}gone": ["old", "new-gone"], f"{p}fine": ["new-fine"]}

    assert kv("delete", f"{p}fine", "--vault", prod).exit_code == 0
    purged = kv("copy", "--from", dev, "--to", prod, "--prefix", p, "--purge-deleted", "--yes", "-o", "json")
    assert purged.exit_code == 0, purged.stderr
    assert state(emu, "prod-kv", p)[f"{p}fine"] == ["new-fine"], "purged: the old history is gone"


def test_cross_credential_copy(emu, kv, p):
    """`reader` may only read dev; `officer` may only write prod. Neither can copy alone."""
    dev, prod = urls(emu)
    reader, officer = emu.identity("reader"), emu.identity("officer")
    for vault, who, role in ((dev, reader, SECRETS_USER), (prod, officer, SECRETS_OFFICER)):
        granted = kv(
            "access",
            "grant",
            "--vault",
            vault,
            "--assignee",
            who["objectId"],
            "--assignee-type",
            "ServicePrincipal",
            "--role",
            role,
        )
        assert granted.exit_code == 0, granted.stderr
    put(kv, dev, f"{p}x", "cross")
    as_reader = ["--client-id", reader["clientId"]]
    alone = kv("copy", "--from", dev, "--to", prod, f"{p}x", *as_reader)
    assert alone.exit_code == 5, alone.stderr
    assert state(emu, "prod-kv", p) == {}
    result = kv(
        "copy", "--from", dev, "--to", prod, f"{p}x", *as_reader, "--to-client-id", officer["clientId"], "-o", "json"
    )
    assert result.exit_code == 0, result.stderr
    assert state(emu, "prod-kv", p) == {f"{p}x": ["cross"]}
    via_mode = kv(
        "copy",
        "--from",
        dev,
        "--to",
        prod,
        f"{p}x",
        "--auth",
        "managed-identity",
        *as_reader,
        "--to-auth",
        "emulator",
        "--to-client-id",
        officer["clientId"],
        "-o",
        "json",
    )
    assert via_mode.exit_code == 0, via_mode.stderr
    assert via_mode.json["counts"] == {"skipped": 1}


def test_a_failed_write_leaves_a_report_and_a_rerun_continues(emu, kv, p, tmp_path):
    dev, prod = urls(emu)
    who = emu.control("POST", "identities", {"name": f"partial-{p}"})
    put(kv, dev, f"{p}a", "value-aaaa")
    put(kv, dev, f"{p}b", "value-bbbb")
    put(kv, prod, f"{p}a", "old-aaaa")
    grants = [("--role", SECRETS_USER), ("--role", SECRETS_OFFICER, "--secret", f"{p}a")]
    for extra in grants:
        r = kv(
            "access",
            "grant",
            "--vault",
            prod,
            "--assignee",
            who["objectId"],
            "--assignee-type",
            "ServicePrincipal",
            *extra,
        )
        assert r.exit_code == 0, r.stderr
    report = tmp_path / "report.json"
    failed = kv(
        "copy",
        "--from",
        dev,
        "--to",
        prod,
        f"{p}a",
        f"{p}b",
        "--to-client-id",
        who["clientId"],
        "--report",
        str(report),
        "-o",
        "json",
    )
    assert failed.exit_code == 5, failed.stderr
    assert str(report) in failed.stderr and "run the same command again" in failed.stderr
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    text = report.read_text()
    assert "value-" not in text and "old-aaaa" not in text
    data = json.loads(text)
    assert {s["name"]: s["status"] for s in data["secrets"]} == {f"{p}a": "updated", f"{p}b": "failed"}
    assert state(emu, "prod-kv", p) == {f"{p}a": ["old-aaaa", "value-aaaa"]}

    r = kv(
        "access",
        "grant",
        "--vault",
        prod,
        "--assignee",
        who["objectId"],
        "--assignee-type",
        "ServicePrincipal",
        "--role",
        SECRETS_OFFICER,
    )
    assert r.exit_code == 0
    rerun = kv("copy", "--from", dev, "--to", prod, f"{p}a", f"{p}b", "--to-client-id", who["clientId"], "-o", "json")
    assert rerun.exit_code == 0, rerun.stderr
    assert rerun.json["counts"] == {"skipped": 1, "created": 1}
    assert state(emu, "prod-kv", p) == {f"{p}a": ["old-aaaa", "value-aaaa"], f"{p}b": ["value-bbbb"]}


def test_a_failure_report_defaults_to_the_state_directory(emu, kv, p, tmp_path):
    dev, prod = urls(emu)
    put(kv, dev, f"{p}a", "v")
    nobody = emu.control("POST", "identities", {"name": f"nobody-{p}"})
    r = kv(
        "access",
        "grant",
        "--vault",
        prod,
        "--assignee",
        nobody["objectId"],
        "--assignee-type",
        "ServicePrincipal",
        "--role",
        SECRETS_USER,
    )
    assert r.exit_code == 0
    failed = kv("copy", "--from", dev, "--to", prod, f"{p}a", "--to-client-id", nobody["clientId"])
    assert failed.exit_code == 5
    reports = list((tmp_path / "state" / "kvctl" / "reports").glob("copy-*.json"))
    assert len(reports) == 1 and str(reports[0]) in failed.stderr
    assert stat.S_IMODE(reports[0].parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--to", "X"], "--from"),
        (["--from", "dev-kv", "--to", "dev-kv"], "same vault"),
        (["--from", "dev-kv", "--to", "prod-kv", "--recover-deleted", "--purge-deleted"], "not both"),
        (["--from", "dev-kv", "--to", "prod-kv", "bad_name"], "invalid secret name"),
        (["--from", "dev-kv", "--to", "prod-kv", "--rename-prefix", "nope"], "OLD=NEW"),
        (["--from", "dev-kv", "--to", "prod-kv", "--prefix", "a b"], "invalid --prefix"),
        (["--from", "http://127.0.0.1:1", "--to", "prod-kv"], "https"),
    ],
)
def test_copy_usage_errors_exit_2_before_any_request(kv, args, fragment):
    result = kv("copy", *args)
    assert result.exit_code == 2, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_diff_exit_codes_json_and_values_only_when_asked(emu, kv, p):
    dev, prod = urls(emu)
    put(kv, dev, f"{p}same", "same-value")
    put(kv, prod, f"{p}same", "same-value")
    equal = kv("diff", dev, prod, "--prefix", p, "-o", "json")
    assert equal.exit_code == 0, equal.stderr
    assert equal.json == {"a": dev, "b": prod, "equal": True, "onlyInA": [], "onlyInB": [], "different": [], "same": 1}

    put(kv, dev, f"{p}value", "value-in-dev")
    put(kv, prod, f"{p}value", "value-in-prod")
    put(kv, dev, f"{p}ctype", "c", "--content-type", "text/plain")
    put(kv, prod, f"{p}ctype", "c")
    put(kv, dev, f"{p}dev-only", "d")
    put(kv, prod, f"{p}prod-only", "q")
    differ = kv("diff", dev, prod, "--prefix", p, "-o", "json")
    assert differ.exit_code == 1, differ.stderr
    assert differ.json["onlyInA"] == [f"{p}dev-only"] and differ.json["onlyInB"] == [f"{p}prod-only"]
    assert differ.json["different"] == [
        {"name": f"{p}ctype", "differences": ["content type"]},
        {"name": f"{p}value", "differences": ["value"]},
    ]
    everything = differ.stdout + differ.stderr
    for table in ("table", "tsv", "plain"):
        everything += kv("diff", dev, prod, "--prefix", p, "-o", table).stdout
    assert "value-in-" not in everything and "same-value" not in everything

    shown = kv("diff", dev, prod, "--prefix", p, "--show-values", "-o", "json")
    assert shown.exit_code == 1
    entry = next(d for d in shown.json["different"] if d["name"] == f"{p}value")
    assert (entry["valueA"], entry["valueB"]) == ("value-in-dev", "value-in-prod")

    missing = kv("diff", dev, "https://127.0.0.1:1", "--prefix", p)
    assert missing.exit_code == 7 and "Traceback" not in missing.stderr


def test_diff_against_an_exported_file(emu, kv, p, tmp_path):
    dev, _ = urls(emu)
    put(kv, dev, f"{p}db-password", "pa ss'\nword")
    put(kv, dev, f"{p}api-key", "k")
    exported = tmp_path / "app.env"
    assert kv("export", "--vault", dev, "--prefix", p, "--file", str(exported)).exit_code == 0
    assert kv("diff", dev, str(exported), "--prefix", p).exit_code == 0

    values = {name: value for name, value, _ in parse_dotenv(exported.read_text())}
    values["API_KEY"] = "changed"
    values["EXTRA"] = "e"
    as_json = tmp_path / "app.json"
    as_json.write_text(json.dumps(values))
    result = kv("diff", dev, str(as_json), "--prefix", p, "-o", "json")
    assert result.exit_code == 1, result.stderr
    assert result.json["different"] == [{"name": f"{p}api-key", "differences": ["value"]}]
    assert result.json["onlyInB"] == [f"{p}extra"] and result.json["b"] == str(as_json)


def test_import_dotenv_and_json_idempotent(emu, kv, p, tmp_path):
    dev, _ = urls(emu)
    env_file = tmp_path / ".env"
    env_file.write_text("# app\nDB_PASSWORD='hunter2-long'\nexport API_KEY=\"a\\nb\"\nPLAIN=x y\n")
    first = kv("import", str(env_file), "--vault", dev, "--prefix", p.rstrip("-"), "-o", "json")
    assert first.exit_code == 0, first.stderr
    assert first.json["counts"] == {"created": 3}
    assert "hunter2-long" not in first.stdout + first.stderr
    assert state(emu, "dev-kv", p) == {
        f"{p}db-password": ["hunter2-long"],
        f"{p}api-key": ["a\nb"],
        f"{p}plain": ["x y"],
    }
    again = kv("import", str(env_file), "--vault", dev, "--prefix", p, "-o", "json")
    assert again.exit_code == 0 and again.json["counts"] == {"skipped": 3}

    exported = kv("export", "--vault", dev, "--prefix", p, "--format", "json").json
    assert exported == {"DB_PASSWORD": "hunter2-long", "API_KEY": "a\nb", "PLAIN": "x y"}

    json_file = tmp_path / "vars.json"
    json_file.write_text(json.dumps({"DB_PASSWORD": "rotated-pw", "API_KEY": "a\nb", "NEW_ONE": "n"}))
    updated = kv("import", str(json_file), "--vault", dev, "--prefix", p, "-o", "json")
    assert updated.exit_code == 0, updated.stderr
    assert {s["name"]: s["status"] for s in updated.json["secrets"]} == {
        f"{p}db-password": "updated",
        f"{p}api-key": "skipped",
        f"{p}new-one": "created",
    }
    assert state(emu, "dev-kv", p)[f"{p}db-password"] == ["hunter2-long", "rotated-pw"]
    from_stdin = kv(
        "import", "-", "--vault", dev, "--prefix", p, "--format", "json", "-o", "json", input=json_file.read_text()
    )
    assert from_stdin.json["counts"] == {"skipped": 3}


def test_import_keeps_tags_and_content_type_and_name_map(emu, kv, p, tmp_path):
    dev, _ = urls(emu)
    put(kv, dev, f"{p}token", "old", "--tag", "owner=me", "--content-type", "text/plain")
    src = tmp_path / "x.env"
    src.write_text("SOME_TOKEN=new-token\n")
    result = kv("import", str(src), "--vault", dev, "--name-map", f"SOME_TOKEN={p}token", "-o", "json")
    assert result.exit_code == 0, result.stderr
    shown = kv("show", f"{p}token", "--vault", dev, "-o", "json").json
    assert shown["tags"] == {"owner": "me"} and shown["contentType"] == "text/plain"
    assert state(emu, "dev-kv", p)[f"{p}token"] == ["old", "new-token"]


@pytest.mark.parametrize(
    ("content", "args", "fragment"),
    [
        ("DB_PASSWORD=a\ndb_password=b\n", [], "same secret name"),
        ("A=\n", [], "--allow-empty"),
        ("not a line\n", [], "NAME=VALUE"),
        ('{"A": 1}', ["--format", "json"], "not a string"),
        ("A=1\n", ["--name-map", "B=x"], "does not have"),
        ("A=" + "x" * 26000 + "\n", [], "25 KiB"),
    ],
)
def test_import_refuses_bad_input_before_writing(emu, kv, p, tmp_path, content, args, fragment):
    dev, _ = urls(emu)
    path = tmp_path / "in.env"
    path.write_text(content)
    result = kv("import", str(path), "--vault", dev, "--prefix", p, *args)
    assert result.exit_code == 2, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert state(emu, "dev-kv", p) == {}


def test_import_into_a_deleted_name_is_a_conflict(emu, kv, p, tmp_path):
    dev, _ = urls(emu)
    put(kv, dev, f"{p}x", "old")
    assert kv("delete", f"{p}x", "--vault", dev).exit_code == 0
    path = tmp_path / "in.env"
    path.write_text("X=new\n")
    result = kv("import", str(path), "--vault", dev, "--prefix", p)
    assert result.exit_code == 6 and "deleted but recoverable" in result.stderr


def test_reports_and_files_stay_out_of_the_working_directory(emu, kv, p, tmp_path):
    dev, prod = urls(emu)
    put(kv, dev, f"{p}a", "v")
    before = set(os.listdir(tmp_path))
    assert kv("copy", "--from", dev, "--to", prod, "--prefix", p).exit_code == 0
    assert set(os.listdir(tmp_path)) == before


def test_diff_with_a_missing_file_is_a_usage_error(emu, kv):
    dev, _ = urls(emu)
    result = kv("diff", dev, "missing.env")
    assert result.exit_code == 2 and "no such file" in result.stderr


def _supports_lifecycle_delay() -> bool:
    from kvctl.cli.cmd_emulator import emulator

    return any("--lifecycle-delay" in p.opts for p in emulator.params)


@pytest.mark.slow
@pytest.mark.skipif(not _supports_lifecycle_delay(), reason="the emulator has no --lifecycle-delay yet")
def test_recover_and_purge_wait_out_the_services_delay(fresh_emulator, tmp_path, monkeypatch):
    """As in Azure, a recovered name is unreadable, and a purged one still listed, for a while:
    copy waits until it can write, rather than failing or writing too early."""
    emulator = fresh_emulator("--vault", "dev-kv", "--vault", "prod-kv", "--lifecycle-delay", "3")
    monkeypatch.chdir(tmp_path)
    dev, prod = urls(emulator)

    def kv(*args, input=None):
        return run_kvctl(list(args), emulator=emulator, input=input, env={"XDG_STATE_HOME": str(tmp_path)})

    for name in ("r", "q"):
        assert kv("set", name, "--vault", dev, input=f"new-{name}").exit_code == 0
        assert kv("set", name, "--vault", prod, input=f"old-{name}").exit_code == 0
        assert kv("delete", name, "--vault", prod).exit_code == 0
    for _ in range(100):  # the deletes become visible after the delay
        listed = kv("list", "--deleted", "--vault", prod, "-o", "json")
        if listed.exit_code == 0 and {s["name"] for s in listed.json} == {"r", "q"}:
            break
        time.sleep(0.2)
    recovered = kv("copy", "--from", dev, "--to", prod, "r", "--recover-deleted", "-o", "json")
    assert recovered.exit_code == 0, recovered.stderr
    assert state(emulator, "prod-kv", "r") == {"r": ["old-r", "new-r"]}
    purged = kv("copy", "--from", dev, "--to", prod, "q", "--purge-deleted", "--yes", "-o", "json")
    assert purged.exit_code == 0, purged.stderr
    assert state(emulator, "prod-kv", "q") == {"q": ["new-q"]}


def test_progress_on_a_terminal_shows_the_totals(emu, p, tmp_path):
    """Through a real kvctl process whose stderr is a terminal (a pty): the bar counts N/N."""
    import pty
    import subprocess
    import sys

    dev, prod = urls(emu)
    seed_env = {**os.environ, **emu.env, "XDG_STATE_HOME": str(tmp_path)}
    seed_env.pop("KVCTL_NO_PROGRESS", None)
    for i in range(12):
        assert run_kvctl(["set", f"{p}{i}", "--vault", dev], emulator=emu, input=f"v{i}").exit_code == 0
    # Slow enough that the bar shows (it appears only on waits over half a second).
    emu.knobs(latencyMs=700)
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "kvctl", "copy", "--from", dev, "--to", prod, "--prefix", p, "-o", "json"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**seed_env, "TERM": "xterm", "COLUMNS": "100"},
        cwd=tmp_path,
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out, _ = process.communicate()
    os.close(master)
    emu.knobs(latencyMs=0)
    assert process.returncode == 0, seen.decode(errors="replace")[-800:]
    assert json.loads(out)["counts"] == {"created": 12}
    text = seen.decode(errors="replace")
    assert "copying 12 version(s)" in text and re.search(r"\b\d+/12\b", text)
