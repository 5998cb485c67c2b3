"""The real programs that read kvctl's dotenv and shell files, each returning name -> value as
that program sees it: python-dotenv, npm `dotenv` (Node), and `set -a; . FILE` in bash, dash and
zsh. Values come back through JSON or NUL-separated output, so every byte is compared."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

NPM_DIR = Path(os.environ.get("KVCTL_TEST_NPM_DIR", Path.home() / ".cache" / "kvctl-tests" / "npm-dotenv"))
NPM_DOTENV = "dotenv@18.0.10"

_PY = """
import json, sys
from dotenv import dotenv_values
json.dump(dict(dotenv_values(sys.argv[1])), sys.stdout)
"""
_NODE = """
const fs = require('fs');
const dotenv = require(process.argv[2]);
process.stdout.write(JSON.stringify(dotenv.parse(fs.readFileSync(process.argv[1]))));
"""


def python_dotenv(path: Path) -> dict[str, str | None]:
    """In a fresh interpreter, with default options (interpolation on), as an app would load it."""
    out = subprocess.run([sys.executable, "-c", _PY, str(path)], capture_output=True, check=True, env=_clean_env())
    return dict(json.loads(out.stdout))


def npm_install_dotenv() -> str | None:
    """Install npm `dotenv` into a cache outside the repository once; the module's path, or None
    with the reason printed when Node or npm cannot provide it."""
    module = NPM_DIR / "node_modules" / "dotenv"
    if (module / "package.json").exists():
        return str(module)
    if not (shutil.which("node") and shutil.which("npm")):
        print("SKIP npm dotenv: node or npm is not installed", file=sys.stderr)
        return None
    NPM_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NPM_DIR), NPM_DOTENV],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0 or not (module / "package.json").exists():
        print(f"SKIP npm dotenv: npm install failed: {done.stderr.decode()[-500:]}", file=sys.stderr)
        return None
    return str(module)


def npm_dotenv(path: Path, module: str) -> dict[str, str]:
    out = subprocess.run(["node", "-e", _NODE, str(path), module], capture_output=True, check=True)
    return dict(json.loads(out.stdout))


def sourced(shell: str, path: Path, names: list[str], *, prefix: str = "set -a; . ") -> dict[str, str]:
    """`set -a; . FILE` in SHELL, then each variable printed NUL-terminated. A marker file that
    any executed command would create is checked by the caller."""
    script = f"{prefix}{_sh_quote(str(path))}\n" + "".join(f'printf "%s\\0" "${{{n}}}"\n' for n in names)
    out = subprocess.run([shell, "-c", script], capture_output=True, check=False, env=_clean_env())
    if out.returncode != 0:
        raise AssertionError(f"{shell} failed on the file: {out.stderr.decode(errors='replace')}")
    parts = out.stdout.decode().split("\0")[:-1]
    return dict(zip(names, parts, strict=True))


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _clean_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    return {k: os.environ[k] for k in keep if k in os.environ}
