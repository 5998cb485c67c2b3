"""`export --format github` and `--format azure-devops` through real kvctl processes, read back as
the GitHub runner and the Azure Pipelines agent read them (tests/devenv/readers.py follows their
documented rules): every value exact, every line masked first, refusals named, nothing partial."""

from __future__ import annotations

import re
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from kvctl.core import ciformat
from tests.conftest import run_kvctl_process
from tests.devenv.expected import REFUSED
from tests.devenv.readers import github_masks, read_azure_devops, read_github_env

EARLIER = "EARLIER=from a previous step\nOTHER<<EOF\nline 1\nline 2\nEOF\n"
_LINES = re.compile(r"\r\n|\r|\n")


def _dotnet_lines(stdout: str) -> list[str]:
    """Lines as the runner and the agent read a step's stdout (.NET ReadLine: CR, LF or CRLF)."""
    return _LINES.split(stdout.removesuffix("\n"))


def _lines(value: str) -> list[str]:
    return [line for line in _LINES.split(value) if line.strip()]


def test_github_appends_every_value_exactly_after_masking_every_line(stored, kvctl_env, tmp_path):
    prefix, variables, _ = stored
    github_env = tmp_path / "github_env"
    github_env.write_text(EARLIER)
    env = {**kvctl_env, "GITHUB_ENV": str(github_env)}
    done = run_kvctl_process(["export", "--prefix", prefix, "--tag", "github=ok", "--format", "github"], env=env)
    assert done.returncode == 0, done.stderr
    expected = {var: v for var, v in variables.items() if v not in REFUSED["github"]}
    parsed = read_github_env(github_env.read_bytes().decode())
    assert parsed["EARLIER"] == "from a previous step" and parsed["OTHER"] == "line 1\nline 2"
    wrong = {var: (value, parsed.get(var)) for var, value in expected.items() if parsed.get(var) != value}
    assert not wrong
    stdout = done.stdout.decode()
    assert all(line.startswith("::add-mask::") for line in _dotnet_lines(stdout)), "stdout holds only masks"
    masks = set(github_masks(stdout))
    unmasked = [line for value in expected.values() for line in _lines(value) if line not in masks]
    assert not unmasked, f"{len(unmasked)} value lines are not masked"
    for value in expected.values():
        if len(value) > 6:
            assert value.encode() not in done.stderr


def test_github_refuses_without_github_env_or_file(stored, kvctl_env):
    prefix, _, _ = stored
    env = {k: v for k, v in kvctl_env.items() if k != "GITHUB_ENV"}
    done = run_kvctl_process(["export", "--prefix", prefix, "--tag", "github=ok", "--format", "github"], env=env)
    assert done.returncode == 2 and done.stdout == b""
    assert b"GITHUB_ENV" in done.stderr and b"--file" in done.stderr and b"Traceback" not in done.stderr


def test_github_refuses_a_value_the_runner_would_misread_and_writes_nothing(stored, kvctl_env, tmp_path):
    prefix, variables, _ = stored
    target = tmp_path / "env"
    target.write_text(EARLIER)
    done = run_kvctl_process(["export", "--prefix", prefix, "--format", "github", "--file", str(target)], env=kvctl_env)
    assert done.returncode == 2, done.stderr
    refused = [var for var, value in variables.items() if value in REFUSED["github"]]
    assert [f"'{prefix}-v{var[1:]}' (${var})" in done.stderr.decode() for var in refused] == [True] * len(refused)
    assert done.stdout == b"", "no masks, no values: nothing happened"
    assert target.read_text() == EARLIER


