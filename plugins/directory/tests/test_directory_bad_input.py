"""Bad input through the real CLI: a clear message naming the file and cause, exit 1, no stdout."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import ManifestError, PathEscapeError, select_files

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"

ALIAS_BOMB = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: bomb}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

Run = Callable[..., Any]


def _render(sw: Run, repo: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    proc = sw("render", str(repo / "app"), "--repo-root", str(repo), *extra, env=env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    return proc


def test_malformed_yaml_names_file_and_line(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {
        "app/a.yaml": CM.format("a"),
        "app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n",
    })
    proc = _render(sw, repo)
    assert "app/bad.yaml" in proc.stderr and "invalid YAML at line" in proc.stderr


def test_alias_bomb_rejected_quickly(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {"app/bomb.yaml": ALIAS_BOMB})
    start = time.monotonic()
    proc = _render(sw, repo)
    assert time.monotonic() - start < 5  # mostly process start; the library test below holds the 1 s bound
    assert "app/bomb.yaml" in proc.stderr and "alias bomb" in proc.stderr


def test_alias_bomb_rejected_in_library_under_a_second(tmp_path: Path, write_tree: Any) -> None:
    from syncwright.api import read_manifest_files

    repo = write_tree(tmp_path / "repo", {"app/bomb.yaml": ALIAS_BOMB})
    start = time.monotonic()
    with pytest.raises(ManifestError, match="alias bomb"):
        read_manifest_files(select_files(repo / "app", repo))
    assert time.monotonic() - start < 1.0


def test_combined_size_over_cap(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {
        "app/a.yaml": CM.format("a") + "data:\n  big: " + "x" * 600 + "\n",
        "app/b.yaml": CM.format("b") + "data:\n  big: " + "x" * 600 + "\n",
        "app/c.jsonnet": "{}",  # jsonnet files do not count, as in Argo CD
    })
    proc = _render(sw, repo, env={"SYNCWRIGHT_MAX_DIR_MANIFESTS_BYTES": "1000"})
    assert "combined size cap of 1000 bytes" in proc.stderr and "app/b.yaml" in proc.stderr


def test_default_cap_is_10_mb(tmp_path: Path, write_tree: Any) -> None:
    repo = write_tree(tmp_path / "repo", {"app/a.yaml": CM.format("a")})
    (repo / "app" / "big.yaml").write_bytes(b"# " + b"x" * (10 * 1024 * 1024) + b"\n")
    with pytest.raises(ManifestError, match="10485760 bytes"):
        select_files(repo / "app", repo)


def test_document_not_a_mapping(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {"app/list.yaml": CM.format("a") + "---\n- just\n- a list\n"})
    proc = _render(sw, repo)
    assert "app/list.yaml:6" in proc.stderr and "not a mapping" in proc.stderr


@pytest.mark.parametrize(("text", "missing"), [
    ("kind: ConfigMap\nmetadata: {name: a}\n", "apiVersion"),
    ("apiVersion: v1\nmetadata: {name: a}\n", "kind"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n", "metadata.name"),
])
def test_missing_required_fields(tmp_path: Path, write_tree: Any, sw: Run, text: str, missing: str) -> None:
    repo = write_tree(tmp_path / "repo", {"app/obj.yaml": text})
    proc = _render(sw, repo)
    assert "app/obj.yaml" in proc.stderr and f"missing {missing}" in proc.stderr


def test_json_file_errors_name_the_file(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {"app/obj.json": '{"apiVersion": "v1",\n "kind": }'})
    proc = _render(sw, repo)
    assert "app/obj.json" in proc.stderr and "invalid JSON at line 2" in proc.stderr


def test_duplicate_identity(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {"app/a.yaml": CM.format("same"), "app/b.yaml": CM.format("same")})
    proc = _render(sw, repo)
    assert "duplicate resource ConfigMap same" in proc.stderr


def _outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    (out / "dir").mkdir(parents=True)
    (out / "secret.yaml").write_text(CM.format("stolen"))
    (out / "dir" / "secret.yaml").write_text(CM.format("stolen-too"))
    return out


def test_symlinked_file_escaping_repo(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {"app/a.yaml": CM.format("a")})
    os.symlink(os.path.relpath(_outside(tmp_path) / "secret.yaml", repo / "app"), repo / "app" / "evil.yaml")
    proc = _render(sw, repo)
    assert "app/evil.yaml" in proc.stderr and "symlink" in proc.stderr
    with pytest.raises(PathEscapeError, match="illegal filepath in symlink: app/evil.yaml"):
        select_files(repo / "app", repo)


def test_symlinked_dir_escaping_repo(tmp_path: Path, write_tree: Any, sw: Run) -> None:
    repo = write_tree(tmp_path / "repo", {"app/a.yaml": CM.format("a")})
    os.symlink(_outside(tmp_path) / "dir", repo / "app" / "sub")
    proc = _render(sw, repo, "--directory-recurse")
    assert "app/sub" in proc.stderr and "symlink" in proc.stderr
    with pytest.raises(PathEscapeError, match="illegal filepath in symlink: app/sub"):
        select_files(repo / "app", repo)


def test_symlink_to_non_regular_file(tmp_path: Path, write_tree: Any) -> None:
    repo = write_tree(tmp_path / "repo", {"app/a.yaml": CM.format("a")})
    os.mkfifo(repo / "fifo")
    os.symlink("../fifo", repo / "app" / "pipe.yaml")
    with pytest.raises(PathEscapeError, match="app/pipe.yaml is not a regular file"):
        select_files(repo / "app", repo)


def test_dangling_symlink_only_matters_when_selected(tmp_path: Path, write_tree: Any) -> None:
    repo = write_tree(tmp_path / "repo", {"app/a.yaml": CM.format("a")})
    os.symlink("missing", repo / "app" / "NOTES")  # not a manifest name: ignored
    assert [f.rel for f in select_files(repo / "app", repo)] == ["app/a.yaml"]
    os.symlink("missing.yaml", repo / "app" / "b.yaml")
    with pytest.raises(PathEscapeError, match="illegal filepath in symlink: app/b.yaml is a dangling link"):
        select_files(repo / "app", repo)
