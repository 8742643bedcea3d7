"""OpenAPI documents and type lookups generated from the bundled definitions."""
from __future__ import annotations

import json
import time

import pytest

from kubesim.schema import BUILTIN_RESOURCES, GVK, Schema

DEPLOY = GVK("apps", "v1", "Deployment")


@pytest.fixture(scope="module")
def schema() -> Schema:
    """These tests check the documents built from kubernetes-validate's definitions."""
    return Schema(source="validate")


def test_client_model_fallback_has_kinds_and_merge_keys() -> None:
    s = Schema(source="client")
    for res in BUILTIN_RESOURCES:
        assert s.root(res.gvk) is not None, res.gvk
    assert s.source_name == "kubernetes client models"
    pod = s.root(DEPLOY).child("spec").child("template").child("spec")
    assert pod.child("containers").merge_key == "name"
    assert pod.child("containers").item().child("ports").map_keys == ["containerPort",
                                                                     "protocol"]
    assert pod.child("tolerations").atomic and pod.child("volumes").merge_key == "name"
    doc = s.openapi_v3_doc("apps", "v1")
    assert doc is not None
    dep = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert dep["x-kubernetes-group-version-kind"][0]["kind"] == "Deployment"
    assert "#/$defs/" not in json.dumps(doc)

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"kind": "Widget", "plural": "widgets", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "properties": {
                                   "size": {"type": "integer"},
                                   "items": {"type": "array", "x-kubernetes-list-type": "map",
                                             "x-kubernetes-list-map-keys": ["id"],
                                             "items": {"type": "object", "properties": {
                                                 "id": {"type": "string"},
                                                 "v": {"type": "string"}}}}}}}}}},
                          {"name": "v0", "served": False, "storage": False}]},
}


def test_construction_is_lazy_and_fast() -> None:
    start = time.perf_counter()
    s = Schema()
    assert s._defs is None
    assert time.perf_counter() - start < 0.05


def test_every_builtin_kind_has_a_schema(schema: Schema) -> None:
    for res in BUILTIN_RESOURCES:
        root = schema.root(res.gvk)
        assert root is not None and root.kind == "struct", res.gvk
        assert schema.is_builtin(res.gvk)


def test_merge_metadata_is_present(schema: Schema) -> None:
    pod = schema.root(DEPLOY).child("spec").child("template").child("spec")
    containers = pod.child("containers")
    assert containers.kind == "list" and containers.merge_key == "name"
    assert containers.patch_strategies == {"merge"} and containers.map_keys == ["name"]
    assert containers.item().child("ports").map_keys == ["containerPort", "protocol"]
    assert containers.item().child("volumeMounts").merge_key == "mountPath"
    assert pod.child("tolerations").atomic
    assert schema.root(DEPLOY).child("spec").child("selector").atomic  # map-type atomic
    assert schema.root(DEPLOY).child("metadata").child("labels").kind == "map"
    assert schema.root(DEPLOY).child("spec").child("strategy").patch_strategies == {"retainKeys"}
    svc = schema.root(GVK("", "v1", "Service")).child("spec").child("ports")
    assert svc.merge_key == "port"


def test_v3_index_lists_known_group_versions_with_hash(schema: Schema) -> None:
    idx = schema.openapi_v3_index([("", "v1"), ("apps", "v1"), ("nope.io", "v1")])
    assert set(idx["paths"]) == {"api/v1", "apis/apps/v1"}
    url = idx["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=") and len(url.split("=")[1]) == 128


