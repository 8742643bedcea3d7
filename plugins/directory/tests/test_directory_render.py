"""The directory plugin on the example app and small trees, compared with kustomize's reading."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from syncwright.api import RenderContext, Source, find_tool
from syncwright.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
APP_FILE = EXAMPLES / "apps" / "directory-app.yaml"
#: What the example's Application selects (recurse, exclude '{*-test.yaml,extra/scratch/*}'), in walk order.
EXPECTED_FILES = [
    "base/config.yaml", "base/deployment.yaml", "base/service.yml",
    "extra/network-policy.json", "extra/sub/list.yaml",
]


def cm(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


@pytest.fixture(scope="module")
def raw_objects(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The reference: kustomize (kubectl kustomize, fifo order) over the same files of a copy."""
    kubectl = find_tool("kubectl", "SYNCWRIGHT_KUBECTL", "make tools")
    if kubectl.path is None:  # pragma: no cover - `make test` installs kubectl first
        pytest.skip("kubectl not installed (run `make tools`)")
    copy = tmp_path_factory.mktemp("raw") / "app"
    shutil.copytree(EXAMPLES / "directory-app", copy)
    (copy / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": EXPECTED_FILES, "sortOptions": {"order": "fifo"},
    }))
    proc = subprocess.run([kubectl.path, "kustomize", str(copy)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return _docs(proc.stdout)


def test_example_app_cli_matches_raw(raw_objects: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(main, ["render", "-f", str(APP_FILE)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    objs = _docs(result.stdout)
    assert len(objs) == len(raw_objects) == 7
    for ours, raw in zip(objs, raw_objects):
        assert ours == raw


def test_example_directory_with_flags_matches_raw(raw_objects: list[dict[str, Any]]) -> None:
    args = ["render", str(EXAMPLES / "directory-app"), "--directory-recurse",
            "--directory-exclude", "{*-test.yaml,extra/scratch/*}", "-o", "json"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import json

    assert json.loads(result.stdout)["items"] == raw_objects


def test_example_library_matches_raw(render_lib: Callable[..., Any], raw_objects: list[dict[str, Any]]) -> None:
    rendered = render_lib(EXAMPLES, "directory-app", recurse=True, exclude="{*-test.yaml,extra/scratch/*}")
    assert rendered.tool == "directory"
    assert list(rendered.manifests) == raw_objects
    assert rendered.warnings == ()


def test_example_objects() -> None:
    result = CliRunner().invoke(main, ["render", "-f", str(APP_FILE)], catch_exceptions=False)
    names = [(o["kind"], o["metadata"]["name"]) for o in _docs(result.stdout)]
    assert names == [
        ("ConfigMap", "web-config"), ("ConfigMap", "web-flags"), ("Deployment", "web"), ("Service", "web"),
        ("NetworkPolicy", "web-allow-http"), ("ServiceAccount", "web"), ("Role", "web-reader"),
    ]


def test_without_recurse_only_top_level(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    write_tree(tmp_path / "repo", {"app/a.yaml": cm("a"), "app/sub/b.yaml": cm("b")})
    assert [o["metadata"]["name"] for o in render_lib(tmp_path / "repo").manifests] == ["a"]
    assert [o["metadata"]["name"] for o in render_lib(tmp_path / "repo", recurse=True).manifests] == ["a", "b"]


def test_walk_order_is_sorted_depth_first(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    write_tree(tmp_path / "repo", {
        "app/z.yaml": cm("z"), "app/a.yaml": cm("a"), "app/m/b.yaml": cm("mb"), "app/m/a.json":
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ma"}}',
    })
    names = [o["metadata"]["name"] for o in render_lib(tmp_path / "repo", recurse=True).manifests]
    assert names == ["a", "ma", "mb", "z"]


@pytest.mark.parametrize(("include", "exclude", "expected"), [
    ("", "", ["a", "b", "c", "d"]),
    ("*.yaml", "", ["a", "b", "c"]),                 # * crosses '/', as gobwas/glob without separators
    ("{a.yaml,sub/c.yaml}", "", ["a", "c"]),         # {a,b} alternation
    ("", "sub/*", ["a", "b"]),
    ("", "sub/*.yaml", ["a", "b", "d"]),
    ("*.yaml", "b.yaml", ["a", "c"]),                # exclude wins
    ("{a,b}.yaml", "", ["a", "b"]),
    ("[ab].yaml", "", ["a", "b"]),
    ("[!a].yaml", "", ["b"]),
    ("?.yaml", "", ["a", "b"]),
    ("*.{json,yml}", "", ["d"]),
])
def test_include_exclude_globs(
    tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any], include: str, exclude: str, expected: list[str]
) -> None:
    write_tree(tmp_path / "repo", {
        "app/a.yaml": cm("a"), "app/b.yaml": cm("b"), "app/sub/c.yaml": cm("c"), "app/sub/d.yml": cm("d"),
    })
    rendered = render_lib(tmp_path / "repo", recurse=True, include=include, exclude=exclude)
    assert [o["metadata"]["name"] for o in rendered.manifests] == expected


def test_malformed_glob_is_a_spec_error(tmp_path: Path, write_tree: Any, sw: Callable[..., Any]) -> None:
    write_tree(tmp_path / "repo", {"app/a.yaml": cm("a")})
    proc = sw("render", str(tmp_path / "repo" / "app"), "--directory-include", "{a.yaml")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "glob '{a.yaml': unclosed '{'" in proc.stderr


def test_files_of_other_tools_and_git_are_skipped(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    write_tree(tmp_path / "repo", {
        "app/a.yaml": cm("a"),
        "app/notes.txt": "not yaml: [",
        "app/.git/config.yaml": "broken: [",
        "app/kust/kustomization.yaml": "resources: [../a.yaml]\n",
        "app/chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
        "app/chart/values.yaml": "x: 1\n",
        "app/chart/values-prod.yaml": "x: 2\n",
        "app/chart/cm.yaml": cm("chart-cm"),
        "app/values.yaml": cm("values-without-chart"),  # no Chart.yaml next to it: a manifest
        "app/lib.libsonnet": "{}",
    })
    rendered = render_lib(tmp_path / "repo", recurse=True, tool="directory")
    assert [o["metadata"]["name"] for o in rendered.manifests] == ["a", "chart-cm", "values-without-chart"]


def test_disable_extension_filter_reads_every_file(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    write_tree(tmp_path / "repo", {"app/a.yaml": cm("a"), "app/b.manifest": cm("b")})
    assert len(render_lib(tmp_path / "repo").manifests) == 1
    names = [o["metadata"]["name"] for o in render_lib(tmp_path / "repo", disable_extension_filter=True).manifests]
    assert names == ["a", "b"]


def test_symlinked_file_inside_repo_is_read(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    write_tree(tmp_path / "repo", {"shared/cm.yaml": cm("shared"), "app/a.yaml": cm("a")})
    os.symlink("../shared/cm.yaml", tmp_path / "repo" / "app" / "link.yaml")
    assert [o["metadata"]["name"] for o in render_lib(tmp_path / "repo").manifests] == ["a", "shared"]


def test_jsonnet_files_are_skipped_with_a_warning(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    """Only when the directory plugin itself renders: a directory block lets discovery pick jsonnet."""
    from syncwright_directory import plugin

    root = write_tree(tmp_path / "repo", {"app/a.yaml": cm("a"), "app/x.jsonnet": "{}"})
    ctx = RenderContext(app_name="demo", app_namespace="demo", source=Source.model_validate({"repoURL": ""}),
                        source_dir=root / "app", repo_root=root, tool="directory")
    rendered = plugin.syncwright_render(ctx)
    assert rendered is not None and len(rendered.manifests) == 1
    assert render_lib(root, tool="directory").tool == "jsonnet"
    assert rendered.warnings and "app/x.jsonnet" in rendered.warnings[0]


def test_discovery_falls_back_to_directory(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    write_tree(tmp_path / "repo", {"app/a.yaml": cm("a")})
    assert render_lib(tmp_path / "repo").tool == "directory"


def test_plugins_lists_directory() -> None:
    import json

    result = CliRunner().invoke(main, ["plugins", "-o", "json"], catch_exceptions=False)
    rec = next(r for r in json.loads(result.stdout) if r["name"] == "directory")
    assert rec["distribution"] == "syncwright-directory"
    (st,) = rec["source_types"]
    assert st["name"] == "directory" and "recurse" in st["parameters"]
