"""`kvctl audit` and `access who --unused` through real kvctl processes against the emulator, whose
Log Analytics endpoint answers the KQL kvctl builds over the AuditEvent rows the vault recorded.

Three identities (and the admin) make a scripted sequence of reads and writes with the real Azure
SDK (ManagedIdentityCredential with each one's client id): the audit must show exactly those
events, in order, with the right callers, operations, secrets, versions and results."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import shlex
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from tests.conftest import EmulatorProcess, Result, run_kvctl_subprocess, secret_client

ROLES = {
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
    "Key Vault Contributor": "f25e0fa2-a7c8-4377-a976-54943a77a395",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}
EVENT_KEYS = [
    "time",
    "operation",
    "operationName",
    "secret",
    "version",
    "status",
    "result",
    "succeeded",
    "callerName",
    "callerObjectId",
    "callerAppId",
    "callerUpn",
    "clientAddress",
    "correlationId",
]


def assign(emu: EmulatorProcess, scope: str, role: str, principal: str) -> None:
    """A role assignment made by the admin through ARM (setup, as an administrator would with az)."""
    body = {
        "properties": {
            "roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{ROLES[role]}",
            "principalId": principal,
        }
    }
    request = urllib.request.Request(
        f"{emu.info['armEndpoint']}{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        "?api-version=2022-04-01",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {emu.token()}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10, context=emu.ssl_context()):
        pass


@dataclass
class Script:
    emu: EmulatorProcess
    expected: list[tuple[str, str, str | None, str | None, int]] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    boundary: float = 0.0  # between part A and part B of the sequence (epoch seconds)
    part_b: int = 0  # how many expected events part B made

    def who(self, name: str) -> dict[str, str]:
        return self.emu.identity(name)

    def kvctl(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        return run_kvctl_subprocess(list(args), emulator=self.emu, env=env)


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Script]:
    emu = EmulatorProcess(
        tmp_path_factory.mktemp("audit"),
        [
            "--audit-logs",
            *("--identity", "alice", "--identity", "bob", "--identity", "carol"),
            *("--identity", "outsider", "--identity", "kvcontrib", "--identity", "lister"),
        ],
    ).start()
    run = Script(emu)
    vault = emu.info["vaults"][0]["resourceId"]
    with _sdk_identity(emu):
        clients = {name: secret_client(emu, client_id=run.who(name)["clientId"]) for name in ("admin", "alice", "bob")}
        value = lambda: f"value-{uuid.uuid4().hex}"  # noqa: E731
        v1, k1, v2 = value(), value(), value()
        run.values = [v1, k1, v2]
        db1 = clients["admin"].set_secret("db", v1).properties.version
        api1 = clients["admin"].set_secret("api", k1).properties.version
        run.versions = {"db1": db1, "api1": api1}
        admin, alice, bob = (run.who(n)["objectId"] for n in ("admin", "alice", "bob"))
        run.expected += [("set", admin, "db", db1, 200), ("set", admin, "api", api1, 200)]
        # Role assignments are ARM requests: not in the vault's AuditEvent log.
        assign(emu, f"{vault}/secrets/db", "Key Vault Secrets User", alice)
        assign(emu, vault, "Key Vault Secrets Officer", bob)
        assign(emu, vault, "Key Vault Secrets User", run.who("carol")["objectId"])  # can read, never does
        assign(emu, vault, "Reader", run.who("outsider")["objectId"])
        assign(emu, vault, "Key Vault Contributor", run.who("kvcontrib")["objectId"])
        assign(emu, vault, "Reader", run.who("lister")["objectId"])
        assign(emu, vault, "Key Vault Reader", run.who("lister")["objectId"])  # names only, no values
        assert clients["alice"].get_secret("db").value == v1
        run.expected.append(("get", alice, "db", db1, 200))
        with pytest.raises(HttpResponseError) as refused:
            clients["alice"].get_secret("api")
        assert refused.value.status_code == 403
        run.expected.append(("get", alice, "api", None, 403))
        db2 = clients["bob"].set_secret("db", v2).properties.version
        run.versions["db2"] = db2
        run.expected.append(("set", bob, "db", db2, 200))
        assert clients["bob"].get_secret("db", db1).value == v1
        run.expected.append(("get", bob, "db", db1, 200))
        assert sorted(p.name for p in clients["bob"].list_properties_of_secrets()) == ["api", "db"]
        run.expected.append(("list", bob, None, None, 200))
        assert clients["admin"].get_secret("api").value == k1
        run.expected.append(("get", admin, "api", api1, 200))
        # 6 s either side of the boundary: a window starting up to 3 s before it (plus the
        # command's start-up time, up to about 9 s on a loaded machine) holds part B and nothing of part A.
        time.sleep(6)
        run.boundary = time.time()
        time.sleep(6)
        assert clients["alice"].get_secret("db").value == v2
        run.expected.append(("get", alice, "db", db2, 200))
        run.part_b = 1
        for client in clients.values():
            client.close()
    yield run
    emu.stop()


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str, str | None, str | None, int]]:
    return [(e["operation"], e["callerObjectId"], e["secret"], e["version"], e["status"]) for e in events]


def no_values(run: Script, result: Result) -> None:
    for value in run.values:
        assert value not in result.stdout and value not in result.stderr


def test_audit_shows_exactly_the_scripted_events_in_order(script):
    result = script.kvctl("audit", "-o", "json")
    assert result.exit_code == 0, result.stderr
    events = result.json
    assert summary(events) == script.expected
    assert [list(e) for e in events] == [EVENT_KEYS] * len(events)  # the JSON shape, pinned
    times = [e["time"] for e in events]
    assert times == sorted(times) and all(t.endswith("Z") for t in times)
    names = {script.who(n)["objectId"]: n for n in ("admin", "alice", "bob")}
    for event in events:
        assert event["callerName"] == names[event["callerObjectId"]]
        assert event["callerAppId"] == script.who(names[event["callerObjectId"]])["clientId"]
        assert event["succeeded"] is (event["status"] == 200)
        assert event["result"] == ("OK" if event["status"] == 200 else "Forbidden")
        assert event["clientAddress"] == "127.0.0.1"
    assert {e["operationName"] for e in events} == {"SecretSet", "SecretGet", "SecretList"}
    no_values(script, result)


def test_the_table_says_its_times_are_utc_and_shows_no_value(script):
    result = script.kvctl("audit", "-o", "table", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0]
    assert "Time (UTC)" in header and "Caller" in header and "Operation" in header
    table = result.stdout.split("\n\n")[0].splitlines()  # then a footer of what every row shares
    assert len(table) == 1 + len(script.expected)
    times = [e["time"] for e in script.kvctl("audit", "-o", "json").json]
    assert [line[:19] for line in table[1:]] == [t[:19].replace("T", " ") for t in times]  # to the second
    no_values(script, result)


def test_tsv_has_each_events_whole_time_and_the_table_columns(script):
    events = script.kvctl("audit", "-o", "json").json
    result = script.kvctl("audit", "-o", "tsv")
    assert result.exit_code == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [r[0] for r in rows] == [e["time"] for e in events]
    assert [(r[2], r[3], r[6]) for r in rows] == [
        (e["operation"], e["secret"] or "", e["callerObjectId"]) for e in events
    ]
    assert all(len(r) == 9 for r in rows)


@pytest.mark.parametrize("form", ["clientId", "objectId", "name"])
def test_caller_filter_by_client_id_object_id_or_name(script, form):
    alice = script.who("alice")
    given = "alice" if form == "name" else alice[form]
    result = script.kvctl("audit", "--caller", given, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert summary(result.json) == [e for e in script.expected if e[1] == alice["objectId"]]


def test_operation_filter_takes_commas_or_repeats(script):
    sets = script.kvctl("audit", "--operation", "set", "-o", "json")
    assert summary(sets.json) == [e for e in script.expected if e[0] == "set"]
    both = script.kvctl("audit", "--operation", "get,list", "-o", "json")
    again = script.kvctl("audit", "--operation", "get", "--operation", "list", "-o", "json")
    assert summary(both.json) == summary(again.json) == [e for e in script.expected if e[0] in ("get", "list")]


def test_ref_narrows_to_a_secret_and_to_a_version(script):
    db = script.kvctl("audit", "db", "-o", "json")
    assert db.exit_code == 0, db.stderr
    assert summary(db.json) == [e for e in script.expected if e[2] == "db"]
    host = script.emu.vault_url.removeprefix("https://")
    first = script.versions["db1"]
    one = script.kvctl("audit", f"akv://{host}/db/{first}", "-o", "json")
    assert summary(one.json) == [e for e in script.expected if e[2] == "db" and e[3] == first]
    assert len(one.json) == 3  # set by admin, read by alice, read by bob


def window_from(script: Script) -> int:
    """Whole seconds back to about three seconds before the boundary, counted from now."""
    return math.ceil(time.time() - script.boundary + 3)


def test_since_asks_the_service_for_the_window_only(script):
    since = window_from(script)
    result = script.kvctl("audit", "--since", f"{since}s", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert summary(result.json) == script.expected[-script.part_b :]


def test_a_caller_with_kql_metacharacters_matches_nothing_and_changes_nothing(script):
    hostile = 'x" or 1==1 //@evil.example'
    result = script.kvctl("audit", "--caller", hostile, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json == []
    assert "matching it as the logged user principal name" in result.stderr
    name = script.kvctl("audit", "--caller", "x' or 1 eq 1 or displayName eq 'y", "-o", "json")
    assert name.exit_code == 3 and name.stdout == "" and "Traceback" not in name.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "0d"], "--since 0d: the window must be longer than zero"),
        (["--since", "731d"], "730"),
        (["--since", "soon"], "invalid duration"),
        (["--operation", "get,read"], "unknown operation 'read'"),
        (["--caller", "a\nb"], "invalid assignee"),
        (["not a name!"], "invalid"),
    ],
)
def test_bad_input_is_refused_before_any_request(script, args, message):
    before = script.emu.control("GET", "state")["counters"]["logQueries"]
    result = script.kvctl("audit", *args)
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("kvctl: error:") and message in result.stderr and "Traceback" not in result.stderr
    assert script.emu.control("GET", "state")["counters"]["logQueries"] == before


def test_unused_marks_exactly_the_identity_that_can_read_but_never_did(script):
    result = script.kvctl("access", "who", "--unused", "90d", "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows = result.json
    unused = [r for r in rows if r["unused"]]
    carol = script.who("carol")["objectId"]
    assert [r["principalId"] for r in unused] == [carol]
    assert unused[0]["lastRead"] is None and unused[0]["unusedSince"].endswith("Z")
    assert unused[0]["revoke"] == (
        f"kvctl access revoke --assignee {carol} --role 'Key Vault Secrets User' --vault {script.emu.vault_url}"
    )
    used = {r["principalId"]: r for r in rows if r["unused"] is False}
    for name in ("alice", "bob", "admin"):
        assert used[script.who(name)["objectId"]]["lastRead"].endswith("Z")
    assert all(r["unused"] is None and r["lastRead"] is None for r in rows if not r["readValues"])
    no_values(script, result)


def test_unused_for_one_secret_never_revokes_a_vault_grant_that_serves_other_reads(script):
    """bob reads db through a vault-wide grant and never api: revoking that grant because api went
    unread would cut bob off from db (found by a new user). A grant at the vault or above counts as
    used when any of the vault's secrets was read; carol never read anything."""
    result = script.kvctl("access", "who", "api", "--unused", "90d", "-o", "json")
    assert result.exit_code == 0, result.stderr
    unused = {r["principalId"] for r in result.json if r["unused"]}
    assert unused == {script.who("carol")["objectId"]}
    bob = next(r for r in result.json if r["principalId"] == script.who("bob")["objectId"] and r["readValues"])
    assert bob["unused"] is False and bob["revoke"] is None and bob["lastRead"].endswith("Z")


