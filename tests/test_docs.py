"""Docs stay in step with the code: every hook documented and tested."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from syncwright import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("syncwright_")]


def test_the_five_hooks_exist() -> None:
    assert sorted(HOOKS) == sorted([
        "syncwright_source_types", "syncwright_discover", "syncwright_render",
        "syncwright_health", "syncwright_sync_hook",
    ])


def test_every_hookspec_has_a_docstring_with_return_contract() -> None:
    for name in HOOKS:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "versionadded" in doc, name
        assert ":return:" in doc or "None" in doc, name


def test_hook_pages_are_generated_and_current() -> None:
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_hook_docs.py"), "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout
    index = (ROOT / "docs" / "hooks" / "README.md").read_text()
    for name in HOOKS:
        assert f"({name}.md)" in index


def test_every_hook_has_a_test() -> None:
    tests = "".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py") if p.name != "test_docs.py")
    for name in HOOKS:
        assert f"def {name}(" in tests, f"no test implements {name}"


def test_readme_has_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def _env() -> dict[str, str]:
    import os
    import tempfile

    return {**os.environ, "SYNCWRIGHT_CACHE": tempfile.mkdtemp(prefix="sw-docs-")}


def test_readme_render_commands_work() -> None:
    """Every `syncwright render` line of the README's tour runs and prints manifests."""
    import shlex

    bindir = Path(sys.executable).parent
    lines = [ln[len("$ "):].split("  #")[0].strip() for ln in (ROOT / "README.md").read_text().splitlines()
             if ln.startswith("$ syncwright render")]
    assert len(lines) >= 3
    env = _env()
    for line in lines:
        argv = shlex.split(line)
        res = subprocess.run([str(bindir / argv[0]), *argv[1:]], cwd=ROOT, capture_output=True, text=True, env=env,
                             timeout=120)
        assert res.returncode == 0, f"{line}: {res.stderr}"
        assert "apiVersion" in res.stdout and res.stderr == "", line
