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
