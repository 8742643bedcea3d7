"""Fixtures for the directory plugin tests: trees on disk, the CLI, library renders."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import Rendered, Source
from syncwright.plugins import Hooks
from syncwright.render import BuildInfo, render_source

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
SYNCWRIGHT = Path(sys.executable).parent / "syncwright"


def _write_tree(root: Path, files: Mapping[str, str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"))
    return root


@pytest.fixture()
def write_tree() -> Callable[[Path, Mapping[str, str]], Path]:
    """Write ``{relative path: dedented content}`` under a directory."""
    return _write_tree


@pytest.fixture(scope="session")
def hooks() -> Hooks:
    return Hooks.load()


@pytest.fixture()
def render_lib(hooks: Hooks) -> Callable[..., Rendered]:
    """Render ``<root>/<path>`` through the library (``render_source``)."""

    def run(root: Path, path: str = "app", *, tool: str | None = None, **directory: Any) -> Rendered:
        raw: dict[str, Any] = {"repoURL": "", "path": path}
        if directory:
            raw["directory"] = directory
        source = Source.model_validate(raw)
        return render_source(hooks, source, root, BuildInfo("demo", "demo"), tool=tool)

    return run


@pytest.fixture()
def sw(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real ``syncwright`` console script (exit codes and stderr as users see them)."""

    def run(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if not k.startswith("SYNCWRIGHT_")}
        full.update(env or {})
        return subprocess.run(
            [str(SYNCWRIGHT), *args], capture_output=True, text=True, env=full, cwd=tmp_path, timeout=60,
        )

    return run
