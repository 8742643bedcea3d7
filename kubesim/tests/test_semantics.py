"""Object semantics a client can observe: versions, selectors, paging, deletion, status."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kubesim_testlib import Raw
from kubesim.testing import wait_for


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def deployment(name: str, replicas: int = 1, image: str = "nginx:1.25") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}}


def test_metadata_is_filled_and_resource_versions_increase(raw: Raw, ns: str) -> None:
    _, a = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm("a"))
    _, b = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm("b"))
    for o in (a, b):
        m = o["metadata"]
        assert uuid.UUID(m["uid"]) and m["creationTimestamp"].endswith("Z")
        assert m["namespace"] == ns
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    _, a2 = raw.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/a", {**a, "data": {"x": "1"}})
    assert int(a2["metadata"]["resourceVersion"]) > int(b["metadata"]["resourceVersion"])
    assert a2["metadata"]["uid"] == a["metadata"]["uid"]
    assert a2["metadata"]["creationTimestamp"] == a["metadata"]["creationTimestamp"]


def test_generation_bumps_on_spec_changes_only(raw: Raw, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    _, d = raw.request("POST", base, deployment("gen"))
    assert d["metadata"]["generation"] == 1
    _, d = raw.request("PATCH", f"{base}/gen", {"metadata": {"labels": {"x": "y"}}},
                       "application/merge-patch+json")
    assert d["metadata"]["generation"] == 1
    _, d = raw.request("PATCH", f"{base}/gen", {"spec": {"replicas": 2}},
                       "application/merge-patch+json")
    assert d["metadata"]["generation"] == 2


def test_generate_name(raw: Raw, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}
    code, o = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert code == 201
    assert o["metadata"]["name"].startswith("gen-") and len(o["metadata"]["name"]) == 9


@pytest.mark.parametrize("selector,expected", [
    ("tier=web", {"w1", "w2"}), ("tier==web", {"w1", "w2"}), ("tier!=web", {"d1", "none"}),
    ("tier in (web,db)", {"w1", "w2", "d1"}), ("tier notin (web)", {"d1", "none"}),
    ("tier", {"w1", "w2", "d1"}), ("!tier", {"none"}), ("tier=web,env=prod", {"w1"}),
])
def test_label_selectors(raw: Raw, ns: str, selector: str, expected: set[str]) -> None:
    for name, labels in [("w1", {"tier": "web", "env": "prod"}), ("w2", {"tier": "web"}),
                         ("d1", {"tier": "db"}), ("none", {"other": "x"})]:
        raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm(name, labels))
    code, body = raw.request("GET", f"/api/v1/namespaces/{ns}/configmaps?labelSelector="
                             + _q(selector))
    assert code == 200
    assert {i["metadata"]["name"] for i in body["items"]} - {"kube-root-ca.crt"} == expected


def _q(s: str) -> str:
    from urllib.parse import quote
    return quote(s)


def test_field_selectors(raw: Raw, ns: str) -> None:
    for n in ("f1", "f2"):
        raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm(n))
    _, body = raw.request("GET", f"/api/v1/namespaces/{ns}/configmaps?fieldSelector="
                          + _q("metadata.name=f2"))
    assert [i["metadata"]["name"] for i in body["items"]] == ["f2"]
    _, body = raw.request("GET", "/api/v1/configmaps?fieldSelector="
                          + _q(f"metadata.namespace={ns},metadata.name!=f2"))
    assert {i["metadata"]["name"] for i in body["items"]} - {"kube-root-ca.crt"} == {"f1"}


def test_limit_and_continue(raw: Raw, ns: str) -> None:
    names = [f"p{i:02d}" for i in range(7)]
    for n in names:
        raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm(n, {"page": "yes"}))
    seen: list[str] = []
    url = f"/api/v1/namespaces/{ns}/configmaps?labelSelector=page%3Dyes&limit=3"
    _, body = raw.request("GET", url)
    seen += [i["metadata"]["name"] for i in body["items"]]
    assert body["metadata"]["remainingItemCount"] == 4
    while body["metadata"].get("continue"):
        _, body = raw.request("GET", url + "&continue=" + body["metadata"]["continue"])
        seen += [i["metadata"]["name"] for i in body["items"]]
    assert seen == names


def test_status_subresource_separates_spec_and_status(raw: Raw, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    _, d = raw.request("POST", base, {**deployment("st"), "status": {"replicas": 42}})
    assert d.get("status", {}).get("replicas") != 42
    _, d = raw.request("GET", f"{base}/st")
    d["status"] = {"replicas": 7, "observedGeneration": 99}
    d["spec"]["replicas"] = 3
    del d["metadata"]["resourceVersion"]  # unconditional: controllers write concurrently
    _, upd = raw.request("PUT", f"{base}/st", d)
    assert upd["spec"]["replicas"] == 3 and upd["status"].get("observedGeneration") != 99
    upd["spec"]["replicas"] = 5
    upd["status"] = {"observedGeneration": 99}
    del upd["metadata"]["resourceVersion"]
    _, st = raw.request("PUT", f"{base}/st/status", upd)
    assert st["spec"]["replicas"] == 3 and st["status"]["observedGeneration"] == 99


def test_dry_run_all_writes_nothing(raw: Raw, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    code, o = raw.request("POST", base + "?dryRun=All", cm("dry"))
    assert code == 201 and o["metadata"]["name"] == "dry"
    assert raw.request("GET", base + "/dry")[0] == 404
    raw.request("POST", base, cm("dry", a="1"))
    code, o = raw.request("PATCH", base + "/dry?dryRun=All", {"data": {"a": "2"}},
                          "application/merge-patch+json")
    assert code == 200 and o["data"]["a"] == "2"
    assert raw.request("GET", base + "/dry")[1]["data"]["a"] == "1"
    code, _ = raw.request("DELETE", base + "/dry?dryRun=All")
    assert code == 200
    assert raw.request("GET", base + "/dry")[0] == 200
    code, _ = raw.request("PATCH", base + "/dry?dryRun=All&fieldManager=t&force=true",
                          cm("dry", a="3"), "application/apply-patch+yaml")
    assert code == 200
    assert raw.request("GET", base + "/dry")[1]["data"]["a"] == "1"


def test_finalizers_hold_deletion(raw: Raw, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    obj = cm("fin")
    obj["metadata"]["finalizers"] = ["example.com/hold"]
    raw.request("POST", base, obj)
    code, o = raw.request("DELETE", base + "/fin")
    assert code in (200, 202)
    _, o = raw.request("GET", base + "/fin")
    assert o["metadata"]["deletionTimestamp"]
    raw.request("PATCH", base + "/fin", {"metadata": {"finalizers": None}},
                "application/merge-patch+json")
    assert raw.request("GET", base + "/fin")[0] == 404


def _owned_cm(name: str, owner: dict[str, Any]) -> dict[str, Any]:
    o = cm(name)
    o["metadata"]["ownerReferences"] = [{
        "apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "blockOwnerDeletion": True}]
    return o


@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
def test_propagation_policies(raw: Raw, ns: str, policy: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    _, owner = raw.request("POST", base, cm("owner"))
    raw.request("POST", base, _owned_cm("child", owner))
    code, _ = raw.request("DELETE", base + "/owner", {"propagationPolicy": policy})
    assert code in (200, 202)
    wait_for(lambda: raw.request("GET", base + "/owner")[0] == 404, what="owner gone")
    if policy == "Orphan":
        code, child = raw.request("GET", base + "/child")
        assert code == 200 and not child["metadata"].get("ownerReferences")
    else:
        wait_for(lambda: raw.request("GET", base + "/child")[0] == 404, what="child GC")


def test_foreground_waits_for_blocking_dependents(raw: Raw, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    _, owner = raw.request("POST", base, cm("fowner"))
    child = _owned_cm("fchild", owner)
    child["metadata"]["finalizers"] = ["example.com/hold"]
    raw.request("POST", base, child)
    raw.request("DELETE", base + "/fowner", {"propagationPolicy": "Foreground"})
    code, o = raw.request("GET", base + "/fowner")
    assert code == 200 and "foregroundDeletion" in o["metadata"]["finalizers"]
    raw.request("PATCH", base + "/fchild", {"metadata": {"finalizers": None}},
                "application/merge-patch+json")
    wait_for(lambda: raw.request("GET", base + "/fowner")[0] == 404, what="owner gone")


def test_namespace_deletion_removes_contents(raw: Raw) -> None:
    name = f"t-nsdel-{uuid.uuid4().hex[:6]}"
    raw.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": name}})
    raw.request("POST", f"/api/v1/namespaces/{name}/configmaps", cm("inside"))
    code, o = raw.request("DELETE", f"/api/v1/namespaces/{name}")
    assert code == 200
    wait_for(lambda: raw.request("GET", f"/api/v1/namespaces/{name}")[0] == 404,
             timeout=60, what="namespace gone")
    assert raw.request("GET", f"/api/v1/namespaces/{name}/configmaps/inside")[0] == 404


def test_crd_serves_and_deleting_it_removes_objects(raw: Raw, ns: str) -> None:
    group = f"g{uuid.uuid4().hex[:6]}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"tools.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "tools", "singular": "tool", "kind": "Tool"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "subresources": {"status": {}},
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object",
                                      "x-kubernetes-preserve-unknown-fields": True}}}]}}
    assert raw.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                       crd)[0] == 201
    base = f"/apis/{group}/v1/namespaces/{ns}/tools"
    wait_for(lambda: raw.request("GET", base)[0] == 200, what="CRD established")
    _, res = raw.request("GET", f"/apis/{group}/v1")
    assert {r["name"] for r in res["resources"]} == {"tools", "tools/status"}
    code, t = raw.request("POST", base, {"apiVersion": f"{group}/v1", "kind": "Tool",
                                         "metadata": {"name": "hammer"}, "spec": {"x": 1},
                                         "status": {"ok": True}})
    assert code == 201 and "status" not in t and t["metadata"]["generation"] == 1
    raw.request("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tools.{group}")
    wait_for(lambda: raw.request("GET", base)[0] == 404, what="CRD removed")
