"""Fault injection (Python API and control endpoint) and `python -m kubesim serve`."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import urllib3
import yaml
from kubernetes import client, config, watch

from kubesim_testlib import Raw
from kubesim.testing import KubeCluster

pytestmark = pytest.mark.kubesim_only


def _raw(cluster: KubeCluster) -> Raw:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
    return Raw(cfg)


def test_error_rates_and_latency(fresh_kubesim: KubeCluster) -> None:
    sim = fresh_kubesim.sim
    assert sim is not None
    raw = _raw(fresh_kubesim)
    sim.faults.set(error_rates={503: 1.0})
    code, body = raw.request("GET", "/api/v1/namespaces")
    assert code == 503 and body["reason"] == "ServiceUnavailable"
    sim.faults.set(error_rates={429: 1.0})
    code, body = raw.request("GET", "/api/v1/namespaces")
    assert code == 429 and body["details"]["retryAfterSeconds"] == 1
    sim.faults.set(error_rates={}, latency=0.3)
    t0 = time.monotonic()
    assert raw.request("GET", "/api/v1/namespaces")[0] == 200
    assert time.monotonic() - t0 >= 0.3
    sim.faults.clear()
    # Control endpoints are not subject to faults.
    sim.faults.set(error_rates={500: 1.0})
    code, snap = raw.request("GET", "/kubesim/faults")
    assert code == 200 and snap["error_rates"] == {"500": 1.0}


def test_control_endpoint_sets_faults(fresh_kubesim: KubeCluster) -> None:
    raw = _raw(fresh_kubesim)
    code, _ = raw.request("POST", "/kubesim/faults", {"errorRates": {"500": 1.0}})
    assert code == 200
    assert raw.request("GET", "/api/v1/namespaces")[0] == 500
    assert raw.request("DELETE", "/kubesim/faults")[0] == 200
    assert raw.request("GET", "/api/v1/namespaces")[0] == 200
    code, body = raw.request("POST", "/kubesim/faults", {"errorRates": {"418": 1.0}})
    assert code == 400 and "418" in body["message"]
    code, body = raw.request("POST", "/kubesim/controllers", {"delays": {"pod": 0.5}})
    assert code == 200 and body["delays"]["pod"] == 0.5


def test_control_endpoint_needs_token(fresh_kubesim: KubeCluster) -> None:
    raw = _raw(fresh_kubesim)
    r = raw.pool.request("POST", raw.host + "/kubesim/faults", body=b'{"clear": true}',
                         retries=False)
    assert r.status == 401


def test_resets_and_outage(fresh_kubesim: KubeCluster) -> None:
    sim = fresh_kubesim.sim
    assert sim is not None
    raw = _raw(fresh_kubesim)
    sim.faults.set(reset_rate=1.0)
    with pytest.raises((urllib3.exceptions.HTTPError, OSError)):
        raw.request("GET", "/api/v1/namespaces")
    sim.faults.clear()
    sim.faults.unavailable(0.5)
    with pytest.raises((urllib3.exceptions.HTTPError, OSError)):
        raw.request("GET", "/api/v1/namespaces")
    time.sleep(0.6)
    assert raw.request("GET", "/api/v1/namespaces")[0] == 200


def test_cut_watches(fresh_kubesim: KubeCluster) -> None:
    sim = fresh_kubesim.sim
    assert sim is not None
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(fresh_kubesim.kubeconfig), client_configuration=cfg)
    core = client.CoreV1Api(client.ApiClient(cfg))
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    threading.Timer(0.3, sim.faults.cut_watches).start()
    t0 = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017 - urllib3/protocol error types vary
        for _ in watch.Watch().stream(core.list_namespaced_config_map, "default",
                                      resource_version=rv, timeout_seconds=20):
            pass
    assert time.monotonic() - t0 < 5


def test_cli_serve_writes_kubeconfig(tmp_path: Path) -> None:
    kc = tmp_path / "kc.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "kubesim", "serve", "--port", "0",
                             "--kubeconfig-out", str(kc), "--token", "s3cret"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:")
        doc = yaml.safe_load(kc.read_text())
        assert doc["clusters"][0]["cluster"]["server"] == url
        assert doc["users"][0]["user"]["token"] == "s3cret"
        raw = _raw(KubeCluster(kc, None, url, True))
        assert raw.request("GET", "/version")[1]["major"] == "1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
