"""Fixtures for the kustomize plugin tests: the real builder, raw builds, renders, the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncwright.plugins import Hooks
from syncwright.model import Source
from syncwright.render import BuildInfo, render_source
from syncwright_kustomize.tool import Builder, find_builder

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
KAPP = EXAMPLES / "kustomize-app"
SYNCWRIGHT = Path(sys.executable).parent / "syncwright"


def docs(text: str | bytes) -> list[dict[str, Any]]:
    """A multi-document YAML stream as a list of objects (empty documents dropped)."""
    return [d for d in yaml.safe_load_all(text) if d is not None]


@pytest.fixture(scope="session")
def builder() -> Builder:
    """The binary the plugin builds with (kustomize, else kubectl) — raw runs use the same one."""
    found = find_builder()
    if found.binary.path is None:  # pragma: no cover - `make test` installs kubectl first
        pytest.skip("neither kustomize nor kubectl is installed (run `make tools`)")
    return found


@pytest.fixture(scope="session")
def raw_build(builder: Builder) -> Callable[..., list[dict[str, Any]]]:
    """Run the raw tool on a directory, outside syncwright, and parse its output."""

    def run(directory: Path, *options: str) -> list[dict[str, Any]]:
        proc = subprocess.run(
            [*builder.prefix, str(directory), *options],
            capture_output=True, text=True, check=False, cwd=directory,
            env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
        )
        assert proc.returncode == 0, proc.stderr
        return docs(proc.stdout)

    return run


@pytest.fixture()
def render(hooks: Hooks) -> Callable[..., list[dict[str, Any]]]:
    """Render through the library: ``render(repo_root, path, kustomize={...})``."""

    def run(root: Path, path: str, kustomize: Mapping[str, Any] | None = None, *, app: str = "test-app",
            tool: str | None = None) -> list[dict[str, Any]]:
        raw: dict[str, Any] = {"repoURL": str(root), "path": path}
        if kustomize is not None:
            raw["kustomize"] = dict(kustomize)
        result = render_source(hooks, Source.model_validate(raw), root, BuildInfo(app, "default"), tool=tool)
        assert result.tool == "kustomize"
        run.last = result  # type: ignore[attr-defined]
        return list(result.manifests)

    return run


@pytest.fixture()
def sw() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the ``syncwright`` CLI in a subprocess with an extra environment."""

    def run(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if k != "SYNCWRIGHT_KUSTOMIZE_BUILD_OPTIONS"}
        full.update(env or {})
        return subprocess.run([str(SYNCWRIGHT), *args], capture_output=True, text=True, check=False,
                              env=full, cwd=cwd or REPO, timeout=120)

    return run


@pytest.fixture()
def example_copy(tmp_path: Path) -> Path:
    """A private copy of examples/kustomize-app as a repository of its own."""
    dest = tmp_path / "repo"
    shutil.copytree(KAPP, dest)
    return dest


def _write(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (relative path → text) under ``root``; return ``root``."""
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def _tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes (and every link's target) under ``root``, to prove nothing changed."""
    snap: dict[str, bytes] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = Path(dirpath) / name
            rel = str(full.relative_to(root))
            snap[rel] = os.readlink(full).encode() if full.is_symlink() else full.read_bytes()
    return snap


@pytest.fixture()
def write() -> Callable[[Path, Mapping[str, str]], Path]:
    """``write(root, {relpath: text})`` writes a tree and returns ``root``."""
    return _write


@pytest.fixture()
def snapshot() -> Callable[[Path], dict[str, bytes]]:
    """``snapshot(root)``: every file's bytes, to prove a checkout was not changed."""
    return _tree_snapshot
