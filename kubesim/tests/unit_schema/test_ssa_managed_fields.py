"""managedFields for non-apply writes, and the FieldsV1 encoding."""
from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim import fieldpath as fp
from kubesim.schema import GVK, Schema
from kubesim.ssa import record_update

DEPLOY = GVK("apps", "v1", "Deployment")


def entries(obj: dict) -> dict[tuple[str, str], dict]:
    return {(m["manager"], m["operation"]): m for m in obj["metadata"]["managedFields"]}


def test_create_owns_everything_with_dot_on_new_maps(schema: Schema, deployment: Any) -> None:
    obj = deployment()
    out = record_update(None, obj, manager="kubectl-create", schema=schema, gvk=DEPLOY, now="T")
    [e] = out["metadata"]["managedFields"]
    assert e["operation"] == "Update" and e["apiVersion"] == "apps/v1" and e["time"] == "T"
    f = e["fieldsV1"]
    assert f["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    assert f["f:spec"]["f:replicas"] == {} and f["f:spec"]["f:selector"] == {}
    assert f["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}'] == {
        ".": {}, "f:image": {}, "f:name": {}}
    assert "f:apiVersion" not in f and "f:name" not in f["f:metadata"]
    assert "managedFields" not in obj["metadata"]  # input untouched


def test_update_moves_changed_fields_between_managers(schema: Schema, deployment: Any) -> None:
    created = record_update(None, deployment(), manager="creator", schema=schema, gvk=DEPLOY,
                            now="T1")
    edited = copy.deepcopy(created)
    edited["spec"]["replicas"] = 3
    del edited["metadata"]["labels"]
    out = record_update(created, edited, manager="editor", schema=schema, gvk=DEPLOY, now="T2")
    e = entries(out)
    assert e[("editor", "Update")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    creator = e[("creator", "Update")]["fieldsV1"]
    assert "f:replicas" not in creator["f:spec"] and "f:labels" not in creator.get("f:metadata", {})
    assert e[("creator", "Update")]["time"] == "T1"


def test_noop_update_keeps_managed_fields(schema: Schema, deployment: Any) -> None:
    created = record_update(None, deployment(), manager="c", schema=schema, gvk=DEPLOY, now="T1")
    again = record_update(created, copy.deepcopy(created), manager="other", schema=schema,
                          gvk=DEPLOY, now="T2")
    assert again["metadata"]["managedFields"] == created["metadata"]["managedFields"]


def test_status_subresource_entry(schema: Schema, deployment: Any) -> None:
    created = record_update(None, deployment(), manager="c", schema=schema, gvk=DEPLOY, now="T1")
    st_new = copy.deepcopy(created)
    st_new["status"] = {"replicas": 1, "conditions": [{"type": "Available", "status": "True"}]}
    out = record_update(created, st_new, manager="kube-controller-manager", subresource="status",
                        schema=schema, gvk=DEPLOY, now="T2")
    e = entries(out)[("kube-controller-manager", "Update")]
    assert e["subresource"] == "status"
    assert e["fieldsV1"]["f:status"]["f:conditions"]['k:{"type":"Available"}'] == {
        ".": {}, "f:status": {}, "f:type": {}}


def test_entries_sorted_apply_first_then_time(schema: Schema, deployment: Any) -> None:
    from kubesim.ssa import apply
    live = record_update(None, deployment(), manager="z-create", schema=schema, gvk=DEPLOY,
                         now="T1")
    cfg = deployment()
    cfg["metadata"]["annotations"] = {"a": "b"}
    out = apply(live, cfg, manager="kubectl", force=False, schema=schema, gvk=DEPLOY, now="T2")
    assert [m["operation"] for m in out["metadata"]["managedFields"]] == ["Apply", "Update"]


def test_display_paths() -> None:
    assert fp.display(("f:spec", "f:replicas")) == ".spec.replicas"
    assert fp.display(("f:spec", 'k:{"name":"app"}', "f:image")) == '.spec[name="app"].image'
    assert fp.display(("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}')) == \
        '.ports[containerPort=80,protocol="TCP"]'
    assert fp.display(("f:finalizers", 'v:"x"')) == '.finalizers[="x"]'
    assert fp.display(("f:a", "i:2")) == ".a[2]"


def test_encode_decode_known_shape() -> None:
    fields = {("f:metadata", "f:labels"), ("f:metadata", "f:labels", "f:app"),
              ("f:spec", "f:replicas")}
    enc = fp.encode(fields)
    assert enc == {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                   "f:spec": {"f:replicas": {}}}
    assert list(enc["f:metadata"]["f:labels"]) == [".", "f:app"]
    assert fp.decode(enc) == fields


elements = st.sampled_from(["f:a", "f:b", "f:c", 'k:{"name":"x"}', 'v:"y"', "i:0"])
paths = st.lists(elements, min_size=1, max_size=4).map(tuple)


@settings(max_examples=200, deadline=None)
@given(st.sets(paths, max_size=12))
def test_encode_decode_roundtrip(fields: set) -> None:
    # a path whose descendants are in the set but which is not a member itself is
    # implied by its children, exactly as FieldsV1 expresses it
    assert fp.decode(fp.encode(fields)) == fields
