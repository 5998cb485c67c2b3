"""Microsoft's SARIF multitool (`Sarif.Multitool validate`), the validator code-scanning SARIF is
held to. It comes from npm (@microsoft/sarif-multitool, a binary per platform) and lives in a
cache outside the checkout; KVCTL_SARIF_MULTITOOL may name the binary instead."""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

# Read at import: the autouse fixture clears KVCTL_* variables before each test runs.
OVERRIDE = os.environ.get("KVCTL_SARIF_MULTITOOL")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kvctl-tests" / "npm"
_PLATFORM = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(platform.system(), "linux")
BINARY = (
    CACHE
    / "node_modules"
    / "@microsoft"
    / f"sarif-multitool-{_PLATFORM}"
    / ("Sarif.Multitool.exe" if _PLATFORM == "win32" else "Sarif.Multitool")
)


def find_or_install() -> tuple[Path | None, str]:
    """(the binary, or None and why not)."""
    if OVERRIDE:
        if not Path(OVERRIDE).is_file():
            return None, f"KVCTL_SARIF_MULTITOOL={OVERRIDE} is no file"
        return Path(OVERRIDE), ""
    if not BINARY.is_file():
        npm = shutil.which("npm")
        if npm is None:
            return None, "npm is not installed, so @microsoft/sarif-multitool cannot be"
        CACHE.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), "@microsoft/sarif-multitool"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, "npm install @microsoft/sarif-multitool timed out"
        if not BINARY.is_file():
            return None, f"npm install @microsoft/sarif-multitool failed: {done.stderr.strip()[-300:]}"
    # npm may skip the package's postinstall (chmod u+x) when install scripts are not allowed.
    BINARY.chmod(BINARY.stat().st_mode | stat.S_IXUSR)
    return BINARY, ""


def validate(binary: Path, sarif_file: Path) -> list[dict[str, Any]]:
    """The validator's errors and warnings for `sarif_file` (notes, mere suggestions, left out)."""
    report = sarif_file.with_name(sarif_file.name + ".validation.sarif")
    done = subprocess.run(
        [str(binary), "validate", str(sarif_file), "--output", str(report), "--log", "ForceOverwrite"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1"},
    )
    assert report.is_file(), f"the multitool wrote no report: {done.stdout[-500:]} {done.stderr[-500:]}"
    results = json.loads(report.read_text(encoding="utf-8-sig"))["runs"][0].get("results", [])
    return [
        {"rule": r.get("ruleId"), "level": r.get("level", "warning"), "message": r.get("message", {}).get("text")}
        for r in results
        if r.get("level", "warning") in ("error", "warning")
    ]
