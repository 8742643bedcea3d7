"""Server-side apply: merging, ownership, conflicts and pruning."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubesim.schema import GVK, Schema
from kubesim.ssa import Conflict, apply, record_update

DEPLOY = GVK("apps", "v1", "Deployment")


def mf(obj: dict) -> dict[str, dict]:
    return {m["manager"]: m for m in obj["metadata"].get("managedFields", [])}


def containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def do_apply(schema: Schema, live: dict | None, cfg: dict, manager: str = "kubectl",
             force: bool = False, now: str = "2026-11-26T06:00:00Z") -> dict:
    return apply(live, cfg, manager=manager, force=force, schema=schema, gvk=DEPLOY, now=now)


def test_create_records_apply_entry_in_real_format(schema: Schema, deployment: Any) -> None:
    cfg = deployment([{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}])
    before = copy.deepcopy(cfg)
    out = do_apply(schema, None, cfg)
    assert cfg == before
    assert out["spec"] == cfg["spec"]
    [entry] = out["metadata"]["managedFields"]
    assert entry == {
        "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
        "time": "2026-11-26T06:00:00Z", "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {'k:{"name":"app"}': {
                    ".": {}, "f:image": {}, "f:name": {}, "f:ports": {
                        'k:{"containerPort":80,"protocol":"TCP"}': {
                            ".": {}, "f:containerPort": {}}}}}}}}}}


def test_reapply_is_a_noop_and_keeps_time(schema: Schema, deployment: Any) -> None:
    cfg = deployment()
    first = do_apply(schema, None, cfg, now="T1")
    again = do_apply(schema, first, cfg, now="T2")
    assert again == first


def test_conflict_with_update_manager_then_force(schema: Schema, deployment: Any) -> None:
    live = do_apply(schema, None, deployment(), now="T1")
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    live = record_update(live, scaled, manager="kubectl-scale", schema=schema, gvk=DEPLOY,
                         now="T2")
    cfg = deployment()
    cfg["spec"]["replicas"] = 3
    with pytest.raises(Conflict) as e:
        do_apply(schema, live, cfg)
    assert e.value.conflicts == [("kubectl-scale", ".spec.replicas")]
    assert str(e.value) == ('Apply failed with 1 conflict: conflict with "kubectl-scale" '
                            'using apps/v1: .spec.replicas')
    assert e.value.causes == [{"reason": "FieldManagerConflict", "field": ".spec.replicas",
                               "message": 'conflict with "kubectl-scale" using apps/v1'}]
    out = do_apply(schema, live, cfg, force=True)
    assert out["spec"]["replicas"] == 3
    assert set(mf(out)) == {"kubectl"}  # the scaler's only field was taken


def test_same_value_is_shared_not_a_conflict(schema: Schema, deployment: Any) -> None:
    live = do_apply(schema, None, deployment(), manager="a")
    out = do_apply(schema, live, deployment(), manager="b")
    assert set(mf(out)) == {"a", "b"}
    assert mf(out)["a"]["fieldsV1"] == mf(out)["b"]["fieldsV1"]


def test_apply_apply_conflicts_list_every_path(schema: Schema, deployment: Any) -> None:
    live = do_apply(schema, None, deployment(), manager="a")
    cfg = deployment([{"name": "app", "image": "nginx:2"}], replicas=4)
    with pytest.raises(Conflict) as e:
        do_apply(schema, live, cfg, manager="b")
    assert sorted(e.value.conflicts) == [
        ("a", ".spec.replicas"), ("a", '.spec.template.spec.containers[name="app"].image')]
    assert str(e.value).startswith('Apply failed with 2 conflicts: conflicts with "a":\n- ')


def test_field_no_longer_applied_is_removed(schema: Schema, deployment: Any) -> None:
    cfg = deployment()
    cfg["metadata"]["labels"]["tier"] = "web"
    cfg["metadata"]["annotations"] = {"note": "x"}
    live = do_apply(schema, None, cfg)
    out = do_apply(schema, live, deployment())
    assert out["metadata"]["labels"] == {"app": "web"}
    assert "annotations" not in out["metadata"]  # emptied maps vanish (Go omitempty)
    assert "f:tier" not in json.dumps(mf(out)["kubectl"]["fieldsV1"])


def test_field_owned_by_another_manager_survives_removal(schema: Schema,
                                                          deployment: Any) -> None:
    cfg = deployment()
    cfg["metadata"]["labels"]["tier"] = "web"
    live = do_apply(schema, None, cfg, manager="a")
    live = do_apply(schema, live, cfg, manager="b")
    out = do_apply(schema, live, deployment(), manager="a")
    assert out["metadata"]["labels"] == {"app": "web", "tier": "web"}


def test_removed_container_is_pruned_unless_someone_else_owns_it(
        schema: Schema, deployment: Any) -> None:
    two = deployment([{"name": "app", "image": "1"}, {"name": "side", "image": "2"}])
    live = do_apply(schema, None, two)
    out = do_apply(schema, live, deployment([{"name": "app", "image": "1"}]))
    assert [c["name"] for c in containers(out)] == ["app"]
    edited = copy.deepcopy(live)
    containers(edited).append({"name": "extra", "image": "3"})
    live2 = record_update(live, edited, manager="editor", schema=schema, gvk=DEPLOY, now="T")
    live2 = do_apply(schema, live2, two, manager="other")  # co-owns both items
    out2 = do_apply(schema, live2, deployment([{"name": "app", "image": "1"}]))
    assert [c["name"] for c in containers(out2)] == ["app", "side", "extra"]
    out3 = do_apply(schema, live2, deployment([{"name": "app", "image": "1"}]), manager="other")
    assert [c["name"] for c in containers(out3)] == ["app", "side", "extra"]  # kubectl owns


def test_fields_of_update_managers_are_kept(schema: Schema, deployment: Any) -> None:
    live = do_apply(schema, None, deployment())
    edited = copy.deepcopy(live)
    edited["metadata"].setdefault("annotations", {})["owner"] = "ops"
    live = record_update(live, edited, manager="kubectl-annotate", schema=schema, gvk=DEPLOY,
                         now="T")
    out = do_apply(schema, live, deployment(replicas=2))
    assert out["metadata"]["annotations"] == {"owner": "ops"} and out["spec"]["replicas"] == 2


def test_list_types(schema: Schema, deployment: Any) -> None:
    live = do_apply(schema, None, deployment([{"name": "app", "image": "1", "args": ["a", "b"]}]),
                    manager="a")
    live["metadata"]["finalizers"] = ["x"]
    cfg = deployment([{"name": "app", "image": "1", "args": ["c"]},
                      {"name": "new", "image": "2"}])
    cfg["metadata"]["finalizers"] = ["y"]
    out = do_apply(schema, live, cfg, manager="a")
    assert containers(out)[0]["args"] == ["c"]          # atomic: replaced
    assert [c["name"] for c in containers(out)] == ["app", "new"]  # map: merged by key
    assert out["metadata"]["finalizers"] == ["x", "y"]  # set: union
    assert mf(out)["a"]["fieldsV1"]["f:metadata"]["f:finalizers"] == {'v:"y"': {}}


def test_status_is_ignored_on_the_main_resource(schema: Schema, deployment: Any) -> None:
    cfg = deployment()
    cfg["status"] = {"replicas": 9}
    out = do_apply(schema, None, cfg)
    assert "status" not in out
    status_cfg = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "web", "namespace": "default"},
                  "status": {"replicas": 1}}
    out2 = apply(out, status_cfg, manager="ctl", force=False, schema=schema, gvk=DEPLOY,
                 now="T", subresource="status")
    assert out2["status"] == {"replicas": 1} and out2["spec"] == out["spec"]
    assert mf(out2)["ctl"]["subresource"] == "status"


def test_crd_list_map_keys_are_used() -> None:
    s = Schema()
    s.register_crd({"metadata": {"name": "things.ex.io"}, "spec": {
        "group": "ex.io", "scope": "Namespaced", "names": {"kind": "Thing", "plural": "things"},
        "versions": [{"name": "v1", "served": True, "schema": {"openAPIV3Schema": {
            "type": "object", "properties": {"spec": {"type": "object", "properties": {
                "items": {"type": "array", "x-kubernetes-list-type": "map",
                          "x-kubernetes-list-map-keys": ["id"],
                          "items": {"type": "object", "properties": {
                              "id": {"type": "string"}, "v": {"type": "string"}}}},
                "blob": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}}}]}})
    gvk = GVK("ex.io", "v1", "Thing")
    base = {"apiVersion": "ex.io/v1", "kind": "Thing", "metadata": {"name": "t"}}
    live = apply(None, base | {"spec": {"items": [{"id": "a", "v": "1"}], "blob": {"x": 1}}},
                 manager="a", force=False, schema=s, gvk=gvk, now="T")
    out = apply(live, base | {"spec": {"items": [{"id": "b", "v": "2"}], "blob": {"y": 2}}},
                manager="b", force=False, schema=s, gvk=gvk, now="T")
    assert out["spec"]["items"] == [{"id": "a", "v": "1"}, {"id": "b", "v": "2"}]
    assert out["spec"]["blob"] == {"x": 1, "y": 2}
    assert list(mf(out)["b"]["fieldsV1"]["f:spec"]["f:items"]) == ['k:{"id":"b"}']


@pytest.mark.parametrize("live,cfg,expected", [
    (["a", "b", "c"], ["c", "a"], ["b", "c", "a"]),
    (["a", "x", "b"], ["b", "new", "a"], ["x", "b", "new", "a"]),
    (["a", "b"], ["a", "n1", "b", "n2"], ["a", "n1", "b", "n2"]),
    (["a", "b"], [], ["a", "b"]),
])
def test_associative_list_order_follows_structured_merge_diff(
        schema: Schema, live: list, cfg: list, expected: list) -> None:
    from kubesim.ssa import merge
    node = schema.root(DEPLOY).child("spec").child("template").child("spec").child("containers")
    got = merge([{"name": n} for n in live], [{"name": n} for n in cfg], node)
    assert [c["name"] for c in got] == expected


def test_pruning_a_taken_over_value_leaves_the_shared_item(schema: Schema,
                                                            deployment: Any) -> None:
    """Real SSA quirk: m2 owns env A (item, name), m1 forced A's value, then m1 stops
    applying A: only the value m1 owned is removed, the item m2 still owns stays."""
    def with_env(env: list) -> dict:
        return deployment([{"name": "app", "image": "i", "env": env}])
    live = do_apply(schema, None, with_env([{"name": "A", "value": "1"}]), manager="m2")
    live = do_apply(schema, live, with_env([{"name": "A", "value": "2"}]), manager="m1",
                    force=True)
    out = do_apply(schema, live, deployment([{"name": "app", "image": "i"}]), manager="m1")
    assert containers(out)[0]["env"] == [{"name": "A"}]