def test_two_processes_appending_to_one_github_env_leave_it_readable(stored, kvctl_env, tmp_path):
    prefix, variables, _ = stored
    target = tmp_path / "github_env"
    args = [sys.executable, "-m", "kvctl", "export", "--prefix", prefix, "--tag", "github=ok", "--format", "github"]
    env = {**kvctl_env, "GITHUB_ENV": str(target)}
    first = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    second = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert first.wait(timeout=120) == 0 and second.wait(timeout=120) == 0
    text = target.read_bytes().decode()
    parsed = read_github_env(text)
    expected = {var: v for var, v in variables.items() if v not in REFUSED["github"]}
    assert {var: parsed.get(var) for var in expected} == expected
    assert len(re.findall(r"^V00<<", text, re.M)) == 2, "both appended, neither torn"
    for stream in (first.stderr, second.stderr):
        assert stream is not None
        stream.close()


def test_github_delimiters_are_fresh_and_never_in_the_value(stored, kvctl_env, tmp_path):
    prefix, _, _ = stored
    target = tmp_path / "env"
    done = run_kvctl_process(
        ["export", "--prefix", prefix, "--tag", "github=ok", "--format", "github", "--file", str(target)], env=kvctl_env
    )
    assert done.returncode == 0, done.stderr
    text = target.read_bytes().decode()
    delimiters = re.findall(r"^V\d\d<<(.+)$", text, re.M)
    assert len(set(delimiters)) == len(delimiters) > 40
    parsed = read_github_env(text)
    for line, delimiter in zip(re.findall(r"^(V\d\d)<<", text, re.M), delimiters, strict=True):
        assert delimiter not in parsed[line]


def test_azure_devops_sets_secret_variables_exactly(stored, kvctl_env):
    prefix, variables, _ = stored
    args = ["export", "--prefix", prefix, "--tag", "azure-devops=ok", "--format", "azure-devops"]
    done = run_kvctl_process(args, env=kvctl_env)
    assert done.returncode == 0, done.stderr
    stdout = done.stdout.decode()
    assert all(line.startswith("##vso[") for line in _dotnet_lines(stdout)), "no value line reaches the log as text"
    parsed = read_azure_devops(stdout)
    expected = {var: v for var, v in variables.items() if v not in REFUSED["azure-devops"]}
    wrong = {var: (value, parsed.get(var, ("<unset>", {}))[0]) for var, value in expected.items()}
    wrong = {var: pair for var, pair in wrong.items() if pair[0] != pair[1]}
    assert not wrong
    assert all(props.get("issecret") == "true" for _, props in parsed.values())
    secrets = set(re.findall(r"^##vso\[task\.setsecret\](.*)$", stdout, re.M))
    for value in expected.values():
        if len(_lines(value)) > 1:
            assert set(_lines(value)) <= secrets, "each line of a multi-line value is masked too"


def test_azure_devops_refuses_what_the_agent_would_decode(stored, kvctl_env):
    prefix, variables, _ = stored
    done = run_kvctl_process(["export", "--prefix", prefix, "--format", "azure-devops"], env=kvctl_env)
    assert done.returncode == 2 and done.stdout == b""
    refused = [var for var, value in variables.items() if value in REFUSED["azure-devops"]]
    assert refused and all(f"(${var})" in done.stderr.decode() for var in refused)


# -- the writers alone, against the same readers, for any value --------------------------------

_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80)
_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True)


@given(st.dictionaries(_names, _values, max_size=5))
def test_any_github_value_reads_back_or_is_refused(variables):
    kept = {k: v for k, v in variables.items() if ciformat.github_refusal(v) is None}
    assert all(v.endswith("\r") for k, v in variables.items() if k not in kept)
    assert read_github_env(ciformat.github_env(kept)) == kept
    masks = set(github_masks(ciformat.github_masks(kept)))
    assert all(line in masks for v in kept.values() for line in _lines(v))


@given(st.dictionaries(_names, _values, max_size=5))
def test_any_azure_value_reads_back_or_is_refused(variables):
    kept = {k: v for k, v in variables.items() if ciformat.azure_refusal(v) is None}
    parsed = read_azure_devops(ciformat.azure_devops(kept))
    assert {k: value for k, (value, _) in parsed.items()} == kept
