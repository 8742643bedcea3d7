"""Every example Application renders (the examples are documentation; they must keep working)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = sorted((ROOT / "examples" / "apps").glob("*.yaml"))


@pytest.mark.parametrize("app", APPS, ids=[p.stem for p in APPS])
def test_example_app_renders(app: Path) -> None:
    env = {**os.environ, "SYNCWRIGHT_CMP_DIR": str(ROOT / "examples" / "cmp-plugins"),
           "SYNCWRIGHT_CACHE": tempfile.mkdtemp(prefix="sw-examples-")}
    res = subprocess.run([str(Path(sys.executable).parent / "syncwright"), "render", "-f", str(app), "-o", "json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    items = json.loads(res.stdout)["items"]
    assert items and all(o.get("kind") and o.get("metadata", {}).get("name") for o in items)
    assert res.stderr == ""
