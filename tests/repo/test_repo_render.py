"""Rendering Applications from remote Git repositories through the repo service."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from syncwright.errors import PathEscapeError, RenderError
from syncwright.model import parse_application
from syncwright.render import BuildInfo
from syncwright.repo.errors import RepoError
from syncwright.repo.gitmirror import STATS
from syncwright.repo.service import RepoService


def _app(helpers: Any, name: str, **source: Any) -> Any:
    return parse_application(helpers.app_doc(name, source), "test")


@pytest.fixture
def service(hooks: Any, cache_dir: Path) -> RepoService:
    return RepoService(hooks, cache_dir=cache_dir, revision_ttl=0)


def test_render_remote_app_then_cache_hit(service: RepoService, repos: Any, helpers: Any, git_daemon: Any,
                                          tools_plugin: Any) -> None:
    repo = repos.create({"apps/a/cm.yaml": helpers.cm("one"), "apps/b/cm.yaml": helpers.cm("two")})
    app = _app(helpers, "a", repoURL=git_daemon.url(repo), path="apps/a", targetRevision="main")
    first = service.render_app(app)
    assert [m["metadata"]["name"] for m in first.manifests] == ["one"]
    assert not first.sources[0].cached and tools_plugin.renders == 1
    before = dict(STATS)
    second = service.render_app(app)
    assert second.manifests == first.manifests and second.sources[0].cached
    assert tools_plugin.renders == 1  # a hit runs no tool
    assert {k: v - before.get(k, 0) for k, v in STATS.items() if v != before.get(k, 0)} == {"ls-remote": 1}
    # pinned to the SHA: no git command at all
    pinned = _app(helpers, "a", repoURL=git_daemon.url(repo), path="apps/a", targetRevision=first.sources[0].revision)
    before = dict(STATS)
    service.render_app(pinned)
    assert dict(STATS) == before and tools_plugin.renders == 1  # same SHA: same entry, as Argo CD


def test_new_commit_is_fetched_and_rendered(service: RepoService, repos: Any, helpers: Any, git_http: Any) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("x", v="1")})
    app = _app(helpers, "a", repoURL=git_http.url(repo), targetRevision="main")
    assert service.render_app(app).manifests[0]["data"] == {"v": "1"}
    repo.commit({"cm.yaml": helpers.cm("x", v="2")})
    assert service.render_app(app).manifests[0]["data"] == {"v": "2"}
    assert git_http.fetches == 2


def test_hard_refresh_bypasses_manifest_cache(service: RepoService, repos: Any, helpers: Any, git_daemon: Any,
                                              tools_plugin: Any) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("x")})
    app = _app(helpers, "a", repoURL=git_daemon.url(repo))
    service.render_app(app)
    service.render_app(app, hard_refresh=True)
    assert tools_plugin.renders == 2


def test_cache_key_includes_build_env(service: RepoService, repos: Any, helpers: Any, git_daemon: Any,
                                      tools_plugin: Any) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("x")})
    app = _app(helpers, "a", repoURL=git_daemon.url(repo))
    service.render_app(app, BuildInfo("a", "ns1"))
    service.render_app(app, BuildInfo("a", "ns2"))
    service.render_app(app, BuildInfo("a", "ns1", kube_version="1.30.0"))
    service.render_app(app, BuildInfo("a", "ns1", api_versions=("v1",)))
    service.render_app(app, BuildInfo("b", "ns1"))
    assert tools_plugin.renders == 5
    service.render_app(app, BuildInfo("a", "ns2"))
    assert tools_plugin.renders == 5


def test_path_not_in_repo(service: RepoService, repos: Any, helpers: Any, git_daemon: Any) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("x")})
    app = _app(helpers, "a", repoURL=git_daemon.url(repo), path="nope")
    with pytest.raises(RenderError, match=r"app 'a'.*app path 'nope' does not exist in the repository"):
        service.render_app(app)


def test_symlink_out_of_repo_rejected(service: RepoService, repos: Any, helpers: Any, git_daemon: Any) -> None:
    repo = repos.create({"app/cm.yaml": helpers.cm("x"), "app/leak.yaml": "symlink:../../../../etc/passwd"})
    with pytest.raises(PathEscapeError, match=r"out of bounds symlink found: app/leak.yaml"):
        service.render_app(_app(helpers, "a", repoURL=git_daemon.url(repo), path="app"))
    abs_link = repos.create({"cm.yaml": helpers.cm("x"), "abs.yaml": "symlink:/etc/hosts"})
    with pytest.raises(PathEscapeError, match=r"out of bounds symlink found: abs.yaml is an absolute symlink"):
        service.render_app(_app(helpers, "a", repoURL=git_daemon.url(abs_link)))


def test_app_path_symlink_out_of_repo_rejected(service: RepoService, repos: Any, helpers: Any,
                                               git_daemon: Any) -> None:
    repo = repos.create({"real/cm.yaml": helpers.cm("x"), "app": "symlink:../../.."})
    with pytest.raises(PathEscapeError, match=r"out of bounds symlink found: app"):
        service.render_app(_app(helpers, "a", repoURL=git_daemon.url(repo), path="app"))


def test_symlink_inside_repo_is_fine(service: RepoService, repos: Any, helpers: Any, git_daemon: Any) -> None:
    repo = repos.create({"real/cm.yaml": helpers.cm("x"), "app": "symlink:real"})
    out = service.render_app(_app(helpers, "a", repoURL=git_daemon.url(repo), path="app"))
    assert [m["metadata"]["name"] for m in out.manifests] == ["x"]


def test_checkout_size_limit(service: RepoService, repos: Any, helpers: Any, git_daemon: Any,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("x"), "big.bin": "x" * 200_000})
    monkeypatch.setenv("SYNCWRIGHT_MAX_CHECKOUT_BYTES", "100000")
    with pytest.raises(RepoError, match=r"larger than the checkout limit of 100000 bytes"):
        service.render_app(_app(helpers, "a", repoURL=git_daemon.url(repo)))


def test_mirror_size_limit(service: RepoService, repos: Any, helpers: Any, git_daemon: Any,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    repo = repos.create({"cm.yaml": helpers.cm("x"), "noise.bin": os.urandom(300_000).hex()})
    monkeypatch.setenv("SYNCWRIGHT_GIT_MAX_REPO_BYTES", "50000")
    with pytest.raises(RepoError, match=r"larger than the mirror limit of 50000 bytes.*mirror was removed"):
        service.render_app(_app(helpers, "a", repoURL=git_daemon.url(repo)))
    assert not service.mirror(git_daemon.url(repo)).dir.exists()


def test_shallow_fetch_depth(service: RepoService, repos: Any, helpers: Any, git_daemon: Any,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("x", v="1")})
    for i in range(3):
        repo.commit({"cm.yaml": helpers.cm("x", v=str(i + 2))})
    monkeypatch.setenv("SYNCWRIGHT_GIT_FETCH_DEPTH", "1")
    out = service.render_app(_app(helpers, "a", repoURL=git_daemon.url(repo)))
    assert out.manifests[0]["data"] == {"v": "4"}
    assert (service.mirror(git_daemon.url(repo)).dir / "shallow").exists()


def test_unreachable_repo_renders_from_cache_with_warning(service: RepoService, repos: Any, helpers: Any,
                                                          git_http: Any, tools_plugin: Any) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("x")})
    app = _app(helpers, "a", repoURL=git_http.url(repo), targetRevision="main")
    first = service.render_app(app)
    repo.bare.rename(repo.bare.with_name("gone.git"))  # the server now answers 404 / repo not found
    out = service.render_app(app)
    assert out.manifests == first.manifests and tools_plugin.renders == 1
    assert len(out.warnings) == 1 and "git ls-remote failed" in out.warnings[0]
    assert f"using revision {first.sources[0].revision[:12]}" in out.warnings[0]
    other = _app(helpers, "b", repoURL=git_http.url(repo), targetRevision="never-resolved")
    with pytest.raises(RepoError, match=r"app 'b', source http://127.0.0.1:\d+/git/r\w+\.git: repo .*ls-remote failed"):
        service.render_app(other)


def test_twenty_concurrent_renders_fetch_once(hooks: Any, cache_dir: Path, repos: Any, helpers: Any,
                                             git_http: Any, tools_plugin: Any) -> None:
    files = {f"apps/a{i}/cm.yaml": helpers.cm(f"cm{i}") for i in range(20)}
    repo = repos.create(files)
    service = RepoService(hooks, cache_dir=cache_dir, revision_ttl=0)
    apps = [_app(helpers, f"a{i}", repoURL=git_http.url(repo), path=f"apps/a{i}", targetRevision="main")
            for i in range(20)]
    service.render_apps(apps[:1])
    assert git_http.fetches == 1
    new = repo.commit({f"apps/a{i}/cm.yaml": helpers.cm(f"cm{i}", rev="2") for i in range(20)})
    before = STATS["fetch"]
    barrier = threading.Barrier(20)
    results: list[Any] = [None] * 20

    def work(i: int) -> None:
        barrier.wait()
        results[i] = service.render_app(apps[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert STATS["fetch"] - before == 1 and git_http.fetches == 2
    for i, r in enumerate(results):
        assert r.sources[0].revision == new
        assert r.manifests[0]["metadata"]["name"] == f"cm{i}" and r.manifests[0]["data"] == {"rev": "2"}


def test_submodules_are_checked_out(service: RepoService, repos: Any, helpers: Any, git_daemon: Any) -> None:
    lib = repos.create({"cm.yaml": helpers.cm("from-sub")})
    lib_sha = helpers.git("rev-parse", "HEAD", cwd=lib.work)
    parent = repos.create({"app/cm.yaml": helpers.cm("from-parent")})
    parent.write({".gitmodules": f'[submodule "lib"]\n\tpath = app/lib\n\turl = ../{lib.name}.git\n'})
    helpers.git("add", ".gitmodules", cwd=parent.work)
    helpers.git("update-index", "--add", "--cacheinfo", f"160000,{lib_sha},app/lib", cwd=parent.work)
    helpers.git("commit", "-q", "-m", "add submodule", cwd=parent.work)
    helpers.git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=parent.work)
    out = service.render_app(_app(helpers, "a", repoURL=git_daemon.url(parent), path="app/lib"))
    assert [m["metadata"]["name"] for m in out.manifests] == ["from-sub"]


def test_checkouts_are_removed(service: RepoService, repos: Any, helpers: Any, git_daemon: Any,
                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    repo = repos.create({"cm.yaml": helpers.cm("x")})
    service.render_app(_app(helpers, "a", repoURL=git_daemon.url(repo)))
    with pytest.raises(RenderError):
        service.render_app(_app(helpers, "b", repoURL=git_daemon.url(repo), path="missing"))
    assert list(tmp.iterdir()) == []
