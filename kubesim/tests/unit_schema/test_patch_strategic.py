"""Kubernetes strategic merge patch against the built-in schemas."""
from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim.patch import (PatchError, UnsupportedPatchType, apply_merge_patch,
                           apply_strategic_merge_patch)
from kubesim.schema import GVK, Schema

DEPLOY = GVK("apps", "v1", "Deployment")
SERVICE = GVK("", "v1", "Service")
CM = GVK("", "v1", "ConfigMap")


def smp(schema: Schema, obj: dict, patch: Any, gvk: GVK = DEPLOY) -> dict:
    return apply_strategic_merge_patch(obj, patch, schema, gvk)


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def test_containers_merge_by_name(schema: Schema, deployment: Any) -> None:
    live = deployment([{"name": "app", "image": "nginx:1", "args": ["a"]},
                       {"name": "side", "image": "busybox"}])
    before = copy.deepcopy(live)
    out = smp(schema, live, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:2"}, {"name": "new", "image": "redis"}]}}}})
    assert pod_spec(out)["containers"] == [
        {"name": "app", "image": "nginx:2", "args": ["a"]},
        {"name": "side", "image": "busybox"}, {"name": "new", "image": "redis"}]
    assert live == before


def test_kubectl_client_side_apply_patch(schema: Schema, deployment: Any) -> None:
    """The shape `kubectl apply` sends: $setElementOrder plus a $patch: delete for a
    container removed from the manifest."""
    live = deployment([{"name": "app", "image": "nginx:1", "ports": [{"containerPort": 80}]},
                       {"name": "side", "image": "busybox"}], replicas=3)
    patch = {"spec": {"replicas": 2, "template": {"spec": {
        "$setElementOrder/containers": [{"name": "app"}],
        "containers": [{"image": "nginx", "name": "app"},
                       {"$patch": "delete", "name": "side"}]}}}}
    out = smp(schema, live, patch)
    assert out["spec"]["replicas"] == 2
    assert pod_spec(out)["containers"] == [
        {"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}]


def test_set_element_order_reorders(schema: Schema, deployment: Any) -> None:
    live = deployment([{"name": "a", "image": "1"}, {"name": "b", "image": "2"}])
    out = smp(schema, live, {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}}})
    assert [c["name"] for c in pod_spec(out)["containers"]] == ["b", "a"]


def test_replace_directive_on_list_and_map(schema: Schema, deployment: Any) -> None:
    live = deployment([{"name": "a", "image": "1"}, {"name": "b", "image": "2"}])
    out = smp(schema, live, {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "3"}, {"$patch": "replace"}]}}}})
    assert pod_spec(out)["containers"] == [{"name": "c", "image": "3"}]
    out = smp(schema, live, {"metadata": {"labels": {"$patch": "replace", "only": "x"}}})
    assert out["metadata"]["labels"] == {"only": "x"}


def test_delete_directive_on_map(schema: Schema, deployment: Any) -> None:
    live = deployment(strategy={"type": "Recreate"})
    out = smp(schema, live, {"spec": {"strategy": {"$patch": "delete"}}})
    assert "strategy" not in out["spec"]


