"""Bad jsonnet input through the real CLI: clear message naming file and cause, exit 1, no stdout."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import RenderContext, Source, ToolError

Run = Callable[..., Any]
CM = "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: '%s'}}"
LOOP = """
local f(x) = if x < 0 then x else f(x + 1) tailstrict;
{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'loop'}, data: {n: std.toString(f(0))}}
"""


def _render(sw: Run, repo: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    proc = sw("render", str(repo / "app"), "--repo-root", str(repo), *extra, env=env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    return proc


def _children() -> set[int]:
    """Live child processes of this process (Linux)."""
    out: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            out.update(int(p) for p in (task / "children").read_text().split())
        except OSError:
            pass
    return out


def test_infinite_loop_killed_at_timeout(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
                                          "app/loop.jsonnet": LOOP})
    start = time.monotonic()
    proc = _render(sw, repo, "--timeout", "1")
    assert time.monotonic() - start < 6  # 1 s timeout + process start on a loaded box
    assert "jsonnet evaluation of app/loop.jsonnet timed out after 1s and was killed" in proc.stderr


def test_timeout_really_stops_the_evaluation(tmp_path: Path, write_tree: Any) -> None:
    """In-process: after the error no child is left burning CPU."""
    from syncwright_jsonnet import plugin

    root = write_tree(tmp_path / "repo", {"app/loop.jsonnet": LOOP})
    before = _children()
    ctx = RenderContext(app_name="demo", app_namespace="demo", source=Source.model_validate({"repoURL": ""}),
                        source_dir=root / "app", repo_root=root, tool="jsonnet", timeout=0.5)
    start = time.monotonic()
    with pytest.raises(ToolError, match="timed out after 0.5s and was killed"):
        plugin.syncwright_render(ctx)
    assert time.monotonic() - start < 2
    assert _children() - before == set()


def test_output_over_cap(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    big = "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'big'}, data: {x: std.repeat('x', 100000)}}"
    repo = write_tree(tmp_path / "repo", {"app/big.jsonnet": big})
    proc = _render(sw, repo, env={"SYNCWRIGHT_MAX_TOOL_OUTPUT": "10000"})
    assert "jsonnet evaluation of app/big.jsonnet failed" in proc.stderr
    assert "over the 10000-byte cap (output cap)" in proc.stderr


def test_memory_bomb_hits_the_memory_limit(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    bomb = "{a: std.length(std.makeArray(300000000, function(i) [i, i]))}"
    repo = write_tree(tmp_path / "repo", {"app/mem.jsonnet": bomb})
    start = time.monotonic()
    proc = _render(sw, repo, env={"SYNCWRIGHT_JSONNET_MAX_MEMORY": "300000000"})
    assert time.monotonic() - start < 10
    assert "app/mem.jsonnet" in proc.stderr and "SYNCWRIGHT_JSONNET_MAX_MEMORY" in proc.stderr


def test_syntax_error_names_file_and_line(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {"app/bad.jsonnet": "{\n  a: 1,\n  b: ,\n}\n"})
    proc = _render(sw, repo)
    assert "STATIC ERROR: app/bad.jsonnet:3:6" in proc.stderr


def test_runtime_error_names_file_and_line(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {"app/err.jsonnet": "local x = 1;\nerror 'boom: ' + x\n"})
    proc = _render(sw, repo)
    assert "RUNTIME ERROR: boom: 1" in proc.stderr and "app/err.jsonnet:2:" in proc.stderr


def test_error_in_lib_names_the_lib(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {
        "lib/bad.libsonnet": "{\n  x: ,\n}\n", "app/a.jsonnet": "import 'bad.libsonnet'",
    })
    proc = _render(sw, repo, "--jsonnet-libs", "lib")
    assert "lib/bad.libsonnet:2" in proc.stderr


def test_lib_path_escaping_repo_root(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    (tmp_path / "outside").mkdir()
    repo = write_tree(tmp_path / "repo", {"app/a.jsonnet": CM % "a"})
    proc = _render(sw, repo, "--jsonnet-libs", "../outside")
    assert "jsonnet lib '../outside' resolved to outside repository root" in proc.stderr
    assert str(tmp_path / "outside") not in proc.stderr


def test_symlinked_jsonnet_escaping_repo(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    (tmp_path / "evil.jsonnet").write_text(CM % "stolen")
    repo = write_tree(tmp_path / "repo", {"app/a.jsonnet": CM % "a"})
    os.symlink("../../evil.jsonnet", repo / "app" / "b.jsonnet")
    proc = _render(sw, repo)
    assert "app/b.jsonnet" in proc.stderr and "symlink" in proc.stderr


@pytest.mark.parametrize(("source", "message"), [
    ("'hello'", "app/x.jsonnet: output is a str"),
    ("{items: {a: 1}}", "app/x.jsonnet: output.items.a is a int"),
    ("[%s, {apiVersion: 'v1', kind: 'ConfigMap', metadata: {}}]" % (CM % "a"),
     "app/x.jsonnet output[1]:1: ConfigMap object is missing metadata.name"),
    ("{a: {kind: 'ConfigMap', metadata: {name: 'x'}}}", "app/x.jsonnet output.a:1: ConfigMap object is missing apiVersion"),
])
def test_output_that_is_not_kubernetes_objects(tmp_path: Path, write_tree: Any, sw: Run, source: str, message: str) -> None:
    repo = write_tree(tmp_path / "repo", {"app/x.jsonnet": source})
    proc = _render(sw, repo)
    assert message in proc.stderr


def test_duplicate_between_jsonnet_and_yaml(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {
        "app/a.jsonnet": CM % "same", "app/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\n",
    })
    proc = _render(sw, repo)
    assert "duplicate resource ConfigMap same" in proc.stderr


def test_malformed_yaml_next_to_jsonnet(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {"app/a.jsonnet": CM % "a", "app/b.yaml": "a: [\n"})
    proc = _render(sw, repo)
    assert "app/b.yaml" in proc.stderr and "invalid YAML at line" in proc.stderr