def test_the_revoke_command_works_and_then_carol_is_gone(script):
    line = next(r["revoke"] for r in script.kvctl("access", "who", "--unused", "90d", "-o", "json").json if r["unused"])
    argv = shlex.split(line)
    assert argv[:3] == ["kvctl", "access", "revoke"]
    done = script.kvctl(*argv[1:], "-o", "json")
    assert done.exit_code == 0, done.stderr
    after = script.kvctl("access", "who", "--unused", "90d", "-o", "json")
    assert [r for r in after.json if r["unused"]] == []
    assert script.who("carol")["objectId"] not in {r["principalId"] for r in after.json}


def test_no_right_to_read_the_workspace_is_exit_5_naming_log_analytics_reader(script):
    outsider = script.who("outsider")["clientId"]
    for args in (["audit"], ["access", "who", "--unused", "30d"]):
        result = script.kvctl(*args, "--auth", "managed-identity", "--client-id", outsider)
        assert result.exit_code == 5, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("kvctl: error: forbidden")
        assert "'Log Analytics Reader' on workspace /subscriptions/" in lines[1]
        assert result.stdout == "" and "Traceback" not in result.stderr


def test_no_right_to_read_diagnostic_settings_is_exit_5_naming_reader(script):
    contributor = script.who("kvcontrib")["clientId"]
    result = script.kvctl("audit", "--auth", "managed-identity", "--client-id", contributor)
    assert result.exit_code == 5, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "diagnostic settings of vault" in lines[0]
    assert "'Reader' or 'Monitoring Reader'" in lines[1] and "Traceback" not in result.stderr


