"""The layering rules of DESIGN.md, enforced."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("azure", "msal", "requests", "cryptography", "rich", "urllib3", "aiohttp")


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                package = path.relative_to(ROOT).with_suffix("").parts[: -node.level]
                yield ".".join((*package, node.module or ""))
            elif node.module:
                yield node.module


def _modules(package: str):
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("kvctl.core"), ids=lambda p: p.name)
def test_core_imports_neither_ui_nor_azure(path):
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in ("click", "rich", "azure", "msal", "requests"), f"{path.name} imports {name}"
        assert not name.startswith(("kvctl.cli", "kvctl.output", "kvctl.azure", "kvctl.emulator")), name


@pytest.mark.parametrize("path", _modules("kvctl.emulator"), ids=lambda p: p.name)
def test_emulator_stands_alone(path):
    for name in _imports(path):
        assert name.split(".")[0] not in ("azure", "click", "rich", "requests", "msal"), f"{path.name}: {name}"
        assert not name.startswith(("kvctl.cli", "kvctl.core", "kvctl.azure", "kvctl.output")), name


def test_only_output_imports_rich_and_only_azure_imports_the_sdk():
    for path in _modules("kvctl"):
        names = list(_imports(path))
        relative = path.relative_to(ROOT).as_posix()
        if any(n.split(".")[0] == "rich" for n in names):
            assert relative == "kvctl/output.py", relative
        if any(n.split(".")[0] in ("azure", "msal") for n in names):
            assert relative.startswith("kvctl/azure/"), relative


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["get", "--help"],
        ["check", "--help"],
        ["access", "grant", "--help"],
        ["emulator", "--help"],
        ["completion", "bash"],
    ],
)
def test_help_version_and_completion_load_no_heavy_module(args):
    code = (
        "import sys, json\n"
        "from kvctl.cli.main import main\n"
        f"sys.argv = ['kvctl', *{args!r}]\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stderr)
    heavy = sorted({m for m in loaded if m.split(".")[0] in HEAVY})
    assert heavy == [], f"{args} imported {heavy}"


def test_no_module_is_over_the_size_limit():
    for path in _modules("kvctl"):
        lines = len(path.read_text().splitlines())
        assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines: split it by responsibility"


def _imported_by(args: list[str], env: dict[str, str | None]) -> set[str]:
    """Every module a real `kvctl` process imports (python -X importtime; stdout and stderr are pipes)."""
    from tests.conftest import run_kvctl_process

    done = run_kvctl_process(args, env=env, python=["-X", "importtime", "-m", "kvctl"])
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stderr.decode().splitlines()
    return {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:") and "|" in line}


LEAN_GET_AVOIDS = (
    "msal",
    "cryptography",
    "azure.identity",
    "azure.mgmt",
    "rich",
    "concurrent.futures",
    "requests",  # the data plane's transport is http.client's (azure/direct_transport.py)
    "urllib3",
    "charset_normalizer",
)


def _avoidable(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == a or m.startswith(a + ".") for a in LEAN_GET_AVOIDS))


@pytest.mark.parametrize("auth", ["emulator", "managed-identity"])
def test_a_get_served_from_the_token_cache_imports_no_credential_library(emulator, unique, auth):
    """A cached token serves the request: azure.identity (and msal, cryptography) stay unloaded, and a
    data-plane `get` of one secret loads neither azure-mgmt, rich (no terminal), a thread pool, nor
    requests (its transport is http.client's)."""
    from tests.conftest import run_kvctl_process

    name = unique()
    env: dict[str, str | None] = {**emulator.env, "KVCTL_NO_PROGRESS": "1", "KVCTL_AUTH": auth}
    assert run_kvctl_process(["set", name, "--value", "v", "-q"], env=env).returncode == 0  # fills the cache
    loaded = _imported_by(["get", name], env)
    assert "azure.keyvault.secrets" in loaded, "the measurement saw the SDK load"
    assert _avoidable(loaded) == []
    # Nothing asks a token endpoint, so neither urllib's client nor the built-in roles' table load.
    assert "urllib.request" not in loaded and "kvctl.builtin_roles" not in loaded


def test_the_emulator_credential_needs_no_credential_library_even_on_a_miss(emulator, unique):
    from tests.conftest import run_kvctl_process

    name = unique()
    env: dict[str, str | None] = {**emulator.env, "KVCTL_NO_PROGRESS": "1", "KVCTL_TOKEN_CACHE": "off"}
    assert run_kvctl_process(["set", name, "--value", "v", "-q"], env=env).returncode == 0
    loaded = _imported_by(["get", name], env)
    assert "azure.keyvault.secrets" in loaded and _avoidable(loaded) == []
