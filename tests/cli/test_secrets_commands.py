"""Every secrets command through the real CLI, with the real SDK underneath, against the emulator."""

from __future__ import annotations

import json
import os
import stat

from tests.conftest import run_kvctl

SECRET_KEYS = {"id", "name", "contentType", "tags", "managed", "kid", "attributes"}
ATTRIBUTE_KEYS = {"enabled", "created", "updated", "expires", "notBefore", "recoveryLevel", "recoverableDays"}


def test_set_from_piped_stdin_drops_one_newline_and_get_prints_value_and_newline(kvctl, unique):
    name = unique("pipe")
    result = kvctl("set", name, input="hunter2\n")
    assert result.exit_code == 0, result.stderr
    assert kvctl("get", name).stdout == "hunter2\n"
    assert kvctl("get", name, "--no-newline").stdout == "hunter2"


def test_set_from_file_is_exact(kvctl, unique, tmp_path):
    name = unique("file")
    path = tmp_path / "value.txt"
    path.write_bytes(b"line1\nline2\n")
    assert kvctl("set", name, "--file", str(path)).exit_code == 0
    assert kvctl("get", name, "-n").stdout == "line1\nline2\n"
    assert kvctl("set", name, "--file", "-", input="exact\n").exit_code == 0
    assert kvctl("get", name, "-n").stdout == "exact\n"


def test_set_with_value_warns(kvctl, unique):
    result = kvctl("set", unique("warn"), "--value", "shown-in-ps")
    assert result.exit_code == 0
    assert "warning: --value" in result.stderr
    assert "shown-in-ps" not in result.stderr


def test_set_attributes_and_json_shape(kvctl, unique):
    name = unique("attrs")
    result = kvctl(
        "set",
        name,
        "--content-type",
        "text/plain",
        "--tag",
        "env=prod",
        "--tag",
        "team=a",
        "--expires",
        "2030-01-31",
        "--not-before",
        "2020-01-01T00:00:00Z",
        "-o",
        "json",
        input="v",
    )
    assert result.exit_code == 0, result.stderr
    data = result.json
    assert set(data) == SECRET_KEYS, "set prints the record without its value"
    assert set(data["attributes"]) == ATTRIBUTE_KEYS
    assert data["contentType"] == "text/plain"
    assert data["tags"] == {"env": "prod", "team": "a"}
    assert data["attributes"]["expires"] == "2030-01-31T00:00:00+00:00"
    assert data["attributes"]["notBefore"] == "2020-01-01T00:00:00+00:00"
    fetched = kvctl("get", name, "-o", "json").json
    assert set(fetched) == SECRET_KEYS | {"value"} and fetched["value"] == "v"
    assert fetched["id"] == data["id"] and fetched["name"] == name


def test_set_disabled_then_get_is_forbidden_with_hint(kvctl, unique):
    name = unique("off")
    assert kvctl("set", name, "--disabled", input="x").exit_code == 0
    result = kvctl("get", name)
    assert result.exit_code == 5
    assert "disabled" in result.stderr


def test_get_many_formats(kvctl, unique):
    a, b = unique("multi-a"), unique("multi-b")
    kvctl("set", a, input="one")
    kvctl("set", b, input='it\'s $HOME "quoted"\nline2')
    assert kvctl("get", a, b).stdout == 'one\nit\'s $HOME "quoted"\nline2\n'
    assert [s["name"] for s in kvctl("get", a, b, "-o", "json").json] == [a, b]
    env = kvctl("get", a, b, "-o", "env").stdout
    assert env.startswith(f"export {a.upper().replace('-', '_')}=one\n")
    from kvctl.core.envformat import parse_dotenv

    # ' together with $ and " has no dotenv quoting every reader gets right: refused, by variable
    refused = kvctl("get", a, b, "-o", "dotenv")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert f"${b.upper().replace('-', '_')}" in refused.stderr and "quoted" not in refused.stderr
    c = unique("multi-c")
    kvctl("set", c, input="it's\nline2")
    dotenv = kvctl("get", a, c, "-o", "dotenv").stdout
    assert [v for _, v, _ in parse_dotenv(dotenv)] == ["one", "it's\nline2"]


