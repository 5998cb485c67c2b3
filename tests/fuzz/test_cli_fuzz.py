"""Hypothesis-generated command lines against the real CLI (in-process) and a real emulator.

For every command line: no traceback without --debug, an exit code from the documented set (and
never 1, "unexpected"), and on invalid input (exit 2) nothing written: neither the vault nor a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EmulatorProcess, run_kvctl

pytestmark = pytest.mark.fuzz

DOCUMENTED = {0, 2, 3, 4, 5, 6, 7, 10}
EXISTING = ["alpha", "beta-2", "gamma"]

garbage = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=0, max_size=30)
names = st.one_of(
    st.sampled_from(EXISTING),
    st.from_regex(r"[a-zA-Z0-9-]{1,20}", fullmatch=True),
    garbage,
    st.just("a" * 128),
    st.just("bad_name"),
    st.just("-dash"),
)
versions = st.one_of(st.from_regex(r"[0-9a-f]{32}", fullmatch=True), garbage)
durations = st.one_of(
    st.from_regex(r"[0-9]{1,3}[smhdwy]", fullmatch=True), garbage, st.just("99999y"), st.just("0d"), st.just("-1d")
)
dates = st.one_of(durations, st.dates().map(str), st.just("2030-01-01T00:00:00Z"), garbage)
tags = st.one_of(
    st.from_regex(r"[a-z]{1,5}=[a-z]{0,5}", fullmatch=True), garbage, st.just("=x"), st.just("k" * 600 + "=v")
)
formats = st.sampled_from(["table", "json", "tsv", "plain", "env", "dotenv", "sarif", "yaml", ""])
refs = st.one_of(
    names,
    st.builds(lambda n: f"akv://127.0.0.1:1/{n}", names),
    st.builds(lambda n, v: f"https://example.vault.azure.net/secrets/{n}/{v}", names, versions),
    st.just("akv://"),
    st.just("https://evil.example.com/secrets/a"),
    st.just("http://x.vault.azure.net/secrets/a"),
    # hosts that URL parsers read differently (userinfo, fragment, escapes) and bad ports
    st.builds(
        lambda a, d, b: f"akv://{a}{d}{b}.vault.azure.net/x",
        st.from_regex(r"[a-z0-9.:-]{1,12}", fullmatch=True),
        st.sampled_from("@/\\#?% "),
        st.from_regex(r"[a-z0-9.-]{0,12}", fullmatch=True),
    ),
    st.builds(lambda port: f"akv://127.0.0.1:{port}/x", st.one_of(st.integers(-5, 99999).map(str), garbage)),
)
FILE_KINDS = ("missing", "text", "binary", "directory", "new", "structured")
template_text = st.lists(
    st.one_of(
        garbage,
        st.just("{{"),
        st.just("}}"),
        st.builds(lambda r: f"{{{{ {r} }}}}", refs),
        st.just('{{ "{{" }}'),
        st.just("\n"),
    ),
    max_size=8,
).map("".join)
env_keys = st.from_regex(r"[A-Z_]{1,6}", fullmatch=True)
env_file_text = st.lists(
    st.one_of(
        st.builds(lambda k, r: f"{k}={r}", env_keys, refs),
        st.builds(lambda k, v: f"{k}='{v}'", env_keys, garbage),
        garbage,
        st.just("export X=akv://127.0.0.1:1/a"),
        st.just("# comment"),
        st.just('Q="unterminated'),
    ),
    max_size=6,
).map("\n".join)


def _option(flag: str, value) -> st.SearchStrategy:
    return st.lists(st.tuples(st.just(flag), value), max_size=2).map(lambda pairs: [x for p in pairs for x in p])


def _flags(*flags: str) -> st.SearchStrategy:
    return st.lists(st.sampled_from(flags), max_size=len(flags), unique=True)


@st.composite
def command_lines(draw) -> tuple[list[str], str | None, bool]:
    """(argv, the kind of file named by the {FILE} placeholder, whether stdin has bytes)."""
    command = draw(
        st.sampled_from(
            [
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
                "check",
                "whoami",
                "access",
                "completion",
                "garbage",
                "run",
                "export",
                "inject",
                "rotate",
            ]
        )
    )
    argv: list[str] = []
    if command == "list":
        argv = [
            "list",
            *draw(_option("--prefix", garbage)),
            *draw(_option("--tag", tags)),
            *draw(_option("--expiring-within", durations)),
            *draw(_flags("--deleted", "--include-disabled")),
        ]
    elif command == "get":
        argv = [
            "get",
            *draw(st.lists(refs, min_size=0, max_size=3)),
            *draw(_option("--version", versions)),
            *draw(_flags("--no-newline")),
            *draw(st.sampled_from([[], ["--file", "{FILE}"]])),
        ]
    elif command in ("show", "versions", "recover"):
        argv = [command, draw(refs)]
    elif command in ("delete", "purge"):
        argv = [command, draw(names), *draw(_flags("--yes"))]
    elif command == "set":
        argv = [
            "set",
            draw(names),
            *draw(st.sampled_from([[], ["--file", "{FILE}"], ["--value", "v"], ["--file", "-"]])),
            *draw(_option("--tag", tags)),
            *draw(_option("--expires", dates)),
            *draw(_option("--not-before", dates)),
            *draw(_option("--content-type", garbage)),
            *draw(_flags("--disabled")),
        ]
    elif command == "backup":
        argv = ["backup", draw(names), "--file", "{FILE}", *draw(_flags("--force"))]
    elif command == "restore":
        argv = ["restore", "--file", "{FILE}"]
    elif command == "check":
        argv = [
            "check",
            *draw(_flags("--all")),
            *draw(_option("--fail-on", garbage)),
            *draw(_option("--expiring-within", durations)),
            *draw(_option("--max-age", durations)),
            *draw(st.sampled_from([[], ["--retention", "90"], ["--retention", "3"]])),
        ]
    elif command == "access":
        sub = draw(st.sampled_from(["grant", "revoke", "list", "roles", "bogus"]))
        argv = ["access", sub]
        if sub in ("grant", "revoke"):
            argv += [
                "--assignee",
                draw(st.one_of(st.uuids().map(str), garbage)),
                *draw(_option("--role", garbage)),
                *draw(_option("--secret", names)),
                "--wait-for-principal" if sub == "grant" else "--role",
                "1s" if sub == "grant" else "Key Vault Reader",
            ]
    elif command == "completion":
        argv = ["completion", draw(st.one_of(st.sampled_from(["bash", "zsh", "fish"]), garbage))]
    elif command == "whoami":
        argv = ["whoami"]
    elif command == "export":
        argv = [
            "export",
            *draw(_option("--prefix", garbage)),
            *draw(_option("--tag", tags)),
            *draw(_option("--format", st.one_of(st.sampled_from(["dotenv", "json", "shell"]), garbage))),
            *draw(st.sampled_from([[], ["--file", "{OUT}"]])),
        ]
    elif command == "inject":
        argv = ["inject", "-i", draw(st.sampled_from(["{FILE}", "-"])), *draw(st.sampled_from([[], ["-o", "{OUT}"]]))]
    elif command == "run":
        argv = [
            "run",
            *draw(st.sampled_from([[], ["--env-file", "{FILE}"]])),
            *draw(_option("--env", st.builds(lambda k, r: f"{k}={r}", st.one_of(st.just("A"), garbage), refs))),
            *draw(_option("--prefix", garbage)),
            *draw(_flags("--pristine")),
            "--",
            "true",
        ]
    elif command == "rotate":
        generators = st.one_of(st.sampled_from(["password", "base64", "hex", "uuid"]), garbage)
        argv = [
            "rotate",
            *draw(st.lists(refs, max_size=2)),
            *draw(_option("--generator", generators)),
            *draw(_option("--length", st.one_of(st.integers(-5, 5000).map(str), garbage))),
            *draw(_option("--classes", st.one_of(st.just("lower,digits"), garbage))),
            *draw(_option("--expires-in", durations)),
            *draw(_option("--due-within", durations)),
            *draw(st.sampled_from([[], ["--value-file", "{FILE}"], ["--apply-command", "true"]])),
            *draw(_flags("--dry-run", "--disable-previous")),
        ]
    else:
        argv = draw(st.lists(garbage, min_size=1, max_size=4))
    argv += draw(st.one_of(st.just([]), st.tuples(st.just("-o"), formats).map(list)))
    kind = draw(st.sampled_from(FILE_KINDS))
    text = draw(template_text if command == "inject" else env_file_text) if kind == "structured" else ""
    return argv, (kind, text), draw(st.booleans())


@pytest.fixture(scope="module")
def fuzz_emulator(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fuzz")
    seed = directory / "seed.json"
    seed.write_text(json.dumps({name: f"value-of-{name}" for name in EXISTING}))
    process = EmulatorProcess(directory / "state", ["--seed", str(seed)]).start()
    yield process
    process.stop()


@settings(
    max_examples=int(os.environ.get("KVCTL_FUZZ_EXAMPLES", "160")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=command_lines(), content=st.binary(max_size=64))
def test_random_command_lines_fail_cleanly(fuzz_emulator, tmp_path_factory, case, content):
    argv, (file_kind, structured), with_stdin = case
    work = tmp_path_factory.mktemp("case")
    target = work / "file"
    if file_kind == "structured":
        target.write_text(structured)
    elif file_kind == "text":
        target.write_bytes(content.decode("utf-8", "replace").encode())
    elif file_kind == "binary":
        target.write_bytes(b"\xff\xfe" + content)
    elif file_kind == "directory":
        target.mkdir()
    out = work / "out"
    argv = [str(target) if a == "{FILE}" else str(out) if a == "{OUT}" else a for a in argv]
    before_state = fuzz_emulator.control("GET", "state")["vaults"]
    before_files = sorted(p.name for p in work.iterdir())

    # In the case's own directory: `inject ... -o plain` writes a file named "plain" where it runs.
    previous = os.getcwd()
    os.chdir(work)
    try:
        result = run_kvctl(
            argv,
            emulator=fuzz_emulator,
            input=content if with_stdin else b"",
            env={
                "KVCTL_RETRIES": "0",
                "KVCTL_TIMEOUT": "5",
                "KVCTL_RECOVERY_DIR": str(tmp_path_factory.getbasetemp() / "fuzz-recovery"),
            },
        )
    finally:
        os.chdir(previous)

    assert "Traceback" not in result.stderr, (argv, result.stderr)
    assert result.exit_code in DOCUMENTED, (argv, result.exit_code, result.stderr)
    if result.exit_code == 2:
        assert fuzz_emulator.control("GET", "state")["vaults"] == before_state, (argv, "invalid input wrote")
        assert sorted(p.name for p in work.iterdir()) == before_files, (argv, "invalid input made a file")
        if file_kind == "new":
            assert not Path(target).exists()
        assert not out.exists(), (argv, "invalid input wrote the output file")
