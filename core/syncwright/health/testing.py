"""Run Argo CD ``health_test.yaml`` files against their ``health.lua`` (for users' customizations).

Argo CD keeps a ``health_test.yaml`` next to each ``health.lua``::

    tests:
    - healthStatus:
        status: Degraded
        message: "Back-off pulling image"
      inputPath: testdata/degraded.yaml

Each test runs the sibling ``health.lua`` on the object in ``inputPath``
(relative to the test file) and expects exactly that status and message (a
missing message means ""). Keys match case-insensitively, as Go decodes them.
Used by ``syncwright health --test DIR`` and from pytest::

    from syncwright.health.testing import collect, check

    @pytest.mark.parametrize("case", collect("resource_customizations"), ids=str)
    def test_customization(case):
        check(case)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api import HealthStatus
from ..errors import SpecError
from ..manifests import load_yaml_documents
from .customizations import HEALTH_SCRIPT, _read_script

TEST_FILE = "health_test.yaml"


@dataclass(frozen=True)
class HealthTestCase:
    """One ``tests`` entry: the script, the input object file and the expected health."""

    test_file: Path
    index: int
    script: Path
    input_path: Path
    expected: HealthStatus

    def __str__(self) -> str:
        return f"{self.test_file.parent.name}/{self.input_path.name}"


@dataclass(frozen=True)
class HealthTestResult:
    case: HealthTestCase
    actual: HealthStatus

    @property
    def passed(self) -> bool:
        return self.actual == self.case.expected


def _get(entry: Mapping[str, Any], key: str) -> Any:
    for k, v in entry.items():
        if isinstance(k, str) and k.lower() == key.lower():
            return v
    return None


def _load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read: {e}", context=str(path)) from e
    docs = [d for _, d in load_yaml_documents(text, str(path)) if d is not None]
    if len(docs) != 1:
        raise SpecError(f"expected one YAML document, found {len(docs)}", context=str(path))
    return docs[0]


def load_test_file(path: str | os.PathLike[str]) -> list[HealthTestCase]:
    """The cases of one ``health_test.yaml``; a malformed file is a SpecError naming it."""
    test_file = Path(path)
    doc = _load_yaml(test_file)
    tests = _get(doc, "tests") if isinstance(doc, Mapping) else None
    if not isinstance(tests, list):
        raise SpecError("expected a mapping with a 'tests' list", context=str(test_file))
    script = test_file.parent / HEALTH_SCRIPT
    if not script.is_file():
        raise SpecError(f"no {HEALTH_SCRIPT} next to the test file", context=str(test_file))
    cases = []
    for i, entry in enumerate(tests):
        where = f"{test_file}: tests[{i}]"
        if not isinstance(entry, Mapping):
            raise SpecError("test entry is not a mapping", context=where)
        expected = _get(entry, "healthStatus")
        input_path = _get(entry, "inputPath")
        if not isinstance(expected, Mapping) or not isinstance(input_path, str):
            raise SpecError("test entry needs healthStatus (a mapping) and inputPath (a string)", context=where)
        status = _get(expected, "status")
        message = _get(expected, "message")
        cases.append(HealthTestCase(
            test_file, i, script, test_file.parent / input_path,
            HealthStatus(str(status or ""), "" if message is None else str(message)),
        ))
    return cases


def collect(root: str | os.PathLike[str]) -> list[HealthTestCase]:
    """Every case of every ``health_test.yaml`` under ``root`` (sorted by path)."""
    base = Path(root)
    if base.is_file():
        return load_test_file(base)
    if not base.is_dir():
        raise SpecError("no such file or directory", context=str(base))
    return [case for f in sorted(base.rglob(TEST_FILE)) for case in load_test_file(f)]


_runner: Any = None


def run_case(case: HealthTestCase) -> HealthTestResult:
    """Run one case in the sandbox (a fresh global table, the same libraries as production)."""
    global _runner
    if _runner is None:
        from .lua import LuaRunner

        _runner = LuaRunner()
    obj = _load_yaml(case.input_path)
    if not isinstance(obj, Mapping):
        raise SpecError("input is not a Kubernetes object (a mapping)", context=str(case.input_path))
    actual = _runner.health(_read_script(case.script), obj, name=str(case.script))
    return HealthTestResult(case, actual)


def check(case: HealthTestCase) -> None:
    """Assert one case (for pytest): the message shows expected and actual."""
    result = run_case(case)
    assert result.passed, (
        f"{case.test_file} tests[{case.index}] ({case.input_path.name}): expected "
        f"{case.expected.status!r} {case.expected.message!r}, got {result.actual.status!r} {result.actual.message!r}"
    )
