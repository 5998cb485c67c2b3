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
