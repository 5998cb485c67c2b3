"""`kvctl export` and `kvctl inject` through the real CLI and SDK against the emulator: formats,
hostile values read back exactly, 0600 files, all-or-nothing failures, throttling, no leaks."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.request
import uuid

import pytest

from kvctl.core.envformat import parse_dotenv
from tests.conftest import run_kvctl
from tests.hostile_values import HOSTILE

MARKER = "MARKER-5b1d0c-never-in-stderr"


def _set_exact(kvctl, tmp_path, name: str, value: str) -> None:
    path = tmp_path / f"value-{uuid.uuid4().hex}"
    path.write_bytes(value.encode())
    assert kvctl("set", name, "--file", str(path), "--allow-empty").exit_code == 0


@pytest.fixture
def hostile(kvctl, unique, tmp_path):
    prefix = unique("hostile")
    for i, value in enumerate(HOSTILE):
        _set_exact(kvctl, tmp_path, f"{prefix}-v{i:02d}", value)
    return prefix, {f"V{i:02d}": value for i, value in enumerate(HOSTILE)}


def test_dotenv_export_of_hostile_values_reads_back_the_same_bytes(kvctl, hostile, tmp_path):
    """The shell dialect keeps every value; the portable one refuses some (tests/devenv/)."""
    prefix, expected = hostile
    path = tmp_path / "out.env"
    result = kvctl("export", "--prefix", prefix, "--file", str(path), "--dotenv-dialect", "shell")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and "wrote 18 secret(s)" in result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = path.read_bytes().decode()  # not read_text: it would turn \r\n into \n
    assert {name: value for name, value, _ in parse_dotenv(written)} == expected


def test_json_and_shell_exports_read_back_the_same_bytes(kvctl, hostile):
    prefix, expected = hostile
    assert kvctl("export", "--prefix", prefix, "--format", "json").json == expected
    shell = kvctl("export", "--prefix", prefix, "--format", "shell").stdout
    script = shell + "".join(f'printf "%s\\0" "${name}"\n' for name in expected)
    out = subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    assert out.decode().split("\0")[:-1] == list(expected.values())


def test_an_exported_file_runs_with_the_same_bytes(kvctl, hostile, tmp_path):
    prefix, expected = hostile
    path = tmp_path / "out.env"
    assert kvctl("export", "--prefix", prefix, "--file", str(path), "--format", "shell").exit_code == 0
    dump = tmp_path / "env.json"
    code = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"
    result = kvctl("run", "--env-file", str(path), "--", sys.executable, "-c", code, str(dump))
    assert result.exit_code == 0, result.stderr
    child = json.loads(dump.read_text())
    assert {name: child[name] for name in expected} == expected


def test_tags_filter_and_disabled_secrets_are_skipped(kvctl, unique):
    prefix = unique("tagged")
    assert kvctl("set", f"{prefix}-a", "--tag", "env=prod", "--value", "a").exit_code == 0
    assert kvctl("set", f"{prefix}-b", "--tag", "env=dev", "--value", "b").exit_code == 0
    assert kvctl("set", f"{prefix}-c", "--tag", "env=prod", "--disabled", "--value", "c").exit_code == 0
    assert kvctl("export", "--prefix", prefix, "--tag", "env=prod", "--format", "json").json == {"A": "a"}
    assert kvctl("export", "--prefix", prefix, "--format", "json").json == {"A": "a", "B": "b"}


def test_nothing_matched_is_empty_with_a_warning(kvctl, unique):
    result = kvctl("export", "--prefix", unique("none"))
    assert result.exit_code == 0 and result.stdout == "" and "warning: no enabled secret" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["export", "-o", "json"], "No such option"),
        (["-o", "json", "export"], "--format, not -o"),
        (["export", "--format", "yaml"], "Invalid value for '--format'"),
        (["export", "--tag", "novalue"], "invalid tag"),
        (["inject"], "Missing option '-i'"),
        (["inject", "-i", "/nonexistent.tpl"], "cannot read template"),
    ],
)
def test_usage_errors_exit_2(kvctl, args, fragment):
    result = kvctl(*args)
    assert result.exit_code == 2, result.stderr
    assert fragment in result.stderr


def test_no_vault_is_a_usage_error():
    assert run_kvctl(["export"]).exit_code == 2


# -- partial failure: an identity that may list every secret but read only some ---------------

READER = "21090545-7ca7-4776-b22c-e363652d74d2"  # Key Vault Reader: metadata only
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"  # Key Vault Secrets User: values too


def _grant(emulator, role: str, scope: str, object_id: str) -> None:
    body = {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{emulator.info['subscriptionId']}"
            f"/providers/Microsoft.Authorization/roleDefinitions/{role}",
            "principalId": object_id,
            "principalType": "ServicePrincipal",
        }
    }
    url = (
        f"{emulator.info['armEndpoint']}{scope}/providers/Microsoft.Authorization/roleAssignments/"
        f"{uuid.uuid4()}?api-version=2022-04-01"
    )
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {emulator.token()}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10, context=emulator.ssl_context()) as response:
        assert response.status in (200, 201)


def test_partial_failure_lists_every_unreadable_secret_and_writes_nothing(fresh_emulator, tmp_path):
    emulator = fresh_emulator("--identity", "partial")
    kv = lambda *args, **kw: run_kvctl(list(args), emulator=emulator, **kw)  # noqa: E731
    for name in ("p-ok-1", "p-ok-2", "p-denied-1", "p-denied-2"):
        assert kv("set", name, "--value", f"{name}-{MARKER}").exit_code == 0
    identity = emulator.identity("partial")
    vault_scope = emulator.info["vaults"][0]["resourceId"]
    _grant(emulator, READER, vault_scope, identity["objectId"])
    for name in ("p-ok-1", "p-ok-2"):
        _grant(emulator, SECRETS_USER, f"{vault_scope}/secrets/{name}", identity["objectId"])
    as_partial = ("--auth", "managed-identity", "--client-id", identity["clientId"])

    out = tmp_path / "out.env"
    out.write_text("previous content\n")
    result = kv(*as_partial, "--debug", "export", "--prefix", "p-", "--file", str(out))
    assert result.exit_code == 5, result.stderr
    assert "2 of 4 secrets could not be fetched" in result.stderr
    assert "p-denied-1" in result.stderr and "p-denied-2" in result.stderr
    assert out.read_text() == "previous content\n", "nothing written"
    assert MARKER not in result.stderr and MARKER not in result.stdout
    assert kv(*as_partial, "export", "--prefix", "p-ok", "--format", "json").json == {
        "_1": "p-ok-1-" + MARKER,
        "_2": "p-ok-2-" + MARKER,
    }


# -- throttling ------------------------------------------------------------------------------


def test_a_throttled_bulk_fetch_completes(tmp_path, monkeypatch):
    """The emulator's throttle, scaled down (40 requests a second instead of 4,000 per 10 s) so
    that one export of 60 secrets runs into it; every value must still arrive."""
    from kvctl.emulator import Emulator, EmulatorOptions, KnobSettings, knobs

    monkeypatch.setattr(knobs, "THROTTLE_WINDOW_SECONDS", 1.0)
    monkeypatch.setattr(knobs, "THROTTLE_ALL_LIMIT", 40)
    seed = tmp_path / "seed.json"
    values = {f"t-{i:02d}": f"value-{i}" for i in range(60)}
    seed.write_text(json.dumps(values))
    options = EmulatorOptions(state_dir=tmp_path / "state", seed=seed, knobs=KnobSettings(throttle=True))
    with Emulator(options) as emulator:
        result = run_kvctl(["export", "--format", "json"], env=emulator.env)
        throttled = emulator.world.knobs.counters["throttled"]
    assert result.exit_code == 0, result.stderr
    assert result.json == {name.upper().replace("-", "_"): value for name, value in values.items()}
    assert throttled > 0, "the vault did throttle"


# -- inject ----------------------------------------------------------------------------------


def test_inject_writes_a_0600_file_and_prints_to_stdout_without_o(kvctl, emulator, unique, tmp_path):
    db, api = unique("db"), unique("api")
    _set_exact(kvctl, tmp_path, db, "p@ss'word\n{{ db }}")
    _set_exact(kvctl, tmp_path, api, "key-1")
    host = emulator.vault_url.removeprefix("https://")
    template = tmp_path / "app.conf.tpl"
    template.write_text(
        f'db = "{{{{ {db} }}}}"\napi={{{{akv://{host}/{api}}}}}\nagain={{{{ {db} }}}}\n'
        'literal = {{ "{{" }} not a placeholder }}\n'
    )
    expected = "db = \"p@ss'word\n{{ db }}\"\napi=key-1\nagain=p@ss'word\n{{ db }}\n"
    expected += "literal = {{ not a placeholder }}\n"
    out = tmp_path / "app.conf"
    result = kvctl("inject", "-i", str(template), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.read_text() == expected and result.stdout == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "3 placeholder(s), 2 secret(s)" in result.stderr
    assert kvctl("inject", "-i", str(template)).stdout == expected
    assert kvctl("inject", "-i", "-", input=template.read_text()).stdout == expected


def test_inject_fails_whole_and_writes_nothing(kvctl, unique, tmp_path):
    present, gone1, gone2 = unique("here"), unique("gone"), unique("gone")
    _set_exact(kvctl, tmp_path, present, "v")
    template = tmp_path / "t.tpl"
    template.write_text(f"{{{{ {present} }}}} {{{{ {gone1} }}}}\n{{{{ {gone2} }}}}\n")
    out = tmp_path / "out"
    out.write_text("previous")
    result = kvctl("inject", "-i", str(template), "-o", str(out))
    assert result.exit_code == 3
    assert gone1 in result.stderr and gone2 in result.stderr
    assert out.read_text() == "previous"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".out.")], "no temporary file left"


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("a {{ bad_name }}\nb {{ akv:// }}", "line 1: invalid secret name 'bad_name'; line 2: invalid"),
        ("x {{ unclosed", "line 1: {{ is not closed"),
        ("{{ }}", "without a reference"),
        ("ok\npassword={{ db password }} and {{ x }}", "line 2: '{{ db password }}' is not one reference"),
    ],
)
def test_bad_templates_exit_2_naming_the_line(kvctl, tmp_path, template, fragment):
    path = tmp_path / "t.tpl"
    path.write_text(template)
    result = kvctl("inject", "-i", str(path), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and fragment in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_inject_refuses_to_overwrite_its_template(kvctl, tmp_path):
    path = tmp_path / "t.tpl"
    path.write_text("no placeholders\n")
    result = kvctl("inject", "-i", str(path), "-o", str(path))
    assert result.exit_code == 2 and path.read_text() == "no placeholders\n"


# -- values never reach stderr ---------------------------------------------------------------


def test_values_never_reach_stderr_even_with_debug(kvctl, unique, tmp_path):
    prefix = unique("leak")
    name = f"{prefix}-secret"
    _set_exact(kvctl, tmp_path, name, MARKER)
    template = tmp_path / "t.tpl"
    template.write_text(f"{{{{ {name} }}}} {{{{ {unique('missing')} }}}}\n")
    good_template = tmp_path / "good.tpl"
    good_template.write_text(f"{{{{ {name} }}}}\n")
    check = [sys.executable, "-c", f"import os, sys; sys.exit(os.environ['SECRET'] != {MARKER!r})"]
    runs = [
        kvctl("--debug", "-v", "export", "--prefix", prefix),
        kvctl("--debug", "-v", "export", "--prefix", prefix, "--file", str(tmp_path / "e")),
        kvctl("--debug", "-v", "inject", "-i", str(good_template), "-o", str(tmp_path / "i")),
        kvctl("--debug", "-v", "inject", "-i", str(template)),
        kvctl("--debug", "-v", "run", "--prefix", prefix, "--", *check, env={"SECRET": "old"}),
        kvctl("--debug", "-v", "run", "--env", f"A={name}", "--env", f"B={unique('missing')}", "--", "true"),
    ]
    assert [r.exit_code for r in runs] == [0, 0, 0, 3, 0, 3]
    for result in runs:
        assert MARKER not in result.stderr, result.stderr
    assert MARKER in runs[0].stdout and MARKER in (tmp_path / "e").read_text()
    assert MARKER in (tmp_path / "i").read_text()