# -- logging off, and the service's row limit -------------------------------------------------------


def test_logging_off_is_exit_3_with_the_command_that_turns_it_on(emulator):
    vault_id = emulator.info["vaults"][0]["resourceId"]
    for args in (["audit"], ["access", "who", "--unused", "90d"]):
        result = run_kvctl_subprocess(args, emulator=emulator)
        assert result.exit_code == 3 and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("kvctl: error: audit logging to Log Analytics is off")
        assert lines[1] == (
            f"hint: turn it on with: az monitor diagnostic-settings create --name kvctl-audit --resource {vault_id} "
            '--workspace WORKSPACE_ID --logs \'[{"categoryGroup":"audit","enabled":true}]\''
        )


def _reads(emu: EmulatorProcess, count: int, pause: float, threads: int = 1) -> None:
    with _sdk_identity(emu), secret_client(emu) as client:
        client.set_secret("s", "value-not-shown")
        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda _: client.get_secret("s"), range(count)))
        for _ in range(count if threads == 1 else 0):
            client.get_secret("s")
            time.sleep(pause)


def test_a_truncated_answer_is_split_until_complete(fresh_emulator):
    emu = fresh_emulator("--audit-logs", "--log-query-row-limit", "2")
    _reads(emu, 5, 0.6)  # never more than 2 events in any 1.2 s
    result = run_kvctl_subprocess(["audit", "-o", "json"], emulator=emu)
    assert result.exit_code == 0, result.stderr
    assert [e["operation"] for e in result.json] == ["set"] + ["get"] * 5
    assert script_queries(emu) > 1  # it took more than one query
    assert "incomplete" not in result.stderr


