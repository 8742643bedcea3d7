"""The cluster fixture: kubesim by default, a real cluster from SYNCWRIGHT_E2E_KUBECONFIG."""

from __future__ import annotations

import pytest

from kubesim.testing import KubeCluster

pytest_plugins = ["pytester"]

INNER = '''
import pytest

def test_cluster(kube_cluster):
    print("IS_KUBESIM", kube_cluster.is_kubesim, kube_cluster.server, kube_cluster.context)

@pytest.mark.kubesim_only
def test_only_on_kubesim(kube_cluster):
    assert kube_cluster.sim is not None
'''


@pytest.mark.kubesim_only
def test_e2e_env_selects_real_cluster(pytester: pytest.Pytester,
                                      fresh_kubesim: KubeCluster,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCWRIGHT_E2E_KUBECONFIG", str(fresh_kubesim.kubeconfig))
    monkeypatch.setenv("SYNCWRIGHT_E2E_CONTEXT", "kubesim")
    pytester.makepyfile(INNER)
    result = pytester.runpytest_subprocess("-s", "-p", "no:xdist")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines([f"*IS_KUBESIM False {fresh_kubesim.server} kubesim*"])


@pytest.mark.kubesim_only
def test_default_is_kubesim(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNCWRIGHT_E2E_KUBECONFIG", raising=False)
    pytester.makepyfile(INNER)
    result = pytester.runpytest_subprocess("-s", "-p", "no:xdist")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*IS_KUBESIM True https://127.0.0.1:*"])
