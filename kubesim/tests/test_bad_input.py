"""Bad input is answered with the right status code and a `Status` body."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim_testlib import Raw

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ok"}, "data": {"a": "b"}}


def _is_status(body: Any, code: int, reason: str | None = None) -> None:
    assert isinstance(body, dict), body
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure" and body["code"] == code
    assert body["message"]
    if reason:
        assert body["reason"] == reason, body


def test_malformed_json_is_400(raw: Raw, ns: str) -> None:
    code, body = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", b'{"kind": "Conf')
    assert code == 400
    _is_status(body, 400, "BadRequest")


def test_malformed_yaml_apply_is_400(raw: Raw, ns: str) -> None:
    code, body = raw.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/x?fieldManager=t",
                             b"kind: [unclosed\n  - : :", "application/apply-patch+yaml")
    assert code == 400
    _is_status(body, 400)


def test_unknown_resource_is_404(raw: Raw, ns: str) -> None:
    code, body = raw.request("GET", f"/api/v1/namespaces/{ns}/gizmos")
    assert code == 404
    _is_status(body, 404, "NotFound")
    code, body = raw.request("GET", "/apis/nonexistent.example.com/v1/things")
    assert code == 404


def test_missing_object_is_404_naming_it(raw: Raw, ns: str) -> None:
    code, body = raw.request("GET", f"/api/v1/namespaces/{ns}/configmaps/nope")
    assert code == 404
    _is_status(body, 404, "NotFound")
    assert body["message"] == 'configmaps "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "configmaps"}


def test_wrong_kind_for_url_is_400(raw: Raw, ns: str) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    code, body = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", secret)
    assert code == 400
    _is_status(body, 400, "BadRequest")


def test_wrong_api_version_for_url_is_400(raw: Raw, ns: str) -> None:
    dep = {"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "d"}}
    code, body = raw.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", dep)
    assert code == 400
    _is_status(body, 400)


@pytest.mark.parametrize("name", ["Upper", "under_score", "-lead", "a" * 254, "dot..dot"])
def test_invalid_names_are_422(raw: Raw, ns: str, name: str) -> None:
    obj = {**CM, "metadata": {"name": name}}
    code, body = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", obj)
    assert code == 422
    _is_status(body, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"


@pytest.mark.parametrize("labels", [{"bad key!": "v"}, {"k": "bad value!"}, {"k": "x" * 64},
                                    {"-/k": "v"}])
def test_invalid_labels_are_422(raw: Raw, ns: str, labels: dict[str, str]) -> None:
    obj = {**CM, "metadata": {"name": "lbl", "labels": labels}}
    code, body = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", obj)
    assert code == 422
    _is_status(body, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.labels"


def test_body_over_3mib_is_413(raw: Raw, ns: str) -> None:
    big = {**CM, "metadata": {"name": "big"}, "data": {"x": "y" * (3 * 1024 * 1024 + 10)}}
    code, body = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", big)
    assert code == 413
    _is_status(body, 413, "RequestEntityTooLarge")


def test_unsupported_patch_type_is_415(raw: Raw, ns: str) -> None:
    raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", CM)
    code, body = raw.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/ok", b"{}",
                             "application/x-unknown-patch")
    assert code == 415
    _is_status(body, 415, "UnsupportedMediaType")


def test_strategic_merge_patch_on_custom_resource_is_415(raw: Raw, ns: str,
                                                         kubectl: Any) -> None:
    crd = _crd("gadgets", "Gadget")
    code, _ = raw.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert code == 201
    kubectl("wait", "--for=condition=Established", "crd/gadgets.badinput.example.com")
    obj = {"apiVersion": "badinput.example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    code, _ = raw.request("POST", f"/apis/badinput.example.com/v1/namespaces/{ns}/gadgets", obj)
    assert code == 201
    code, body = raw.request("PATCH", f"/apis/badinput.example.com/v1/namespaces/{ns}/gadgets/g",
                             b'{"spec":{}}', "application/strategic-merge-patch+json")
    assert code == 415
    _is_status(body, 415, "UnsupportedMediaType")
    raw.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                          "gadgets.badinput.example.com")


def test_missing_token_is_401(raw: Raw, kube_cluster: Any) -> None:
    r = raw.pool.request("GET", raw.host + "/api/v1/namespaces", retries=False)
    assert r.status in (401, 403)  # a real cluster may map anonymous to 403


def test_already_exists_is_409(raw: Raw, ns: str) -> None:
    assert raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", CM)[0] == 201
    code, body = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", CM)
    assert code == 409
    _is_status(body, 409, "AlreadyExists")
    assert body["message"] == 'configmaps "ok" already exists'


def test_stale_resource_version_is_409(raw: Raw, ns: str) -> None:
    _, created = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", CM)
    first = {**created, "data": {"a": "1"}}
    assert raw.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/ok", first)[0] == 200
    stale = {**created, "data": {"a": "2"}}
    code, body = raw.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/ok", stale)
    assert code == 409
    _is_status(body, 409, "Conflict")
    assert "the object has been modified" in body["message"]


def test_create_in_missing_namespace_is_404(raw: Raw) -> None:
    code, body = raw.request("POST", "/api/v1/namespaces/does-not-exist-ns/configmaps", CM)
    assert code == 404
    _is_status(body, 404, "NotFound")


def _crd(plural: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.badinput.example.com"},
        "spec": {"group": "badinput.example.com", "scope": "Namespaced",
                 "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {
                                   "type": "object",
                                   "x-kubernetes-preserve-unknown-fields": True}}}]}}


def _deploy(labels: dict[str, str], containers: list[dict[str, str]]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad"},
            "spec": {"selector": {"matchLabels": {"app": "bad"}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": containers}}}}


@pytest.mark.parametrize("obj,field", [
    (_deploy({"app": "other"}, [{"name": "c", "image": "i"}]), "spec.template.metadata.labels"),
    (_deploy({"app": "bad"}, []), "spec.template.spec.containers"),
    (_deploy({"app": "bad"}, [{"name": "c"}]), "spec.template.spec.containers[0].image"),
])
def test_invalid_deployments_are_422(raw: Raw, ns: str, obj: dict[str, Any], field: str) -> None:
    code, body = raw.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", obj)
    assert code == 422
    _is_status(body, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == field


def test_job_needs_never_or_onfailure(raw: Raw, ns: str) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    code, body = raw.request("POST", f"/apis/batch/v1/namespaces/{ns}/jobs", job)
    assert code == 422
    assert body["details"]["causes"][0]["field"] == "spec.template.spec.restartPolicy"


@pytest.mark.kubesim_only
def test_keep_alive_survives_errors_with_unread_bodies() -> None:
    import http.client
    import json

    from kubesim import Config, Simulator
    sim = Simulator(Config(controllers=False))
    sim.start(0)
    try:
        host, port = sim.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port))
        conn.request("POST", "/api/v1/namespaces/default/gizmos", json.dumps({"a": "b" * 5000}),
                     {"Content-Type": "application/json"})
        first = conn.getresponse()
        assert first.status == 404
        first.read()
        conn.request("GET", "/api/v1/namespaces/default/configmaps")
        second = conn.getresponse()
        assert second.status == 200 and json.loads(second.read())["kind"] == "ConfigMapList"
    finally:
        sim.stop()