def script_queries(emu: EmulatorProcess) -> int:
    return int(emu.control("GET", "state")["counters"]["logQueries"])


def test_an_answer_still_truncated_at_one_second_is_printed_and_exit_7(fresh_emulator):
    emu = fresh_emulator("--audit-logs", "--log-query-row-limit", "1")
    # 20 reads at once: whatever the machine's load, some 0.6 s holds two of them (one row allowed).
    _reads(emu, 20, 0, threads=4)
    result = run_kvctl_subprocess(["audit", "-o", "json"], emulator=emu)
    assert result.exit_code == 7, result.stderr
    got = result.json  # what came is still a whole JSON document
    assert 1 <= len(got) < 21
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("kvctl: error: the answer is incomplete: Log Analytics cut")
    assert "record count limit" in lines[0] and "Traceback" not in result.stderr


# -- check: KV015 (secrets nobody read) and KV022 (the log could not be read) --------------------------


def test_check_reports_the_secret_nobody_read_in_the_window(script):
    window = window_from(script)  # part B read db; nobody read api since
    result = script.kvctl("check", "--unread-for", f"{window}s", "-o", "json")
    assert result.exit_code == 10, result.stderr  # purge protection is off in the emulator's vault (KV002)
    kv015 = [f for f in result.json if f["id"] == "KV015"]
    assert [f["resource"].rsplit("/", 1)[-1] for f in kv015] == ["api"]
    assert kv015[0]["severity"] == "WARN" and kv015[0]["remedy"].startswith("kvctl audit api --vault ")
    assert "KV022" not in {f["id"] for f in result.json}
    everything = script.kvctl("check", "--unread-for", "90d", "-o", "json")
    assert "KV015" not in {f["id"] for f in everything.json}, "both secrets are younger than 90 days"