def test_get_by_identifier_and_akv_reference_and_version(kvctl, emulator, unique):
    name = unique("refs")
    first = kvctl("set", name, "-o", "json", input="v1").json
    kvctl("set", name, input="v2")
    version = first["id"].rsplit("/", 1)[1]
    host = emulator.vault_url.removeprefix("https://")
    assert kvctl("get", first["id"]).stdout == "v1\n"
    assert kvctl("get", f"akv://{host}/{name}").stdout == "v2\n"
    assert kvctl("get", f"akv://{host}/{name}/{version}").stdout == "v1\n"
    assert kvctl("get", name, "--version", version).stdout == "v1\n"
    assert kvctl("get", f"akv://{host}/{name}", env={"KVCTL_VAULT": None}).exit_code == 0


def test_get_to_file_is_0600(kvctl, unique, tmp_path):
    name = unique("tofile")
    kvctl("set", name, input="filed")
    target = tmp_path / "out.env"
    target.write_text("old")
    os.chmod(target, 0o644)
    result = kvctl("get", name, "-o", "dotenv", "--file", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == f"{name.upper().replace('-', '_')}='filed'\n"


def test_list_filters_and_formats(kvctl, unique):
    prefix = unique("lst")
    kvctl("set", f"{prefix}-soon", "--expires", "5d", "--tag", "team=a", input="x")
    kvctl("set", f"{prefix}-later", "--expires", "90d", "--tag", "team=b", input="x")
    kvctl("set", f"{prefix}-off", "--disabled", input="x")
    names = kvctl("list", "--prefix", prefix, "-o", "plain").stdout.split()
    assert names == [f"{prefix}-later", f"{prefix}-soon"]
    assert kvctl("list", "--prefix", prefix, "--include-disabled", "-o", "plain").stdout.split() == [
        f"{prefix}-later",
        f"{prefix}-off",
        f"{prefix}-soon",
    ]
    assert kvctl("list", "--prefix", prefix, "--expiring-within", "30d", "-o", "plain").stdout.split() == [
        f"{prefix}-soon"
    ]
    assert kvctl("list", "--prefix", prefix, "--tag", "team=b", "-o", "plain").stdout.split() == [f"{prefix}-later"]
    listed = kvctl("list", "--prefix", prefix, "-o", "json").json
    assert all(set(item) == SECRET_KEYS for item in listed), "list items never carry a value"
    tsv = kvctl("list", "--prefix", prefix, "-o", "tsv").stdout.splitlines()
    assert tsv[0].split("\t")[0] == f"{prefix}-later" and len(tsv) == 2


def test_list_when_piped_defaults_to_json(kvctl, unique):
    prefix = unique("pipedlist")
    kvctl("set", f"{prefix}-a", input="x")
    assert json.loads(kvctl("list", "--prefix", prefix).stdout)[0]["name"] == f"{prefix}-a"


def test_show_has_no_value(kvctl, unique):
    name = unique("show")
    kvctl("set", name, "--tag", "a=b", input="hidden-value")
    result = kvctl("show", name, "-o", "json")
    assert result.exit_code == 0
    assert "value" not in result.json and "hidden-value" not in result.stdout
    assert result.json["tags"] == {"a": "b"}


def test_versions_newest_first(kvctl, unique):
    name = unique("vers")
    ids = [kvctl("set", name, "-o", "json", input=str(i)).json["id"] for i in range(3)]
    listed = kvctl("versions", name, "-o", "plain").stdout.split()
    assert listed == [i.rsplit("/", 1)[1] for i in reversed(ids)]
    assert all("value" not in v for v in kvctl("versions", name, "-o", "json").json)


def test_delete_list_deleted_recover_purge(kvctl, unique):
    name = unique("cycle")
    kvctl("set", name, input="x")
    deleted = kvctl("delete", name, "-o", "json")
    assert deleted.exit_code == 0
    assert deleted.json["recoveryId"].endswith(f"/deletedsecrets/{name}")
    assert {"recoveryId", "deletedDate", "scheduledPurgeDate"} <= set(deleted.json)
    assert f"kvctl recover {name}" in deleted.stderr
    assert name in kvctl("list", "--deleted", "-o", "plain").stdout.split()
    assert kvctl("recover", name).exit_code == 0
    assert kvctl("get", name).stdout == "x\n"
    kvctl("delete", name)
    assert kvctl("purge", name, "--yes").exit_code == 0
    assert name not in kvctl("list", "--deleted", "-o", "plain").stdout.split()


def test_purge_without_yes_in_a_pipeline_is_a_usage_error(kvctl, unique):
    name = unique("nopurge")
    kvctl("set", name, input="x")
    kvctl("delete", name)
    result = kvctl("purge", name)
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert name in kvctl("list", "--deleted", "-o", "plain").stdout.split(), "nothing was purged"


def test_backup_and_restore(kvctl, unique, tmp_path):
    name = unique("bak")
    kvctl("set", name, input="saved")
    blob = tmp_path / "b.blob"
    assert kvctl("backup", name, "--file", str(blob)).exit_code == 0
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    assert b"saved" not in blob.read_bytes()
    assert kvctl("backup", name, "--file", str(blob)).exit_code == 2, "no silent overwrite"
    kvctl("delete", name)
    kvctl("purge", name, "--yes")
    restored = kvctl("restore", "--file", str(blob), "-o", "json")
    assert restored.exit_code == 0 and restored.json["name"] == name
    assert kvctl("get", name).stdout == "saved\n"


def test_whoami_shows_claims_not_the_token(kvctl, emulator):
    result = kvctl("whoami", "-o", "json")
    assert result.exit_code == 0, result.stderr
    data = result.json
    assert data["objectId"] == emulator.identity("admin")["objectId"]
    assert data["tenantId"] == emulator.info["tenantId"]
    assert data["authMode"] == "emulator"
    assert "eyJ" not in result.stdout + result.stderr


def test_whoami_without_vault_uses_arm(kvctl, emulator):
    data = kvctl("whoami", "-o", "json", env={"KVCTL_VAULT": None}).json
    assert data["audience"].startswith("https://management.azure.com")


def test_managed_identity_with_a_named_client_id(kvctl, emulator):
    app = emulator.identity("app")
    result = kvctl("--auth", "managed-identity", "--client-id", app["clientId"], "whoami", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json["objectId"] == app["objectId"]
    assert result.json["credential"] == "ManagedIdentityCredential"


def test_global_options_work_after_the_command(kvctl, emulator, unique):
    name = unique("after")
    kvctl("set", name, input="x")
    result = kvctl("get", name, "--vault", emulator.vault_url, env={"KVCTL_VAULT": None})
    assert result.stdout == "x\n"


def test_second_vault_by_flag(kvctl, emulator, unique):
    name = unique("second")
    second = emulator.info["vaults"][1]["url"]
    assert kvctl("--vault", second, "set", name, input="two").exit_code == 0
    assert kvctl("get", name).exit_code == 3
    assert kvctl("--vault", second, "get", name).stdout == "two\n"


def test_version_and_help():
    assert run_kvctl(["--version"]).stdout.startswith("kvctl ")
    for command in (
        "list",
        "get",
        "show",
        "set",
        "versions",
        "delete",
        "recover",
        "purge",
        "backup",
        "restore",
        "whoami",
        "emulator",
        "demo",
        "completion",
    ):
        result = run_kvctl([command, "--help"])
        assert result.exit_code == 0 and "Usage: kvctl" in result.stdout, command


def test_delete_in_a_vault_without_soft_delete_asks_even_for_a_disabled_secret(fresh_emulator, tmp_path):
    import json as _json

    seed = tmp_path / "seed.json"
    seed.write_text(
        _json.dumps(
            {
                "_vaults": {
                    "legacy": {
                        "properties": {"enableSoftDelete": False},
                        "secrets": {"off": {"value": "x", "enabled": False}, "on": "y"},
                    }
                }
            }
        )
    )
    emulator = fresh_emulator("--seed", str(seed))
    legacy = next(v["url"] for v in emulator.info["vaults"] if v["name"] == "legacy")
    shown = run_kvctl(["--vault", legacy, "show", "off", "-o", "json"], emulator=emulator)
    assert shown.exit_code == 0 and shown.json["attributes"]["recoveryLevel"] == "Purgeable"
    for name in ("off", "on"):
        refused = run_kvctl(["--vault", legacy, "delete", name], emulator=emulator)
        assert refused.exit_code == 2 and "--yes" in refused.stderr, name
    assert {s["name"] for s in emulator.state("legacy")} == {"off", "on"}, "nothing was erased"
    erased = run_kvctl(["--vault", legacy, "delete", "off", "--yes"], emulator=emulator)
    assert erased.exit_code == 0 and "it is gone" in erased.stderr
