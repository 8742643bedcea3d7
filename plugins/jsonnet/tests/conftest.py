"""Fixtures for the jsonnet plugin tests: trees on disk, the CLI, library renders."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import Rendered, Source
from syncwright.plugins import Hooks
from syncwright.render import BuildInfo, render_source

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
SYNCWRIGHT = Path(sys.executable).parent / "syncwright"


@pytest.fixture()
def render_lib(hooks: Hooks) -> Callable[..., Rendered]:
    """Render ``<root>/<path>`` through the library (``render_source``)."""

    def run(root: Path, path: str = "app", *, tool: str | None = None, app_name: str = "demo",
            **directory: Any) -> Rendered:
        raw: dict[str, Any] = {"repoURL": "", "path": path}
        if directory:
            raw["directory"] = directory
        source = Source.model_validate(raw)
        return render_source(hooks, source, root, BuildInfo(app_name, "demo"), tool=tool)

    return run

