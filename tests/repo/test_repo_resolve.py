"""Revision resolution against real git servers (git daemon and smart HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncwright.repo.errors import RepoError, RevisionNotFound
from syncwright.repo.gitmirror import STATS
from syncwright.repo.service import RepoService


@pytest.fixture
def service(hooks: Any, cache_dir: Path) -> RepoService:
    return RepoService(hooks, cache_dir=cache_dir, revision_ttl=0)


@pytest.fixture
def tagged(repos: Any, helpers: Any) -> tuple[Any, dict[str, str]]:
    repo = repos.create({"a.yaml": helpers.cm("a")})
    shas = {"c1": helpers.git("rev-parse", "HEAD", cwd=repo.work)}
    for tag in ("v1.0.0", "v1.2.0", "v1.2.5"):
        repo.tag(tag)
    shas["c2"] = repo.commit({"a.yaml": helpers.cm("a", k="2")})
    repo.tag("v1.4.2", annotated=True)
    shas["c3"] = repo.commit({"a.yaml": helpers.cm("a", k="3")})
    repo.tag("v2.0.0")
    repo.tag("v2.1.0-rc.1")
    shas["dev"] = repo.commit({"b.yaml": helpers.cm("b")}, branch="dev")
    return repo, shas


@pytest.mark.parametrize("transport", ["daemon", "http"])
def test_resolve_branches_tags_head_and_shas(service: RepoService, tagged: Any, transport: str,
                                             git_daemon: Any, git_http: Any) -> None:
    repo, shas = tagged
    url = git_daemon.url(repo) if transport == "daemon" else git_http.url(repo)
    assert service.resolve(url, "").sha == shas["c3"]
    assert service.resolve(url, "HEAD").sha == shas["c3"]
    assert service.resolve(url, "main").sha == shas["c3"]
    assert service.resolve(url, "dev").sha == shas["dev"]
    assert service.resolve(url, "refs/heads/dev").sha == shas["dev"]
    assert service.resolve(url, "v1.0.0").sha == shas["c1"]
    assert service.resolve(url, "v1.4.2").sha == shas["c2"]  # annotated tag → peeled commit
    assert service.resolve(url, shas["c1"]).sha == shas["c1"]
    assert service.resolve(url, shas["c2"][:8]).sha == shas["c2"]  # short SHA via the mirror


@pytest.mark.parametrize("constraint,expected", [
    ("1.2.*", "c1"), (">=1.0.0 <2.0.0", "c2"), ("~1.4", "c2"), ("^1", "c2"), ("*", "c3"), ("2.x", "c3"),
    (">=2.1.0-rc.0", "c3"),
])
def test_resolve_semver_constraints(service: RepoService, tagged: Any, git_daemon: Any,
                                    constraint: str, expected: str) -> None:
    repo, shas = tagged
    resolved = service.resolve(git_daemon.url(repo), constraint)
    assert resolved.sha == shas[expected]
    assert resolved.how.startswith("refs/tags/v")


def test_tag_prefix_filters_tags(service: RepoService, repos: Any, helpers: Any, git_daemon: Any) -> None:
    repo = repos.create({"a.yaml": helpers.cm("a")})
    repo.tag("app-1.0.0")
    first = helpers.git("rev-parse", "HEAD", cwd=repo.work)
    repo.commit({"a.yaml": helpers.cm("a", k="2")})
    repo.tag("other-3.0.0")
    assert service.resolve(git_daemon.url(repo), ">=1.0.0", tag_prefix="app-").sha == first


def test_missing_revision_is_a_clear_error(service: RepoService, tagged: Any, git_daemon: Any) -> None:
    repo, _ = tagged
    url = git_daemon.url(repo)
    with pytest.raises(RevisionNotFound, match=r"revision 'no-such-branch' not found"):
        service.resolve(url, "no-such-branch")
    with pytest.raises(RevisionNotFound, match=r"no tag matches version constraint '>=9.0.0'"):
        service.resolve(url, ">=9.0.0")
    with pytest.raises(RevisionNotFound, match=r"revision 'deadbeef' not found"):
        service.resolve(url, "deadbeef")


def test_unmoved_branch_costs_one_ls_remote_and_nothing_else(service: RepoService, tagged: Any,
                                                              git_daemon: Any) -> None:
    repo, shas = tagged
    url = git_daemon.url(repo)
    service.mirror(url).ensure_commit(shas["c3"])
    before = dict(STATS)
    assert service.resolve(url, "main").sha == shas["c3"]
    delta = {k: v - before.get(k, 0) for k, v in STATS.items() if v != before.get(k, 0)}
    assert delta == {"ls-remote": 1}


def test_revision_cache_ttl_skips_ls_remote(hooks: Any, cache_dir: Path, tagged: Any, git_daemon: Any) -> None:
    repo, shas = tagged
    service = RepoService(hooks, cache_dir=cache_dir, revision_ttl=60)
    url = git_daemon.url(repo)
    assert service.resolve(url, "main").sha == shas["c3"]
    before = STATS["ls-remote"]
    assert service.resolve(url, "main").how == "revision cache"
    assert STATS["ls-remote"] == before
    moved = repo.commit({"c.yaml": "x: 1\n"})
    assert service.resolve(url, "main").sha == shas["c3"]  # within the TTL
    assert service.resolve(url, "main", refresh=True).sha == moved  # hard refresh asks again


def test_unreachable_repo_fails_fast(service: RepoService) -> None:
    port = _closed_port()
    with pytest.raises(RepoError, match=rf"repo git://127.0.0.1:{port}/x.git: git ls-remote failed"):
        service.resolve(f"git://127.0.0.1:{port}/x.git", "main")


def test_silent_remote_times_out(service: RepoService, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts and never answers: bounded by SYNCWRIGHT_GIT_TIMEOUT."""
    import socket
    import threading
    import time

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(sock.accept()[0]), daemon=True).start()
    monkeypatch.setenv("SYNCWRIGHT_GIT_TIMEOUT", "1.5")
    start = time.monotonic()
    with pytest.raises(RepoError, match=r"did not finish within 1.5s"):
        service.resolve(f"http://127.0.0.1:{sock.getsockname()[1]}/silent.git", "main")
    assert time.monotonic() - start < 10
    sock.close()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
