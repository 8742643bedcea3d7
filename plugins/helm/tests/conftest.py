"""Fixtures for the helm plugin tests: the real helm, raw runs of it, tiny charts, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from syncwright.testing import write_files
import yaml

from syncwright.api import find_tool

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
SYNCWRIGHT = Path(sys.executable).parent / "syncwright"

WriteChart = Callable[[Path, Mapping[str, str]], Path]


@pytest.fixture(scope="session")
def helm_bin() -> str:
    binary = find_tool("helm", "SYNCWRIGHT_HELM_REAL", "make tools")
    if binary.path is None:  # pragma: no cover - `make test` installs helm first
        pytest.skip("helm binary not installed (run `make tools`)")
    return binary.path


def isolated_env(home: Path) -> dict[str, str]:
    """An environment for raw helm runs: private homes, no kubeconfig, no syncwright knobs."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "KUBECONFIG": str(home / "no-kubeconfig"),
    }


def docs(text: str | bytes) -> list[dict[str, Any]]:
    """A multi-document YAML stream as a list of objects (empty documents dropped)."""
    return [d for d in yaml.safe_load_all(text) if d is not None]


@pytest.fixture()
def raw_helm(helm_bin: str, tmp_path: Path) -> Callable[..., list[dict[str, Any]]]:
    """Run ``helm template`` directly (the reference output) and parse it."""

    def run(chart_dir: Path, *args: str) -> list[dict[str, Any]]:
        proc = subprocess.run(
            [helm_bin, "template", ".", *args],
            cwd=chart_dir, capture_output=True, env=isolated_env(tmp_path / "raw-home"), check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode()
        return docs(proc.stdout)

    return run






_SMALL_CHART = {
    "Chart.yaml": """
        apiVersion: v2
        name: small
        version: 0.1.0
    """,
    "values.yaml": """
        name: cm
    """,
    "templates/cm.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Values.name }}
        data:
          release: {{ .Release.Name }}
    """,
}


@pytest.fixture()
def small_chart(tmp_path: Path) -> Path:
    """A one-ConfigMap chart at ``<repo>/small`` (the repo root is its parent)."""
    return write_files(tmp_path / "repo" / "small", _SMALL_CHART)
