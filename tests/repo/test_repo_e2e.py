"""End to end with the installed plugins: the examples served from a Git repo render as they do locally."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SYNCWRIGHT = str(Path(sys.executable).parent / "syncwright")
EXAMPLES = ("helm-app", "kustomize-app", "directory-app", "jsonnet-app")


def _installed(tool: str) -> bool:
    from importlib.metadata import entry_points

    return any(ep.name == tool for ep in entry_points(group="syncwright"))


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES)
def test_example_from_git_matches_local(example: str, repos: Any, git_daemon: Any, tmp_path: Path,
                                        cache_dir: Path, helpers: Any) -> None:
    tool = example.removesuffix("-app")
    if not _installed(tool) or not (ROOT / "examples" / "apps" / f"{example}.yaml").exists():
        pytest.skip(f"the {tool} plugin or its example is not installed")
    repo = repos.create()
    shutil.copytree(ROOT / "examples", repo.work, dirs_exist_ok=True, ignore=shutil.ignore_patterns("apps"))
    repo.commit({}, "examples")
    doc = yaml.safe_load((ROOT / "examples" / "apps" / f"{example}.yaml").read_text())
    doc["spec"]["source"]["repoURL"] = git_daemon.url(repo)
    remote_app = tmp_path / "remote.yaml"
    remote_app.write_text(yaml.safe_dump(doc))
    env = {**os.environ, "SYNCWRIGHT_CACHE": str(cache_dir)}
    local = subprocess.run([SYNCWRIGHT, "render", "-f", str(ROOT / "examples" / "apps" / f"{example}.yaml")],
                           capture_output=True, text=True, env=env, timeout=120)
    assert local.returncode == 0, local.stderr
    for _ in range(2):  # cold, then from the manifest cache
        remote = subprocess.run([SYNCWRIGHT, "render", "-f", str(remote_app)], capture_output=True, text=True,
                                env=env, timeout=120)
        assert remote.returncode == 0, remote.stderr
        assert list(yaml.safe_load_all(remote.stdout)) == list(yaml.safe_load_all(local.stdout))