def test_check_says_reads_were_not_checked_when_the_workspace_may_not_be_queried(script):
    lister = script.who("lister")["clientId"]  # reads the vault and its secrets' names, not the workspace
    result = script.kvctl("check", "--auth", "managed-identity", "--client-id", lister, "-o", "json")
    assert result.exit_code in (0, 10), result.stderr
    ids = {f["id"] for f in result.json}
    assert "KV022" in ids and "KV015" not in ids
    kv022 = next(f for f in result.json if f["id"] == "KV022")
    assert kv022["severity"] == "INFO" and "Log Analytics Reader" in kv022["remedy"]


def test_check_refuses_a_bad_unread_window_before_any_request(script):
    result = script.kvctl("check", "--unread-for", "0d")
    assert result.exit_code == 2 and "--unread-for 0d" in result.stderr and "Traceback" not in result.stderr


def test_a_logged_path_with_terminal_escapes_cannot_forge_or_hide_an_audit_row(fresh_emulator):
    """Found by an attacker: anyone whose token reaches the vault can make it log a request path
    holding ESC sequences (here: erase the line, draw a fake successful read by the admin, then
    hide the rest). kvctl prints log text in tables and TSV with control characters escaped."""
    from urllib.parse import quote

    from tests.emulator.test_wire import raw

    emu = fresh_emulator("--audit-logs", "--identity", "nobody")
    forged = "\x1b[2K\x1b[1G2026-12-01 21:20:59  admin  get  db-password  200 OK\x1b[8m"
    token = emu.token("https://vault.azure.net", identity="nobody")
    status, _, _ = raw(emu, "GET", f"/secrets/{quote(forged, safe='')}?api-version=7.5", token=token)
    assert status in (400, 403, 404)
    for fmt in ("table", "tsv"):
        result = run_kvctl_subprocess(["audit", "--since", "1h", "-o", fmt], emulator=emu, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.stderr
        assert "\x1b" not in result.stdout and "\\x1b[2K" in result.stdout, result.stdout
    as_json = run_kvctl_subprocess(["audit", "--since", "1h", "-o", "json"], emulator=emu)
    assert any("\x1b" in (e["secret"] or "") for e in as_json.json), "JSON keeps the logged text exactly"


def test_a_log_younger_than_the_window_says_so_and_marks_unused_only_since_it_began(script):
    """Found by a new user: the log began minutes ago, yet `--unused 90d` said "unused since" 90 days
    back and `check` called a secret unread for 90 days. Both now go by the log's first event."""
    result = script.kvctl("access", "who", "--unused", "90d", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert "begins at" in result.stderr and "inside the window" in result.stderr
    since = {dt.datetime.fromisoformat(r["unusedSince"]) for r in result.json if r["unused"]}
    assert all(dt.datetime.now(dt.UTC) - s < dt.timedelta(hours=1) for s in since), since
    checked = script.kvctl("check", "--unread-for", "90d", "-o", "json")
    assert not [f for f in checked.json if f["id"] == "KV015"], "no secret is unread for 90 days of a young log"
    assert any(f["id"] == "KV022" and "begins at" in f["message"] for f in checked.json)


@contextlib.contextmanager
def _sdk_identity(emu: EmulatorProcess) -> Iterator[None]:
    """The SDK's ManagedIdentityCredential finds the emulator through the environment: set it for
    the block, then put back what was there."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IDENTITY_ENDPOINT", emu.info["identityEndpoint"])
        patch.setenv("IDENTITY_HEADER", emu.info["identityHeader"])
        yield