def test_v3_doc_shape_matches_what_kubectl_reads(schema: Schema) -> None:
    doc = schema.openapi_v3_doc("apps", "v1")
    assert doc is not None and doc["openapi"].startswith("3.")
    schemas = doc["components"]["schemas"]
    dep = schemas["io.k8s.api.apps.v1.Deployment"]
    assert dep["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert dep["properties"]["metadata"]["allOf"][0]["$ref"] == \
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert "enum" not in dep["properties"]["kind"]
    assert dep["type"] == "object"
    text = json.dumps(doc)
    assert "#/$defs/" not in text and '"null"' not in text
    # every $ref resolves inside the document
    for ref in {r.split('"')[0] for r in text.split('"$ref": "')[1:]}:
        assert ref.rsplit("/", 1)[-1] in schemas, ref
    patch_op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch_op["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    assert any(p["name"] == "fieldValidation" and p["in"] == "query"
               for p in patch_op["parameters"])
    assert "application/strategic-merge-patch+json" in patch_op["requestBody"]["content"]
    assert "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status" in doc["paths"]
    assert schema.openapi_v3_doc("nope.io", "v1") is None


def test_int_or_string_and_quantity_are_strings(schema: Schema) -> None:
    doc = schema.openapi_v3_doc("apps", "v1")
    assert doc is not None
    ios = doc["components"]["schemas"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert ios["type"] == "string" and ios["format"] == "int-or-string"


def test_v2_is_swagger_with_definitions(schema: Schema) -> None:
    v2 = schema.openapi_v2()
    assert v2["swagger"] == "2.0"
    d = v2["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert d["items"]["$ref"] == "#/definitions/io.k8s.api.core.v1.Container"
    assert d["x-kubernetes-patch-merge-key"] == "name"


def test_crd_register_serves_schema_and_unregister_removes_it() -> None:
    s = Schema()
    gvk = GVK("example.com", "v1", "Widget")
    assert s.root(gvk) is None and s.openapi_v3_doc("example.com", "v1") is None
    before = s.openapi_v3_index([("example.com", "v1")])
    assert before["paths"] == {}
    s.register_crd(CRD)
    assert not s.is_builtin(gvk) and s.has_status_subresource(gvk)
    assert s.root(GVK("example.com", "v0", "Widget")) is None  # not served
    root = s.root(gvk)
    assert root is not None
    assert root.child("spec").child("items").map_keys == ["id"]
    assert root.child("metadata").child("labels").kind == "map"
    doc = s.openapi_v3_doc("example.com", "v1")
    assert doc is not None
    w = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert w["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "version": "v1", "kind": "Widget"}]
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in doc["components"]["schemas"]
    patch_op = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch_op["requestBody"]["content"]
    assert "application/apply-patch+yaml" in patch_op["requestBody"]["content"]
    assert "com.example.v1.Widget" in s.openapi_v2()["definitions"]
    s.unregister_crd("widgets.example.com")
    assert s.root(gvk) is None and s.openapi_v3_doc("example.com", "v1") is None
    assert "com.example.v1.Widget" not in s.openapi_v2()["definitions"]


def test_hash_changes_when_crd_schema_changes() -> None:
    s = Schema()
    s.register_crd(CRD)
    h1 = s.openapi_v3_index([("example.com", "v1")])["paths"]["apis/example.com/v1"]
    crd2 = json.loads(json.dumps(CRD))
    crd2["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"]["color"] = {"type": "string"}
    s.register_crd(crd2)
    h2 = s.openapi_v3_index([("example.com", "v1")])["paths"]["apis/example.com/v1"]
    assert h1 != h2


def test_unknown_fields(schema: Schema) -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
           "spec": {"replicas": 1, "replicass": 2, "template": {"spec": {"containers": [
               {"name": "a", "image": "b", "imagee": "c"}]}}}}
    assert schema.unknown_fields(obj, DEPLOY) == [
        "spec.replicass", "spec.template.spec.containers[0].imagee"]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": {"any": "x"}},
          "data": {"k": "v"}}
    assert schema.unknown_fields(cm, GVK("", "v1", "ConfigMap")) == []


def test_prune_unknown_builtin(schema: Schema) -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "bogus": 1},
           "spec": {"replicas": 1, "replicass": 2}}
    pruned, dropped = schema.prune_unknown(obj, DEPLOY)
    assert dropped == ["metadata.bogus", "spec.replicass"]
    assert pruned == {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                      "spec": {"replicas": 1}}
    assert obj["spec"]["replicass"] == 2  # input untouched


def test_prune_unknown_crd_structural() -> None:
    s = Schema()
    s.register_crd(CRD)
    crd2 = json.loads(json.dumps(CRD))
    crd2["metadata"]["name"] = "gadgets.example.com"
    crd2["spec"]["names"] = {"kind": "Gadget", "plural": "gadgets"}
    props = crd2["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    props["closed"] = {"type": "object"}
    props["open"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    s.register_crd(crd2)
    obj = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"},
           "spec": {"size": 1, "extra": True, "items": [{"id": "a", "zzz": 1}]},
           "closed": {"a": 1}, "open": {"b": {"c": 2}}, "top": 1}
    pruned, dropped = s.prune_unknown(obj, GVK("example.com", "v1", "Gadget"))
    assert sorted(dropped) == ["closed.a", "spec.extra", "spec.items[0].zzz", "top"]
    assert pruned["open"] == {"b": {"c": 2}} and pruned["closed"] == {}
    assert s.prune_unknown({"a": 1}, GVK("nope", "v1", "X")) == ({"a": 1}, [])


def test_auto_source_falls_back_without_kubernetes_validate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "kubernetes_validate" else real(name, *a))
    s = Schema()
    assert s.root(DEPLOY) is not None
    assert s.source_name == "kubernetes client models"


def test_crd_churn_while_serving_documents_is_thread_safe() -> None:
    import threading
    s = Schema()
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for i in range(30):
                crd = json.loads(json.dumps(CRD))
                crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = str(i)
                s.register_crd(crd)
                if i % 3 == 0:
                    s.unregister_crd("widgets.example.com")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def read() -> None:
        try:
            for _ in range(30):
                s.openapi_v3_index([("example.com", "v1"), ("apps", "v1")])
                s.openapi_v3_doc("example.com", "v1")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=churn)] + [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
