"""The local site's served repository (edgeai.gitops.gitserver.publish): plain git, no container."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edgeai.gitops import gitserver


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(gitserver, "ROOT", tmp_path / "served")
    repo = tmp_path / "checkout"
    subprocess.run(["git", "init", "-q", "--initial-branch", "main", str(repo)], check=True)
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "a.txt").write_text("one\n")
    _git(repo, "add", "a.txt")
    _git(repo, "commit", "-q", "-m", "one")
    return repo


def test_publish_serves_the_checkouts_head_and_follows_it(checkout) -> None:
    assert gitserver.publish(checkout, log=lambda m: None) == _git(checkout, "rev-parse", "HEAD")
    bare = gitserver.repository()
    assert (bare / "info" / "refs").is_file(), "dumb-HTTP clients need update-server-info"
    (checkout / "a.txt").write_text("two\n")
    _git(checkout, "commit", "-q", "-am", "two")
    assert gitserver.publish(checkout, log=lambda m: None) == _git(checkout, "rev-parse", "HEAD")


def test_publish_replaces_commits_the_checkout_lacks_and_keeps_them(checkout, tmp_path) -> None:
    gitserver.publish(checkout, log=lambda m: None)
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(gitserver.repository()), str(other)], check=True)
    _git(other, "config", "user.email", "t@example.com")
    _git(other, "config", "user.name", "t")
    (other / "a.txt").write_text("theirs\n")
    _git(other, "commit", "-q", "-am", "theirs")
    _git(other, "push", "-q", "origin", "HEAD:main")
    theirs = _git(other, "rev-parse", "HEAD")

    said: list[str] = []
    served = gitserver.publish(checkout, log=said.append)
    assert served == _git(checkout, "rev-parse", "HEAD")
    kept = _git(gitserver.repository(), "for-each-ref", "--format=%(objectname)", "refs/edgeai/replaced/")
    assert kept == theirs
    assert said and theirs[:12] in said[0] and "refs/edgeai/replaced/" in said[0]
