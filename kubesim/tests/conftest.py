"""Fixtures shared by kubesim's fidelity tests.

They work against kubesim (default) and against a real cluster named by
SYNCWRIGHT_E2E_KUBECONFIG, so the same assertions hold for both.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterator

# The shared helpers sit beside this file; put them on the path whatever the rootdir
# (the suite runs from kubesim/ and from the repository root with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest
from kubernetes import client, config

from kubesim.testing import KubeCluster
from kubesim_testlib import KUBECTL, Raw


@pytest.fixture(scope="session")
def k8s_config(kube_cluster: KubeCluster) -> client.Configuration:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kube_cluster.kubeconfig),
                            context=kube_cluster.context, client_configuration=cfg)
    return cfg


@pytest.fixture(scope="session")
def k8s(k8s_config: client.Configuration) -> Iterator[client.ApiClient]:
    api = client.ApiClient(k8s_config)
    yield api
    api.close()


@pytest.fixture(scope="session")
def raw(k8s_config: client.Configuration) -> Raw:
    return Raw(k8s_config)


@pytest.fixture
def ns(k8s: client.ApiClient) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(k8s)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    try:
        core.delete_namespace(name)
    except client.ApiException:
        pass


@pytest.fixture
def kubectl(kube_cluster: KubeCluster,
            tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real kubectl against the cluster; check=True by default."""
    env = {**os.environ, "KUBECACHEDIR": str(tmp_path / "kube-cache"), "HOME": str(tmp_path)}

    def run(*args: str, check: bool = True, input: str | None = None,  # noqa: A002
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([KUBECTL, *kube_cluster.kubectl_args(), *args], env=env,
                              input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    return run


@pytest.fixture(autouse=True)
def _no_internal_errors(kube_cluster: KubeCluster) -> Iterator[None]:
    """Every test also checks that kubesim answered no request with a bug (500)."""
    yield
    if kube_cluster.sim is not None:
        errors = list(kube_cluster.sim.internal_errors) + list(kube_cluster.sim.controllers.errors)
        kube_cluster.sim.internal_errors.clear()
        kube_cluster.sim.controllers.errors.clear()
        assert not errors, f"kubesim internal errors: {errors}"
