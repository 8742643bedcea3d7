"""Chart dependencies: built in a private copy only when missing; the checkout is never written."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import DEFAULT_API_VERSIONS, DEFAULT_KUBE_VERSION, PathEscapeError, Source, SpecError
from syncwright.plugins import Hooks
from syncwright.render import BuildInfo, render_source
from syncwright_helm.deps import missing_dependencies, vendored_chart_names

Write = Callable[[Path, Mapping[str, str]], Path]
Raw = Callable[..., list[dict[str, Any]]]

SUB = {
    "Chart.yaml": """
        apiVersion: v2
        name: sub
        version: 0.2.0
    """,
    "values.yaml": "greeting: from-sub\n",
    "templates/cm.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-sub
        data:
          greeting: {{ .Values.greeting | quote }}
    """,
}


def _app(repository: str) -> dict[str, str]:
    return {
        "Chart.yaml": f"""
            apiVersion: v2
            name: app
            version: 1.0.0
            dependencies:
              - name: sub
                version: 0.2.0
                repository: "{repository}"
        """,
        "values.yaml": "sub:\n  greeting: from-parent\n",
        "templates/cm.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {{ .Release.Name }}-app
            data: {}
        """,
    }


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            st = full.lstat()
            out[str(full.relative_to(root))] = (st.st_mtime_ns, st.st_size)
    return out


def _render(repo: Path, path: str = "app") -> list[dict[str, Any]]:
    src = Source.model_validate({"repoURL": "", "path": path, "helm": {}})
    return list(render_source(Hooks.load(), src, repo, BuildInfo("rel", "ns")).manifests)


def _raw_args() -> list[str]:
    return ["--name-template", "rel", "--namespace", "ns", "--kube-version", DEFAULT_KUBE_VERSION,
            *[a for v in DEFAULT_API_VERSIONS for a in ("--api-versions", v)], "--include-crds"]


def test_missing_dependency_is_built_in_a_private_copy(
    tmp_path: Path, write_tree: Write, raw_helm: Raw, helm_bin: str
) -> None:
    repo = tmp_path / "repo"
    write_tree(repo / "sub", SUB)
    write_tree(repo / "app", _app("file://../sub"))
    assert [d.name for d in missing_dependencies(repo / "app")] == ["sub"]
    before = _snapshot(repo)
    ours = _render(repo)
    assert _snapshot(repo) == before  # no charts/, no Chart.lock, nothing touched
    assert not (repo / "app" / "charts").exists() and not (repo / "app" / "Chart.lock").exists()
    # The reference: build the dependency in a copy by hand, then render it raw.
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "h"), "HELM_CACHE_HOME": str(tmp_path / "h/c"),
           "HELM_CONFIG_HOME": str(tmp_path / "h/cf"), "HELM_DATA_HOME": str(tmp_path / "h/d")}
    subprocess.run([helm_bin, "dependency", "build", "."], cwd=copy / "app", env=env, check=True, capture_output=True)
    assert ours == raw_helm(copy / "app", *_raw_args())
    assert {m["metadata"]["name"]: m["data"] for m in ours}["rel-sub"] == {"greeting": "from-parent"}


@pytest.mark.parametrize("vendored", ["dir", "tgz"])
def test_vendored_dependency_needs_no_build(
    tmp_path: Path, write_tree: Write, helm_bin: str, vendored: str
) -> None:
    repo = tmp_path / "repo"
    # A repository that cannot be built from: if a build ran, the render would fail.
    write_tree(repo / "app", _app("file://../does-not-exist"))
    if vendored == "dir":
        write_tree(repo / "app" / "charts" / "sub", SUB)
    else:
        src = write_tree(tmp_path / "src" / "sub", SUB)
        (repo / "app" / "charts").mkdir()
        subprocess.run([helm_bin, "package", str(src), "-d", str(repo / "app" / "charts")],
                       check=True, capture_output=True, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert vendored_chart_names(repo / "app") == {"sub"}
    before = _snapshot(repo)
    names = [m["metadata"]["name"] for m in _render(repo)]
    assert sorted(names) == ["rel-app", "rel-sub"]
    assert _snapshot(repo) == before


def test_file_repository_outside_the_repo_is_rejected(tmp_path: Path, write_tree: Write) -> None:
    write_tree(tmp_path / "outside" / "sub", SUB)
    repo = tmp_path / "repo"
    write_tree(repo / "app", _app("file://../../outside/sub"))
    with pytest.raises(PathEscapeError, match=r"dependency 'sub' repository '../../outside/sub' resolved to outside") as e:
        _render(repo)
    assert str(tmp_path) not in e.value.message  # the context names the repo, the message never the target


def test_file_repository_with_an_escaping_symlink_is_rejected(
    tmp_path: Path, write_tree: Write) -> None:
    (tmp_path / "secret.txt").write_text("TOPSECRET\n")
    repo = tmp_path / "repo"
    sub = write_tree(repo / "sub", SUB)
    (sub / "templates" / "leak.txt").symlink_to(tmp_path / "secret.txt")
    write_tree(repo / "app", _app("file://../sub"))
    src = Source.model_validate({"repoURL": "", "path": "app", "helm": {}})
    with pytest.raises(PathEscapeError, match=r"out of bounds symlink found: templates/leak.txt"):
        render_source(Hooks.load(), src, repo, BuildInfo("rel", "ns"), check_whole_root=False)


def test_missing_dependency_without_repository(tmp_path: Path, write_tree: Write) -> None:
    write_tree(tmp_path / "repo" / "app", _app(""))
    with pytest.raises(SpecError, match=r"dependency 'sub' is missing from charts/ and has no repository"):
        _render(tmp_path / "repo")


def test_repository_alias_is_explained(tmp_path: Path, write_tree: Write) -> None:
    write_tree(tmp_path / "repo" / "app", _app("@stable"))
    with pytest.raises(SpecError, match=r"names a helm repository alias"):
        _render(tmp_path / "repo")


@pytest.fixture()
def chart_repo(tmp_path: Path, write_tree: Write, helm_bin: str) -> Iterator[str]:
    """A Helm chart repository (index.yaml + packaged sub chart) served on 127.0.0.1."""
    served = tmp_path / "served"
    served.mkdir()
    src = write_tree(tmp_path / "src" / "sub", SUB)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    subprocess.run([helm_bin, "package", str(src), "-d", str(served)], check=True, capture_output=True, env=env)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}/charts"
    served_charts = served / "charts"
    served_charts.mkdir()
    for tgz in served.glob("*.tgz"):
        tgz.rename(served_charts / tgz.name)
    subprocess.run([helm_bin, "repo", "index", str(served_charts), "--url", url], check=True, capture_output=True, env=env)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_http_repository_dependency_is_fetched_with_a_private_helm_home(
    tmp_path: Path, write_tree: Write, chart_repo: str
) -> None:
    repo = tmp_path / "repo"
    write_tree(repo / "app", _app(chart_repo))
    before = _snapshot(repo)
    names = sorted(m["metadata"]["name"] for m in _render(repo))
    assert names == ["rel-app", "rel-sub"]
    assert _snapshot(repo) == before
