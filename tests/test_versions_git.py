"""The git side of the version commands (cvgr.versions.store) against a real git repository, without a workflow run."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cvgr.errors import CvgrError
from cvgr.versions.store import git, repo_root, resolve, show


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git and DVC-looking repository with one commit holding a.txt (bytes that are not UTF-8)."""
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text("")
    (root / "a.txt").write_bytes(b"\xff\x00one\n")
    env = ["-c", "user.name=t", "-c", "user.email=t@t"]
    for cmd in (["init", "-q"], ["add", "-A"], [*env, "commit", "-q", "-m", "one"]):
        subprocess.run(["git", "-C", str(root), *cmd], check=True)
    return root


def test_repo_root_from_a_subfolder_and_outside_a_clone(repo: Path, tmp_path: Path):
    (repo / "sub").mkdir()
    assert repo_root(repo / "sub") == repo.resolve()
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(CvgrError, match="not inside a git clone") as err:
        repo_root(outside)
    assert str(outside) in str(err.value) and "git clone" in str(err.value)


def test_resolve_names_the_commit_or_refuses(repo: Path):
    head = git(repo, "rev-parse", "HEAD").strip()
    assert resolve(repo, "HEAD") == head and resolve(repo, head[:7]) == head
    with pytest.raises(CvgrError, match="'no-such-rev' is not a commit") as err:
        resolve(repo, "no-such-rev")
    assert "results.dvc" in str(err.value)  # the fix: where to find the snapshots


def test_show_returns_the_bytes_or_none(repo: Path):
    assert show(repo, "HEAD", "a.txt") == b"\xff\x00one\n"
    assert show(repo, "HEAD", "missing.txt") is None


def test_git_failure_quotes_git(repo: Path):
    with pytest.raises(CvgrError, match="git cat-file failed: .*no-such-rev"):
        git(repo, "cat-file", "-p", "no-such-rev")
    assert git(repo, "cat-file", "-p", "no-such-rev", check=False) == ""
