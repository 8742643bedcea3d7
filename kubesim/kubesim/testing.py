"""pytest plugin: one Kubernetes cluster for the whole test suite.

`kube_cluster` (session) starts kubesim on an ephemeral port with a random
bearer token and writes a kubeconfig; when `SYNCWRIGHT_E2E_KUBECONFIG` (and
optionally `SYNCWRIGHT_E2E_CONTEXT`) is set it yields that real cluster
instead, and tests marked `kubesim_only` are skipped. `fresh_kubesim` gives a
test its own simulator. Loaded through the `pytest11` entry point, or with
`pytest_plugins = ["kubesim.testing"]`.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from .sim import Config, Simulator

ENV_KUBECONFIG = "SYNCWRIGHT_E2E_KUBECONFIG"
ENV_CONTEXT = "SYNCWRIGHT_E2E_CONTEXT"


@dataclass
class KubeCluster:
    """What a test needs to reach the cluster: a kubeconfig (+context) and its URL."""

    kubeconfig: Path
    context: str | None
    server: str
    is_kubesim: bool
    sim: Simulator | None = None

    def kubectl_args(self) -> list[str]:
        """Global flags that point kubectl at this cluster."""
        args = ["--kubeconfig", str(self.kubeconfig)]
        if self.context:
            args += ["--context", self.context]
        return args


def start_kubesim(directory: Path, **config: Any) -> KubeCluster:
    """Start an in-process kubesim and write `directory/kubeconfig` for it."""
    sim = Simulator(Config(token=secrets.token_hex(16), **config))
    url = sim.start(0)
    path = sim.write_kubeconfig(directory / "kubeconfig")
    return KubeCluster(kubeconfig=path, context="kubesim", server=url, is_kubesim=True, sim=sim)


def real_cluster() -> KubeCluster | None:
    """The cluster named by SYNCWRIGHT_E2E_KUBECONFIG, or None when it is unset."""
    path = os.environ.get(ENV_KUBECONFIG)
    if not path:
        return None
    kc = Path(path).expanduser()
    try:
        doc = yaml.safe_load(kc.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise pytest.UsageError(f"{ENV_KUBECONFIG}={path}: cannot read kubeconfig: {e}") from e
    context = os.environ.get(ENV_CONTEXT) or doc.get("current-context")
    ctx = next((c.get("context") or {} for c in doc.get("contexts") or []
                if c.get("name") == context), {})
    cluster = next((c.get("cluster") or {} for c in doc.get("clusters") or []
                    if c.get("name") == ctx.get("cluster")), {})
    if not cluster.get("server"):
        raise pytest.UsageError(f"{ENV_KUBECONFIG}={path}: context {context!r} names no "
                                "cluster with a server URL")
    return KubeCluster(kubeconfig=kc, context=os.environ.get(ENV_CONTEXT),
                       server=cluster["server"], is_kubesim=False, sim=None)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
             what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; its value is returned. Fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kubesim_only: needs kubesim-only features (fault "
                                       "injection, fail annotation); skipped on a real cluster")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get(ENV_KUBECONFIG):
        return
    skip = pytest.mark.skip(reason=f"kubesim-only test; {ENV_KUBECONFIG} points at a real "
                                   "cluster")
    for item in items:
        if "kubesim_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """The session's cluster: kubesim, or the real one from SYNCWRIGHT_E2E_KUBECONFIG."""
    real = real_cluster()
    if real is not None:
        yield real
        return
    cluster = start_kubesim(tmp_path_factory.mktemp("kubesim"))
    try:
        yield cluster
    finally:
        assert cluster.sim is not None
        cluster.sim.stop()


@pytest.fixture
def fresh_kubesim(tmp_path: Path) -> Iterator[KubeCluster]:
    """A kubesim of this test's own (always kubesim, even in an end-to-end run)."""
    cluster = start_kubesim(tmp_path)
    try:
        yield cluster
    finally:
        assert cluster.sim is not None
        cluster.sim.stop()
