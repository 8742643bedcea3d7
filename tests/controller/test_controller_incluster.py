"""In-cluster mode on kubesim: CRDs, status through the status subresource, operations from ``operation``."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
from controller_harness import SW, Harness, configmaps, wait_for

from syncwright.cluster.client import ClusterError
from syncwright.controller.crds import crds
from syncwright.controller.reconcile import Settings
from syncwright.controller.runner import Options, build
from syncwright.plugins import Hooks

BASE = "/apis/syncwright.dev/v1alpha1/namespaces/{ns}/applications"


def _install_crds(h: Harness) -> None:
    for crd in crds():
        h.client.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=crd)

    def served() -> bool:
        try:
            h.client.request("GET", BASE.format(ns=h.ns))
            return True
        except ClusterError:
            return False
    wait_for(served, 10, "CRDs served")


def _cr(h: Harness, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = h.client.request("GET", f"{BASE.format(ns=h.ns)}/{name}")
    return obj


@pytest.mark.kubesim_only
def test_in_cluster_status_and_operation(fresh_harness: Harness) -> None:
    h = fresh_harness
    _install_crds(h)
    h.files("guestbook", configmaps(2))
    app = {"apiVersion": "syncwright.dev/v1alpha1", "kind": "Application",
           "metadata": {"name": "guestbook", "namespace": h.ns},
           "spec": {"source": {"repoURL": str(h.repo), "path": "guestbook"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": h.ns}}}
    h.client.request("POST", BASE.format(ns=h.ns), body=app)
    bad = {**app, "metadata": {"name": "bad", "namespace": h.ns},
           "spec": {**app["spec"], "project": "missing"}}
    h.client.request("POST", BASE.format(ns=h.ns), body=bad)
    running = build(Options(kubeconfig=str(h.cluster.kubeconfig), context=h.cluster.context, in_cluster=True,
                            namespace=h.ns, settings=Settings(poll_interval=0.2)), Hooks.load(), on_event=h.on_event)
    h.running.append(running)
    wait_for(lambda: (_cr(h, "guestbook").get("status") or {}).get("sync", {}).get("status") == "OutOfSync", 15,
             "status written")
    status = _cr(h, "guestbook")["status"]
    assert status["health"]["status"] == "Missing" and status["reconciledAt"]
    assert {r["name"] for r in status["resources"]} == {"cm0", "cm1"}
    wait_for(lambda: (_cr(h, "bad").get("status") or {}).get("conditions"), 10, "bad app condition")
    assert _cr(h, "bad")["status"]["conditions"][0]["type"] == "InvalidSpecError"
    assert h.live("ConfigMap", "cm0") is None  # manual policy: nothing written yet

    # `syncwright app sync --in-cluster` sets `operation`; the controller runs it and clears the field
    kc = ["--in-cluster", "--namespace", h.ns, "--kubeconfig", str(h.cluster.kubeconfig)]
    res = subprocess.run([SW, "app", "sync", "guestbook", *kc, "--timeout", "30"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    wait_for(lambda: (_cr(h, "guestbook").get("status") or {}).get("sync", {}).get("status") == "Synced", 10, "Synced")
    cr = _cr(h, "guestbook")
    assert "operation" not in cr or not cr["operation"]
    assert cr["status"]["operationState"]["phase"] == "Succeeded"
    assert [e["id"] for e in cr["status"]["history"]] == [0]
    assert h.live("ConfigMap", "cm1") is not None
    listing = subprocess.run([SW, "app", "list", *kc, "-o", "json"], capture_output=True, text=True, timeout=60)
    rows = {r["name"]: r for r in json.loads(listing.stdout)}
    assert rows["guestbook"]["sync"]["status"] == "Synced" and rows["bad"]["conditions"]

    # a refresh annotation is taken and removed; a spec change is noticed through the watch
    h.client.request("PATCH", f"{BASE.format(ns=h.ns)}/guestbook", content_type="application/merge-patch+json",
                     body={"metadata": {"annotations": {"argocd.argoproj.io/refresh": "hard"}}})
    wait_for(lambda: "argocd.argoproj.io/refresh" not in (_cr(h, "guestbook")["metadata"].get("annotations") or {}),
             10, "refresh annotation consumed")
    h.client.request("PATCH", f"{BASE.format(ns=h.ns)}/guestbook", content_type="application/merge-patch+json",
                     body={"spec": {"syncPolicy": {"automated": {"selfHeal": True}}}})
    h.patch_cm("cm0", {"k": "drift"})
    wait_for(lambda: (h.live("ConfigMap", "cm0") or {}).get("data") == {"k": "v0"}, 10, "self-heal in-cluster")
    time.sleep(0.2)
