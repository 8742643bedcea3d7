"""Discover rules: Go glob semantics for fileName, zglob's ** for find.glob, find.command's exit/output rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncwright.api import RenderContext, Source
from syncwright_cmp.config import Command, Discover, PluginConfig
from syncwright_cmp.runner import discover_match, match_paths

PATHS = ["Chart.yaml", "templates", "templates/a.yaml.tpl", "templates/sub", "templates/sub/b.yaml.tpl",
         "env", "env/prod", "env/prod/Chart.yaml", ".hidden.yaml", "x1.json"]


@pytest.mark.parametrize("rule,expected", [
    (Discover(file_name="./templates/*.yaml.tpl"), "templates/a.yaml.tpl"),
    (Discover(file_name="*/sub"), "templates/sub"),
    (Discover(file_name="sub/*.tpl"), None),             # fileName is relative to the app dir, no **
    (Discover(file_name="*.yaml"), "Chart.yaml"),        # Go's * also matches dotfiles
    (Discover(file_name="x[0-9].json"), "x1.json"),
    (Discover(file_name="x?.json"), "x1.json"),
    (Discover(file_name="x[!0-9].json"), None),
    (Discover(glob="**/Chart.yaml"), "Chart.yaml"),      # ** matches zero directories too
    (Discover(glob="env/**/Chart.yaml"), "env/prod/Chart.yaml"),
    (Discover(glob="**/sub/*.tpl"), "templates/sub/b.yaml.tpl"),
    (Discover(glob="**/*.jsonnet"), None),
])
def test_cmp_glob_rules(rule: Discover, expected: str | None) -> None:
    assert match_paths(rule, PATHS) == expected


@pytest.mark.parametrize("script,matches", [
    ("ls Chart.yaml", True),
    ("true", False),               # exit 0 but no output
    ("echo found; exit 1", False),  # output but failing
])
def test_cmp_find_command(tmp_path: Path, script: str, matches: bool) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Chart.yaml").write_text("name: x\n")
    cfg = PluginConfig(name="p", generate=Command(("cat",)), discover=Discover(command=Command(("sh", "-c", script))))
    ctx = RenderContext(app_name="a", app_namespace="", source=Source.model_validate({"repoURL": ""}),
                        source_dir=tmp_path / "app", repo_root=tmp_path)
    assert (discover_match(ctx, cfg) is not None) is matches


def test_cmp_discover_by_glob_via_cli(h: Any, tmp_path: Path) -> None:
    """Discovery without a tool block: a matching CMP wins over the directory plugin."""
    (tmp_path / "repo" / "app" / "components" / "deep" / "er").mkdir(parents=True)
    (tmp_path / "repo" / "app" / "components" / "deep" / "er" / "x.bundle.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-bundle}\n")
    (tmp_path / "repo" / "cmp-shared" / "base").mkdir(parents=True)
    (tmp_path / "repo" / "cmp-shared" / "base" / "q.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: q}\n")
    proc = h.sw("--cmp-dir", str(h.PLUGINS), "render", str(tmp_path / "repo" / "app"), "--repo-root", str(tmp_path / "repo"))
    assert proc.returncode == 0, proc.stderr
    assert [d["metadata"]["name"] for d in h.docs(proc.stdout)] == ["q", "from-bundle"]
