"""The render orchestration and RenderContext helpers, with an in-process fake tool."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import (
    Discovered, PathEscapeError, RenderContext, Rendered, SourceType, SourceTypes, envsubst, hookimpl,
)
from syncwright.errors import RenderError, SpecError
from syncwright.model import Source
from syncwright.plugins import Hooks
from syncwright.render import BuildInfo, render_source


class EchoPlugin:
    """Renders every *.yaml file; with tool 'write' it writes into its writable copy first."""

    seen: list[RenderContext] = []

    @hookimpl
    def syncwright_source_types(self) -> SourceTypes:
        return SourceTypes((SourceType("echo"), SourceType("write")))

    @hookimpl
    def syncwright_discover(self, ctx: RenderContext) -> Discovered:
        return Discovered("echo", 1000)

    @hookimpl
    def syncwright_render(self, ctx: RenderContext) -> Rendered | None:
        EchoPlugin.seen.append(ctx)
        base = ctx.source_dir
        if ctx.tool == "write":
            base = ctx.writable_dir()
            (base / "generated.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gen}\n")
        objs: list[dict[str, Any]] = []
        for f in sorted(base.glob("*.yaml")):
            objs.extend(ctx.parse(f.read_text(), str(f.relative_to(base))))
        return Rendered(tuple(objs), tool=str(ctx.tool))


@pytest.fixture
def hooks() -> Hooks:
    return Hooks.load(entry_points=[], extra_plugins=[EchoPlugin()])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    return root


def render(hooks: Hooks, repo: Path, path: str = "app", **kw: Any) -> Rendered:
    return render_source(hooks, Source(repo_url="", path=path), repo, BuildInfo("demo", "ns"), **kw)


def test_render_and_build_env(hooks: Hooks, repo: Path) -> None:
    out = render(hooks, repo)
    assert [o["metadata"]["name"] for o in out.manifests] == ["a"]
    ctx = EchoPlugin.seen[-1]
    env = ctx.build_env()
    assert env["ARGOCD_APP_NAME"] == "demo" and env["ARGOCD_APP_NAMESPACE"] == "ns"
    assert env["ARGOCD_APP_SOURCE_PATH"] == "app" and "ARGOCD_APP_REVISION_SHORT" in env


def test_writable_copy_leaves_checkout_untouched_and_is_removed(hooks: Hooks, repo: Path) -> None:
    out = render(hooks, repo, tool="write")
    assert {o["metadata"]["name"] for o in out.manifests} == {"a", "gen"}
    assert not (repo / "app" / "generated.yaml").exists()
    copy = EchoPlugin.seen[-1]._scratch.get("writable_root")
    assert copy is not None and not Path(copy).exists()


@pytest.mark.parametrize("path", ["../outside", "/../../etc", "app/../../outside"])
def test_app_path_outside_repo(hooks: Hooks, repo: Path, path: str) -> None:
    (repo.parent / "outside").mkdir(exist_ok=True)
    with pytest.raises(PathEscapeError, match="app path .* resolved to outside repository root"):
        render(hooks, repo, path=path)


def test_app_path_missing(hooks: Hooks, repo: Path) -> None:
    with pytest.raises(RenderError, match="app 'demo'.*app path 'nope' does not exist"):
        render(hooks, repo, path="nope")


def test_app_path_is_symlink_out(hooks: Hooks, repo: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\n")
    os.symlink(tmp_path / "secret", repo / "linked")
    with pytest.raises(PathEscapeError, match="outside repository root"):
        render(hooks, repo, path="linked")


@pytest.mark.parametrize("target", ["/etc/passwd", "../../x"])
def test_symlinks_out_of_bounds_anywhere_in_repo(hooks: Hooks, repo: Path, target: str) -> None:
    os.symlink(target, repo / "app" / "evil.yaml")
    with pytest.raises(PathEscapeError, match="out of bounds symlink found: app/evil.yaml"):
        render(hooks, repo)


def test_symlink_inside_repo_is_fine(hooks: Hooks, repo: Path) -> None:
    (repo / "shared").mkdir()
    (repo / "shared" / "x.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    os.symlink("../shared/x.yaml", repo / "app" / "x.yaml")
    assert {o["metadata"]["name"] for o in render(hooks, repo).manifests} == {"a", "x"}


def test_duplicates_in_output_are_rejected(hooks: Hooks, repo: Path) -> None:
    (repo / "app" / "dup.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    with pytest.raises(Exception, match="duplicate resource ConfigMap a"):
        render(hooks, repo)


def test_unknown_tool(hooks: Hooks, repo: Path) -> None:
    with pytest.raises(RenderError, match=r"unknown tool 'nope' \(known tools: echo, write\)"):
        render(hooks, repo, tool="nope")


def test_resolve_and_refs(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "values-repo"
    (other / "env").mkdir(parents=True)
    (other / "env" / "prod.yaml").write_text("x: 1\n")
    ctx = RenderContext(app_name="a", app_namespace="", source=Source(repo_url=""), source_dir=repo / "app",
                        repo_root=repo, refs={"values": other})
    assert ctx.resolve("cm.yaml") == (repo / "app" / "cm.yaml").resolve()
    assert ctx.resolve("/app/cm.yaml") == (repo / "app" / "cm.yaml").resolve()
    assert ctx.resolve_ref("$values/env/prod.yaml") == (other / "env" / "prod.yaml").resolve()
    assert ctx.resolve_ref("plain.yaml") is None
    with pytest.raises(PathEscapeError) as e:
        ctx.resolve_ref("$values/../../outside")
    assert str(tmp_path) not in str(e.value)
    with pytest.raises(PathEscapeError):
        ctx.resolve("../../etc/passwd", what="value file")
    with pytest.raises(SpecError, match="unknown source ref 'nope'"):
        ctx.resolve_ref("$nope/x.yaml")


def test_envsubst_like_argo_cd() -> None:
    env = {"ARGOCD_APP_NAME": "demo", "X": "1"}
    assert envsubst("$ARGOCD_APP_NAME-${X}", env) == "demo-1"
    assert envsubst("cost: $$5 $UNKNOWN.", env) == "cost: $5 ."
    assert envsubst("no vars", env) == "no vars"
