"""The guard that fails the session when the suite leaves files in the checkout (tests/checkout.py)."""

from __future__ import annotations

import subprocess

from tests.checkout import new_entries, snapshot


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_in_a_git_checkout_new_and_changed_files_are_reported(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "kept.txt").write_text("a")
    (repo / ".gitignore").write_text(".hypothesis/\n")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    before = snapshot(repo)
    assert before == ("git", frozenset())
    (repo / "json").write_text("{}")  # what `inject -o json` once left behind
    (repo / "sub").mkdir()
    (repo / "sub" / "tsv").write_text("")
    (repo / "kept.txt").write_text("changed")
    (repo / ".hypothesis").mkdir()
    (repo / ".hypothesis" / "db").write_text("ignored")
    assert new_entries(before, snapshot(repo)) == [" M kept.txt", "?? json", "?? sub/tsv"]


def test_outside_git_a_listing_is_compared(tmp_path):
    tree = tmp_path / "unpacked"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "a.py").write_text("x = 1")
    before = snapshot(tree)
    assert before[0] == "listing"
    (tree / "table").write_text("")
    (tree / "__pycache__").mkdir()
    (tree / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"")
    assert [entry.split()[0] for entry in new_entries(before, snapshot(tree))] == ["table"]


def test_a_directory_inside_another_repository_is_not_mistaken_for_a_checkout(tmp_path):
    repo = tmp_path / "outer"
    repo.mkdir()
    _git(repo, "init", "-q")
    inner = repo / "inner"
    inner.mkdir()
    assert snapshot(inner)[0] == "listing"
