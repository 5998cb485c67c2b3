"""What the test suite may not change: the files of the checkout it runs from.

`snapshot` lists the checkout's state before the suite and again after; `new_entries` says what
appeared. In a git work tree that is `git status --porcelain` (untracked and modified files);
elsewhere (an sdist, a copy) it is a listing of every file outside the usual tool caches.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Directories tools own (not the suite): virtual environments and caches, also listed in .gitignore.
CACHE_DIRS = frozenset(
    {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis", "node_modules"}
)


def _git_status(root: Path) -> list[str] | None:
    try:
        inside = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    if inside.returncode != 0 or Path(inside.stdout.strip()).resolve() != root.resolve():
        return None
    status = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=False,
    )
    return status.stdout.splitlines() if status.returncode == 0 else None


def _listing(root: Path) -> list[str]:
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in CACHE_DIRS]
        for name in files:
            path = Path(directory, name)
            if path.suffix == ".pyc":
                continue
            try:
                stamp = path.stat().st_mtime_ns
            except OSError:
                continue
            found.append(f"{path.relative_to(root).as_posix()} {stamp}")
    return sorted(found)


def snapshot(root: Path) -> tuple[str, frozenset[str]]:
    """("git" or "listing", the entries)."""
    status = _git_status(root)
    if status is not None:
        return "git", frozenset(status)
    return "listing", frozenset(_listing(root))


def new_entries(before: tuple[str, frozenset[str]], after: tuple[str, frozenset[str]]) -> list[str]:
    """Entries in `after` that were not in `before` (new or changed files)."""
    return sorted(after[1] - before[1])
