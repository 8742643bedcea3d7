"""pytest helpers for syncwright plugin authors (loaded through the ``pytest11`` entry point).

Fixtures:

- ``write_tree(root, {"rel/path.yaml": "dedented content"})`` writes a source tree;
- ``hooks``: the installed plugins behind the ``Hooks`` facade (loaded once per session);
- ``sw(*args, env=None, cwd=None)`` runs the real ``syncwright`` console script the way a user
  does (exit codes, stderr), isolated from the caller's ``SYNCWRIGHT_*`` settings and with a
  private cache directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

SYNCWRIGHT = Path(sys.executable).parent / "syncwright"


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: dedented content}`` under ``root``; return ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"))
    return root


@pytest.fixture()
def write_tree() -> Callable[[Path, Mapping[str, str]], Path]:
    """Write ``{relative path: dedented content}`` under a directory."""
    return write_files


@pytest.fixture(scope="session")
def hooks() -> Any:
    """The installed plugins behind the ``Hooks`` facade, loaded once per test session."""
    from .plugins import Hooks

    return Hooks.load()


@pytest.fixture()
def sw(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real ``syncwright`` console script (exit codes and stderr as users see them)."""

    def run(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if not k.startswith("SYNCWRIGHT_")}
        full["SYNCWRIGHT_CACHE"] = str(tmp_path / "sw-cache")  # syncwright's own cache, private
        full.update(env or {})
        return subprocess.run([str(SYNCWRIGHT), *args], capture_output=True, text=True, env=full,
                              cwd=cwd or tmp_path, timeout=timeout)

    return run
