"""Less central API behaviour: field validation, tables, scale, initial events, selectors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubesim_testlib import Raw
from kubesim.errors import ApiError
from kubesim.protobuf import ProtobufError, decode
from kubesim.selectors import build_matcher, parse_label_selector

DEP: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fv"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "fv"}},
             "template": {"metadata": {"labels": {"app": "fv"}},
                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def test_field_validation_modes(raw: Raw, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    bad = json.loads(json.dumps(DEP))
    bad["spec"]["replicass"] = 3
    code, body = raw.request("POST", base + "?fieldValidation=Strict", bad)
    assert code == 400 and 'unknown field "spec.replicass"' in body["message"]
    code, obj = raw.request("POST", base + "?fieldValidation=Ignore", bad)
    assert code == 201 and "replicass" not in obj["spec"]
    wrong_type = json.loads(json.dumps(DEP))
    wrong_type["metadata"]["name"] = "fv2"
    wrong_type["spec"]["replicas"] = "three"
    code, body = raw.request("POST", base, wrong_type)
    assert code == 400 and body["reason"] == "BadRequest"


def test_unknown_field_warning_header(raw: Raw, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}, "dataa": {}}
    r = raw.pool.request("POST", raw.host + f"/api/v1/namespaces/{ns}/configmaps?"
                         "fieldValidation=Warn", body=json.dumps(body),
                         headers={**raw.headers, "Content-Type": "application/json"})
    assert r.status == 201
    assert 'unknown field \\"dataa\\"' in r.headers.get("Warning", "")


def test_table_output(raw: Raw, ns: str) -> None:
    raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tbl"}})
    code, t = raw.request("GET", f"/api/v1/namespaces/{ns}/configmaps", headers={
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    assert code == 200 and t["kind"] == "Table"
    assert [c["name"] for c in t["columnDefinitions"]][0] == "Name"
    assert "tbl" in [r["cells"][0] for r in t["rows"]]


def test_scale_subresource(raw: Raw, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    raw.request("POST", base, {**DEP, "metadata": {"name": "sc"}})
    code, scale = raw.request("GET", f"{base}/sc/scale")
    assert code == 200 and scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    code, scale = raw.request("PATCH", f"{base}/sc/scale", {"spec": {"replicas": 4}},
                              "application/merge-patch+json")
    assert code == 200 and scale["spec"]["replicas"] == 4
    assert raw.request("GET", f"{base}/sc")[1]["spec"]["replicas"] == 4


def test_watch_send_initial_events(raw: Raw, ns: str) -> None:
    raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "init"}})
    r = raw.pool.request(
        "GET", raw.host + f"/api/v1/namespaces/{ns}/configmaps?watch=true&sendInitialEvents="
        "true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
        headers=raw.headers, preload_content=True)
    events = [json.loads(line) for line in r.data.splitlines() if line.strip()]
    names = [e["object"]["metadata"].get("name") for e in events if e["type"] == "ADDED"]
    assert "init" in names
    marks = [e for e in events if e["type"] == "BOOKMARK"]
    assert marks and marks[0]["object"]["metadata"]["annotations"] == {
        "k8s.io/initial-events-end": "true"}


def test_discovery_documents(raw: Raw) -> None:
    code, apis = raw.request("GET", "/apis")
    groups = {g["name"] for g in apis["groups"]}
    assert {"apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io", "policy",
            "autoscaling", "coordination.k8s.io", "apiextensions.k8s.io"} <= groups
    _, core = raw.request("GET", "/api/v1")
    names = {r["name"] for r in core["resources"]}
    assert {"pods", "pods/status", "configmaps", "namespaces", "services", "secrets",
            "serviceaccounts", "persistentvolumeclaims", "endpoints", "events"} <= names
    assert raw.request("GET", "/version")[1]["minor"] == "37"
    code, _ = raw.request("GET", "/api", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    assert code in (200, 406)


@pytest.mark.parametrize("sel,labels,ok", [
    ("a=b", {"a": "b"}, True), ("a!=b", {}, True), ("a in (x, y)", {"a": "y"}, True),
    ("a notin (x)", {"a": "x"}, False), ("!a", {"a": "1"}, False), ("a,b", {"a": "", "b": ""},
                                                                     True),
])
def test_label_selector_parser(sel: str, labels: dict[str, str], ok: bool) -> None:
    m = build_matcher(sel, None, "ConfigMap")
    assert m is not None and m({"metadata": {"labels": labels}}) is ok


@pytest.mark.parametrize("bad", ["a in b", "=a", "a=b,,", "a notin (x"])
def test_label_selector_syntax_errors(bad: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_label_selector(bad)
    assert err.value.code == 400


def test_protobuf_configmap_decoding() -> None:
    # kubectl create configmap x --from-literal=a=1 (captured from kubectl 1.37.1)
    body = (b'k8s\x00\n\x0f\n\x02v1\x12\tConfigMap\x12\x1b\n\x11\n\x01x\x12\x00\x1a\x00"\x00*'
            b'\x002\x008\x00B\x00\x12\x06\n\x01a\x12\x011\x1a\x00"\x00')
    assert decode(body) == {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "x"}, "data": {"a": "1"}}
    with pytest.raises(ProtobufError):
        decode(b"not protobuf")


@pytest.mark.kubesim_only
def test_watch_as_table_sends_headers_once(raw: Raw, ns: str) -> None:
    for n in ("t1", "t2"):
        raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n}})
    r = raw.pool.request(
        "GET", raw.host + f"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1",
        headers={**raw.headers, "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    events = [json.loads(line) for line in r.data.splitlines() if line.strip()]
    assert all(e["object"]["kind"] == "Table" for e in events) and len(events) >= 2
    assert events[0]["object"]["columnDefinitions"]
    assert events[1]["object"]["columnDefinitions"] == []


def test_delete_collection_by_label(raw: Raw, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for n, keep in [("d1", "no"), ("d2", "no"), ("k1", "yes")]:
        raw.request("POST", base, {"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": n, "labels": {"keep": keep}}})
    code, _ = raw.request("DELETE", base + "?labelSelector=keep%3Dno")
    assert code == 200
    _, left = raw.request("GET", base + "?labelSelector=keep")
    assert [i["metadata"]["name"] for i in left["items"]] == ["k1"]


def test_apply_conflict_status(raw: Raw, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"},
          "data": {"k": "a"}}
    assert raw.request("PATCH", base + "/conf?fieldManager=alice", cm,
                       "application/apply-patch+yaml")[0] == 201
    cm["data"]["k"] = "b"
    code, body = raw.request("PATCH", base + "/conf?fieldManager=bob", cm,
                             "application/apply-patch+yaml")
    assert code == 409 and body["reason"] == "Conflict"
    assert body["message"].startswith("Apply failed with 1 conflict")
    assert 'conflict with "alice"' in body["message"]
    assert body["details"]["causes"][0]["field"] == ".data.k"