def test_retain_keys(schema: Schema, deployment: Any) -> None:
    live = deployment(strategy={"type": "RollingUpdate",
                                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    out = smp(schema, live, {"spec": {"strategy": {"$retainKeys": ["type"],
                                                   "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(PatchError):
        smp(schema, live, {"spec": {"strategy": {"$retainKeys": ["x"], "type": "Recreate"}}})


def test_null_deletes_and_unmatched_null_ignored(schema: Schema, deployment: Any) -> None:
    live = deployment()
    out = smp(schema, live, {"metadata": {"labels": {"app": None, "gone": None},
                                          "annotations": {"a": None, "b": "1"}}})
    assert out["metadata"]["labels"] == {}
    assert out["metadata"]["annotations"] == {"b": "1"}


def test_atomic_and_unannotated_lists_are_replaced(schema: Schema, deployment: Any) -> None:
    live = deployment([{"name": "app", "image": "x", "args": ["a", "b"],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}])
    pod_spec(live)["tolerations"] = [{"key": "k1"}]
    out = smp(schema, live, {"spec": {"template": {"spec": {
        "tolerations": [{"key": "k2"}],
        "containers": [{"name": "app", "args": ["c"], "env": [{"name": "B", "value": "3"}]}]}}}})
    assert pod_spec(out)["tolerations"] == [{"key": "k2"}]
    c = pod_spec(out)["containers"][0]
    assert c["args"] == ["c"]
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]


def test_volume_mounts_by_mount_path_and_volumes_by_name(schema: Schema,
                                                          deployment: Any) -> None:
    live = deployment([{"name": "app", "image": "x", "volumeMounts": [
        {"name": "v", "mountPath": "/a"}]}])
    pod_spec(live)["volumes"] = [{"name": "v", "emptyDir": {}}]
    out = smp(schema, live, {"spec": {"template": {"spec": {
        "volumes": [{"name": "w", "configMap": {"name": "cm"}}],
        "containers": [{"name": "app", "volumeMounts": [
            {"name": "v", "mountPath": "/a", "readOnly": True},
            {"name": "w", "mountPath": "/b"}]}]}}}})
    assert [v["name"] for v in pod_spec(out)["volumes"]] == ["v", "w"]
    assert pod_spec(out)["containers"][0]["volumeMounts"] == [
        {"name": "v", "mountPath": "/a", "readOnly": True}, {"name": "w", "mountPath": "/b"}]


def test_service_ports_merge_by_port(schema: Schema) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "http"}]}}
    out = smp(schema, svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090},
                                               {"port": 443, "name": "https"}]}}, SERVICE)
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090, "name": "http"},
                                    {"port": 443, "name": "https"}]


def test_primitive_merge_list_and_delete_from_primitive_list(schema: Schema,
                                                            deployment: Any) -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["a", "b"]
    out = smp(schema, live, {"metadata": {"finalizers": ["b", "c"]}})
    assert out["metadata"]["finalizers"] == ["a", "b", "c"]
    out = smp(schema, out, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "c"]}})
    assert out["metadata"]["finalizers"] == ["b"]


def test_new_list_gets_directives_stripped(schema: Schema) -> None:
    cm = {"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {}}
    out = smp(schema, cm, {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "image": "i"}, {"name": "b", "$patch": "delete"}]}}}})
    assert pod_spec(out)["containers"] == [{"name": "a", "image": "i"}]


def test_errors(schema: Schema, deployment: Any) -> None:
    live = deployment()
    with pytest.raises(PatchError, match="merge key"):
        smp(schema, live, {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})
    with pytest.raises(PatchError, match="unknown patch type"):
        smp(schema, live, {"metadata": {"labels": {"$patch": "explode"}}})
    with pytest.raises(PatchError):
        smp(schema, live, ["not", "a", "map"])


def test_custom_resources_are_refused_with_415(schema: Schema) -> None:
    with pytest.raises(UnsupportedPatchType) as e:
        smp(schema, {"apiVersion": "example.com/v1", "kind": "Widget"}, {"spec": {}},
            GVK("example.com", "v1", "Widget"))
    assert e.value.code == 415


labels = st.dictionaries(st.sampled_from("abcde"), st.none() | st.sampled_from(["1", "2"]),
                         max_size=5)


@settings(max_examples=100, deadline=None)
@given(labels, labels)
def test_maps_behave_like_merge_patch(schema: Schema, live_labels: dict,
                                      patch_labels: dict) -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {k: v for k, v in live_labels.items() if v is not None}}
    patch = {"data": patch_labels}
    assert smp(schema, live, patch, CM) == apply_merge_patch(live, patch)


@pytest.mark.parametrize("live,order,expected", [
    (["a", "b", "c"], ["c", "a"], ["b", "c", "a"]),  # server-only b keeps its live position
    (["x", "a", "y"], ["a"], ["x", "a", "y"]),
    (["a", "b"], ["b", "new", "a"], ["b", "new", "a"]),
])
def test_set_element_order_interleaves_server_only_items(
        schema: Schema, deployment: Any, live: list, order: list, expected: list) -> None:
    obj = deployment([{"name": n, "image": "i"} for n in live])
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": n} for n in order],
        "containers": [{"name": n, "image": "i"} for n in order if n not in live]}}}}
    out = smp(schema, obj, patch)
    assert [c["name"] for c in pod_spec(out)["containers"]] == expected
