"""Fixtures for the controller tests (helpers in ``controller_harness.py``, importable from the tests)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from controller_harness import Harness  # noqa: E402


@pytest.fixture
def harness(kube_cluster: Any, tmp_path: Path) -> Any:
    h = Harness(kube_cluster, tmp_path)
    yield h
    h.close()


@pytest.fixture
def fresh_harness(fresh_kubesim: Any, tmp_path: Path) -> Any:
    h = Harness(fresh_kubesim, tmp_path)
    yield h
    h.close()
