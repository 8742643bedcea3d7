"""The on-disk manifest cache: atomic entries, corruption, LRU bound, tool versions in the key."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from syncwright.model import parse_application
from syncwright.plugins import Hooks
from syncwright.repo.cache import CachedRender, ManifestCache, cache_key
from syncwright.repo.service import RepoService


def _render(n: int) -> CachedRender:
    return CachedRender(tuple({"kind": "ConfigMap", "metadata": {"name": f"c{i}"}, "data": {"x": "y" * 200}}
                              for i in range(n)), "directory", None, ())


def test_roundtrip_and_corrupt_entries_are_misses(tmp_path: Path) -> None:
    cache = ManifestCache(tmp_path)
    key = cache_key({"a": 1})
    cache.put(key, _render(2))
    got = cache.get(key)
    assert got is not None and got.manifests == _render(2).manifests
    path = next(tmp_path.glob("manifests/*/*.json"))
    path.write_bytes(path.read_bytes()[:-40])  # truncated, as a crash mid-write without rename would leave
    assert cache.get(key) is None and not path.exists()
    cache.put(key, _render(2))
    doc = json.loads(path.read_text())
    doc["payload"]["manifests"][0]["data"]["x"] = "tampered"
    path.write_text(json.dumps(doc))
    assert cache.get(key) is None
    path.write_text(json.dumps({**doc, "key": "other"}))
    assert cache.get(key) is None


def test_crash_during_write_leaves_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ManifestCache(tmp_path)
    key = cache_key({"a": 2})

    def boom(*args: Any) -> None:
        raise KeyboardInterrupt  # the process dies between write and rename

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        cache.put(key, _render(1))
    monkeypatch.undo()
    assert cache.get(key) is None
    assert list(tmp_path.glob("manifests/*/*")) == []  # the temp file was removed too


def test_lru_eviction_keeps_recently_used(tmp_path: Path) -> None:
    one = len(json.dumps({"payload": {"manifests": list(_render(3).manifests)}})) + 300
    cache = ManifestCache(tmp_path, max_bytes=one * 4)
    keys = [cache_key({"n": i}) for i in range(4)]
    for i, key in enumerate(keys[:3]):
        cache.put(key, _render(3))
        os.utime(cache._path(key), (1000 + i, 1000 + i))
    assert cache.get(keys[0]) is not None  # touch the oldest: now the most recent
    cache.put(keys[3], _render(3))
    cache.put(cache_key({"n": 99}), _render(3))
    assert cache.stats()["bytes"] <= cache.max_bytes
    assert cache.get(keys[0]) is not None and cache.get(keys[1]) is None


def test_warm_hit_in_a_new_process_runs_no_tool(tmp_path: Path, cache_dir: Path, repos: Any, helpers: Any,
                                                git_daemon: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests_repo_plugin import make_plugin  # type: ignore[import-not-found]

    wrapper = tmp_path / "bin" / "helm"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {helpers.HELM} "$@"\n')
    wrapper.chmod(stat.S_IRWXU)
    monkeypatch.setenv("SYNCWRIGHT_HELM", str(wrapper))
    repo = repos.create({"cm.yaml": helpers.cm("x")})
    sha = helpers.git("rev-parse", "HEAD", cwd=repo.work)
    app = parse_application(helpers.app_doc("a", {"repoURL": git_daemon.url(repo), "targetRevision": sha}), "t")

    def fresh() -> tuple[Any, RepoService]:
        plugin = make_plugin()
        return plugin, RepoService(Hooks.load(entry_points=[], extra_plugins=[plugin]), cache_dir=cache_dir)

    p1, s1 = fresh()
    s1.render_app(app)
    assert p1.renders == 1 and p1.version_runs >= 1
    p2, s2 = fresh()
    assert s2.render_app(app).sources[0].cached
    assert (p2.renders, p2.version_runs) == (0, 0)  # versions came from the persisted table
    # a different helm binary (new version) changes the key
    wrapper.write_text(f'#!/bin/sh\n[ "$1" = version ] && echo v9.9.9 && exit 0\nexec {helpers.HELM} "$@"\n')
    p3, s3 = fresh()
    assert not s3.render_app(app).sources[0].cached
    assert p3.version_runs >= 1 and p3.renders == 1


@pytest.fixture(autouse=True)
def _plugin_module(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Expose conftest's plugin class to ``test_warm_hit_in_a_new_process_runs_no_tool``."""
    import types

    tools_cls = type(request.getfixturevalue("tools_plugin"))
    mod = types.ModuleType("tests_repo_plugin")
    mod.make_plugin = lambda: tools_cls()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tests_repo_plugin", mod)


def test_plugin_version_is_part_of_the_key(cache_dir: Path, repos: Any, helpers: Any, git_daemon: Any,
                                           tools_plugin: Any) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("x")})
    app = parse_application(helpers.app_doc("a", {"repoURL": git_daemon.url(repo)}), "t")
    hooks = Hooks.load(entry_points=[], extra_plugins=[tools_plugin])
    RepoService(hooks, cache_dir=cache_dir, revision_ttl=0).render_app(app)
    hooks.pm.distributions[hooks.plugins()[0].name] = ("syncwright-fake", "9.9")
    assert not RepoService(hooks, cache_dir=cache_dir, revision_ttl=0).render_app(app).sources[0].cached
    assert tools_plugin.renders == 2
