"""The simulated controllers move workloads to the states a real cluster reaches."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim_testlib import Raw
from kubesim.testing import KubeCluster, wait_for


def _cond(obj: dict[str, Any], ctype: str) -> str | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == ctype:
            return str(c["status"])
    return None


def _job(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    tmeta: dict[str, Any] = {"annotations": annotations} if annotations else {}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": 0, "template": {"metadata": tmeta, "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}


def test_deployment_replicaset_pods(raw: Raw, ns: str) -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d"}},
                    "template": {"metadata": {"labels": {"app": "d"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    raw.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", dep)

    def ready() -> dict[str, Any] | None:
        _, d = raw.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/d")
        st = d.get("status") or {}
        ok = (st.get("availableReplicas") == 3 and st.get("updatedReplicas") == 3
              and st.get("observedGeneration") == d["metadata"]["generation"])
        return d if ok else None

    d = wait_for(ready, timeout=30, what="deployment available")
    assert _cond(d, "Available") == "True" and _cond(d, "Progressing") == "True"
    _, rs = raw.request("GET", f"/apis/apps/v1/namespaces/{ns}/replicasets")
    assert len(rs["items"]) == 1
    owner = rs["items"][0]["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Deployment" and owner["uid"] == d["metadata"]["uid"]
    _, pods = raw.request("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dd")
    assert len(pods["items"]) == 3
    assert all(p["status"]["phase"] == "Running" for p in pods["items"])
    _, events = raw.request("GET", f"/api/v1/namespaces/{ns}/events?fieldSelector="
                                   "involvedObject.kind%3DDeployment,involvedObject.name%3Dd")
    assert "ScalingReplicaSet" in {e["reason"] for e in events["items"]}


def test_statefulset_and_daemonset_status(raw: Raw, ns: str) -> None:
    tmpl = {"metadata": {"labels": {"app": "s"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"},
           "spec": {"replicas": 2, "serviceName": "s", "selector": {"matchLabels": {"app": "s"}},
                    "template": tmpl}}
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
          "spec": {"selector": {"matchLabels": {"app": "s"}}, "template": tmpl}}
    raw.request("POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets", sts)
    raw.request("POST", f"/apis/apps/v1/namespaces/{ns}/daemonsets", ds)
    wait_for(lambda: raw.request("GET", f"/apis/apps/v1/namespaces/{ns}/statefulsets/s")[1]
             .get("status", {}).get("readyReplicas") == 2, timeout=30, what="sts ready")
    wait_for(lambda: raw.request("GET", f"/apis/apps/v1/namespaces/{ns}/daemonsets/ds")[1]
             .get("status", {}).get("numberReady", 0) >= 1, timeout=30, what="ds ready")
    assert raw.request("GET", f"/api/v1/namespaces/{ns}/pods/s-1")[0] == 200


def test_job_completes(raw: Raw, ns: str) -> None:
    raw.request("POST", f"/apis/batch/v1/namespaces/{ns}/jobs", _job("ok"))
    wait_for(lambda: _cond(raw.request("GET", f"/apis/batch/v1/namespaces/{ns}/jobs/ok")[1],
                           "Complete") == "True", timeout=30, what="job complete")
    _, job = raw.request("GET", f"/apis/batch/v1/namespaces/{ns}/jobs/ok")
    assert job["status"]["succeeded"] == 1 and job["status"]["completionTime"]


@pytest.mark.kubesim_only
def test_job_fails_with_annotation_after_duration(raw: Raw, ns: str) -> None:
    import time
    t0 = time.monotonic()
    raw.request("POST", f"/apis/batch/v1/namespaces/{ns}/jobs",
                _job("bad", {"kubesim.dev/fail": "true", "kubesim.dev/duration": "1s"}))
    time.sleep(0.5)
    _, job = raw.request("GET", f"/apis/batch/v1/namespaces/{ns}/jobs/bad")
    assert _cond(job, "Failed") is None
    wait_for(lambda: _cond(raw.request("GET", f"/apis/batch/v1/namespaces/{ns}/jobs/bad")[1],
                           "Failed") == "True", timeout=10, what="job failed")
    assert time.monotonic() - t0 >= 1.0
    _, pods = raw.request("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector=job-name%3Dbad")
    assert [p["status"]["phase"] for p in pods["items"]] == ["Failed"]


@pytest.mark.kubesim_only  # real clusters may bind on first consumer / have no LB provider
def test_pvc_binds_and_loadbalancer_gets_ip(raw: Raw, ns: str) -> None:
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
           "spec": {"accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}}}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
           "spec": {"type": "LoadBalancer", "selector": {"app": "x"},
                    "ports": [{"port": 80}]}}
    raw.request("POST", f"/api/v1/namespaces/{ns}/persistentvolumeclaims", pvc)
    raw.request("POST", f"/api/v1/namespaces/{ns}/services", svc)
    wait_for(lambda: raw.request("GET", f"/api/v1/namespaces/{ns}/persistentvolumeclaims/data")
             [1].get("status", {}).get("phase") == "Bound", timeout=30, what="pvc bound")
    wait_for(lambda: raw.request("GET", f"/api/v1/namespaces/{ns}/services/lb")[1]
             .get("status", {}).get("loadBalancer", {}).get("ingress"), timeout=30,
             what="lb ip")


@pytest.mark.kubesim_only
def test_controllers_can_be_switched_off_and_delayed(fresh_kubesim: KubeCluster) -> None:
    sim = fresh_kubesim.sim
    assert sim is not None
    sim.controllers.configure(enabled={"pod": False})
    rt = sim.registry.lookup("", "v1", "pods")
    assert rt is not None
    sim.api.create(rt, "default", {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "x"}]}}, manager="t")
    import time
    time.sleep(0.5)

    def phase() -> str:
        entry = sim.store.get(rt.key, "default", "p")
        assert entry is not None
        return str(entry.obj["status"]["phase"])

    assert phase() == "Pending"
    sim.controllers.configure(enabled={"pod": True}, delays={"pod": 0.0})
    sim.controllers.enqueue("pod", "default", "p")
    wait_for(lambda: phase() == "Running", what="pod running")
    with pytest.raises(KeyError):
        sim.controllers.configure(enabled={"nonsense": True})


def test_default_service_account_per_namespace(raw: Raw, ns: str) -> None:
    wait_for(lambda: raw.request("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default")[0]
             == 200, what="default service account")


@pytest.mark.kubesim_only  # needs an ingress controller and metrics on a real cluster
def test_ingress_hpa_and_pdb_status(raw: Raw, ns: str) -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "h"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "h"}},
                    "template": {"metadata": {"labels": {"app": "h"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    raw.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", dep)
    ing = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"},
           "spec": {"defaultBackend": {"service": {"name": "h", "port": {"number": 80}}}}}
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "h"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "name": "h"}, "minReplicas": 1, "maxReplicas": 5}}
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "h"}}}}
    raw.request("POST", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", ing)
    raw.request("POST", f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers", hpa)
    raw.request("POST", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", pdb)
    wait_for(lambda: raw.request("GET", f"/apis/networking.k8s.io/v1/namespaces/{ns}/"
                                        "ingresses/i")[1].get("status", {}).get(
        "loadBalancer", {}).get("ingress"), what="ingress address")
    wait_for(lambda: raw.request("GET", f"/apis/autoscaling/v2/namespaces/{ns}/"
                                        "horizontalpodautoscalers/h")[1].get("status", {}).get(
        "currentReplicas") == 2, what="hpa status")
    wait_for(lambda: raw.request("GET", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/"
                                        "p")[1].get("status", {}).get("disruptionsAllowed") == 1,
             timeout=20, what="pdb status")


@pytest.mark.kubesim_only
def test_fail_annotation_crash_loops_and_deadline_exceeds(raw: Raw, ns: str) -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "crash"},
           "spec": {"replicas": 1, "progressDeadlineSeconds": 1,
                    "selector": {"matchLabels": {"app": "crash"}},
                    "template": {"metadata": {"labels": {"app": "crash"},
                                              "annotations": {"kubesim.dev/fail": "true"}},
                                 "spec": {"containers": [{"name": "c", "image": "bad"}]}}}}
    raw.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", dep)

    def progressing_reason() -> str | None:
        _, d = raw.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/crash")
        for c in (d.get("status") or {}).get("conditions") or []:
            if c["type"] == "Progressing" and c["status"] == "False":
                return str(c["reason"])
        return None

    assert wait_for(progressing_reason, timeout=10, what="deadline") == "ProgressDeadlineExceeded"
    _, pods = raw.request("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dcrash")
    cs = pods["items"][0]["status"]["containerStatuses"][0]
    assert cs["ready"] is False and cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    _, d = raw.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/crash")
    assert _cond(d, "Available") == "False"
