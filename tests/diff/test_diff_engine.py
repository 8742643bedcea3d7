"""The comparison engine on plain dicts: defaults, ownership, quantities, ignores, masking."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncwright.diff import compare_app, compile_rules, diff_resource, mask_secrets
from syncwright.errors import SpecError
from syncwright.model import IgnoreDifference
from syncwright.tracking import Tracking

DEPLOY: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                                     "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]},
        },
    },
}


def server_side(obj: dict[str, Any], manager: str = "syncwright") -> dict[str, Any]:
    """What a real API server returns: defaults, status, server metadata, managedFields."""
    live = copy.deepcopy(obj)
    live["metadata"].update(uid="u-1", resourceVersion="42", generation=1, creationTimestamp="2026-01-01T00:00:00Z")
    spec = live["spec"]
    spec.update(revisionHistoryLimit=10, progressDeadlineSeconds=600,
                strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    pod = spec["template"]["spec"]
    pod.update(restartPolicy="Always", dnsPolicy="ClusterFirst", terminationGracePeriodSeconds=30, securityContext={})
    for c in pod["containers"]:
        c.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log",
                 terminationMessagePolicy="File")
        for p in c.get("ports", []):
            p.setdefault("protocol", "TCP")
    live["status"] = {"replicas": 2, "readyReplicas": 2, "observedGeneration": 1}
    live["metadata"]["managedFields"] = [{
        "manager": manager, "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {'k:{"name":"app"}': {
                    ".": {}, "f:image": {}, "f:name": {}, "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {}},
                    "f:resources": {"f:limits": {"f:cpu": {}, "f:memory": {}}}}}}}},
        },
    }]
    return live


def test_defaults_and_server_fields_are_synced() -> None:
    d = diff_resource(DEPLOY, server_side(DEPLOY))
    assert d.status == "Synced" and not d.modified and d.unified() == ""


def test_changed_value_is_out_of_sync_with_a_readable_diff() -> None:
    live = server_side(DEPLOY)
    live["spec"]["replicas"] = 5
    d = diff_resource(DEPLOY, live)
    assert d.status == "OutOfSync"
    text = d.unified()
    assert "-  replicas: 5" in text and "+  replicas: 2" in text


def test_added_field_is_out_of_sync() -> None:
    target = copy.deepcopy(DEPLOY)
    target["spec"]["minReadySeconds"] = 5
    assert diff_resource(target, server_side(DEPLOY)).modified


def test_field_removed_from_git_that_we_applied_is_out_of_sync() -> None:
    live = server_side(DEPLOY)
    target = copy.deepcopy(DEPLOY)
    del target["spec"]["replicas"]
    assert diff_resource(target, live).modified
    # ...but a field someone else owns (or the server defaulted) is not ours to remove
    assert not diff_resource(target, server_side(DEPLOY, manager="kubectl")).modified


def test_removed_container_port_and_container_detected_through_ownership() -> None:
    target = copy.deepcopy(DEPLOY)
    target["spec"]["template"]["spec"]["containers"][0].pop("ports")
    assert diff_resource(target, server_side(DEPLOY)).modified


def test_injected_sidecar_owned_by_others_is_ignored() -> None:
    live = server_side(DEPLOY)
    live["spec"]["template"]["spec"]["containers"].append({"name": "istio-proxy", "image": "proxy"})
    assert not diff_resource(DEPLOY, live).modified


@pytest.mark.parametrize("want,have", [("1000m", "1"), ("1024Mi", "1Gi"), ("0.5", "500m"), ("1e3", "1k")])
def test_equivalent_quantities(want: str, have: str) -> None:
    target = copy.deepcopy(DEPLOY)
    target["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = want
    live = server_side(DEPLOY)
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = have
    assert not diff_resource(target, live).modified


def test_quantity_equivalence_is_not_applied_to_configmap_data() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"size": "1k"}}
    live = copy.deepcopy(cm)
    live["data"]["size"] = "1000"
    assert diff_resource(cm, live).modified


def test_client_side_apply_removal_via_last_applied() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    live = copy.deepcopy(cm)
    live["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(cm)}
    target = copy.deepcopy(cm)
    del target["data"]["b"]
    assert diff_resource(target, live).modified
    assert not diff_resource(cm, live).modified


def test_status_in_target_is_ignored() -> None:
    target = copy.deepcopy(DEPLOY)
    target["status"] = {"replicas": 99}
    assert not diff_resource(target, server_side(DEPLOY)).modified


def test_missing_live_and_extra_live() -> None:
    assert diff_resource(DEPLOY, None).status == "OutOfSync"
    extra = diff_resource(None, server_side(DEPLOY))
    assert extra.status == "OutOfSync" and not extra.modified


def test_ignore_differences_pointers_jq_and_managers() -> None:
    live = server_side(DEPLOY)
    live["spec"]["replicas"] = 7
    live["metadata"]["managedFields"].append({"manager": "hpa-controller", "operation": "Update",
                                              "fieldsV1": {"f:spec": {"f:replicas": {}}}})
    for rule in (
        IgnoreDifference(group="apps", kind="Deployment", json_pointers=("/spec/replicas",)),
        IgnoreDifference(group="apps", kind="*", jq_path_expressions=(".spec.replicas",)),
        IgnoreDifference(group="*", kind="Deployment", managed_fields_managers=("hpa-controller",)),
    ):
        rules = compile_rules((rule,), "app 'demo'")
        assert not diff_resource(DEPLOY, live, rules=rules).modified, rule
    other = compile_rules((IgnoreDifference(group="apps", kind="Deployment", name="other",
                                            json_pointers=("/spec/replicas",)),), "a")
    assert diff_resource(DEPLOY, live, rules=other).modified


@pytest.mark.parametrize("rule,msg", [
    (IgnoreDifference(kind="Deployment", jq_path_expressions=(".spec[",)), "invalid jq path expression"),
    (IgnoreDifference(kind="Deployment", json_pointers=("spec/replicas",)), "must start with '/'"),
])
def test_bad_ignore_rules_are_config_errors_naming_the_app(rule: IgnoreDifference, msg: str) -> None:
    with pytest.raises(SpecError, match=rf"app 'demo': ignoreDifferences\[0\].*{msg}"):
        compile_rules((rule,), "app 'demo'")


def secret(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_secret_values_never_appear_and_changes_still_show() -> None:
    target = secret(password="hunter2", user="admin")
    live = secret(password="old-pass", user="admin")
    live["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(live)}
    d = diff_resource(target, live)
    text = d.unified() + json.dumps([d.target, d.live, d.predicted])
    for value in ("hunter2", "old-pass", "admin"):
        assert base64.b64encode(value.encode()).decode() not in text and value not in text
    assert d.modified and "++++++++" in text


def test_string_data_compares_with_data() -> None:
    target = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "x"}}
    assert not diff_resource(target, secret(a="x")).modified
    assert diff_resource(target, secret(a="y")).modified


def test_mask_is_consistent() -> None:
    a, b = mask_secrets(secret(x="1", y="2"), secret(x="1", y="3"))
    assert a is not None and b is not None
    assert a["data"]["x"] == b["data"]["x"] and a["data"]["y"] != b["data"]["y"]
    assert set(a["data"].values()) | set(b["data"].values()) <= {"++++++++", "++++++++++++", "++++++++++++++++"}


def test_compare_app() -> None:
    track = Tracking()
    cm = track.stamp({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n"}}, "demo")
    hook = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "h", "namespace": "n",
            "annotations": {"argocd.argoproj.io/hook": "PreSync"}}}
    stale = track.stamp({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": "n"}}, "demo")
    ignored = track.stamp({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra", "namespace": "n",
                           "annotations": {"argocd.argoproj.io/compare-options": "IgnoreExtraneous"}}}, "demo")
    live = {("ConfigMap", "a"): cm}
    res = compare_app("demo", [cm, hook], lambda k: live.get((k.kind, k.name)), [cm, stale, ignored], tracking=track)
    by_name = {r.key.name: r for r in res.resources}
    assert by_name["a"].status == "Synced"
    assert by_name["old"].requires_pruning and by_name["old"].status == "OutOfSync"
    assert by_name["extra"].status == "Synced"
    assert res.status == "OutOfSync" and [h["metadata"]["name"] for h in res.hooks] == ["h"]
    other = track.stamp(cm, "other-app")
    res2 = compare_app("demo", [cm], lambda k: other, [], tracking=track)
    assert res2.resources[0].tracked_by == "other-app" and "also tracked by application 'other-app'" in res2.warnings[0]


def test_tracking_rules() -> None:
    t = Tracking()
    obj = t.stamp({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}}, "demo", "prod")
    assert obj["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == "demo:apps/Deployment:prod/w"
    assert t.app_of({**obj, "metadata": {**obj["metadata"], "namespace": "prod"}}) == "demo"
    copied = {**obj, "metadata": {**obj["metadata"], "name": "copy", "namespace": "prod"}}
    assert t.app_of(copied) is None  # not self-referencing
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x"}}
    assert t.stamp(crd, "demo") is crd
    lbl = Tracking("annotation+label").stamp({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "a" * 70)
    assert len(lbl["metadata"]["labels"]["app.kubernetes.io/instance"]) == 63
    with pytest.raises(ValueError):
        Tracking("bogus")


scalars = st.one_of(st.integers(), st.text(max_size=5), st.booleans())
objs = st.recursive(scalars, lambda c: st.dictionaries(st.text("abc", min_size=1, max_size=3), c, max_size=4), max_leaves=12)


@given(st.dictionaries(st.text("xyz", min_size=1, max_size=3), objs, max_size=4))
@settings(max_examples=80, deadline=None)
def test_an_object_is_always_in_sync_with_itself(spec: dict[str, Any]) -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec}
    assert not diff_resource(obj, copy.deepcopy(obj)).modified


def test_cache_compaction_shares_structure_but_never_conflates_values() -> None:
    from syncwright.cluster.cache import compact

    pool: dict[object, object] = {}
    a = compact({"spec": {"x": 1, "labels": {"app": "w"}}, "metadata": {"managedFields": [
        {"manager": "m", "time": "2026", "fieldsV1": {"f:spec": {"f:x": {}}}}]}}, pool)
    b = compact({"spec": {"x": True, "labels": {"app": "w"}}, "metadata": {"managedFields": [
        {"manager": "m", "time": "2027", "fieldsV1": {"f:spec": {"f:x": {}}}}]}}, pool)
    assert a["spec"]["x"] == 1 and b["spec"]["x"] is True and a["spec"] is not b["spec"]
    assert a["spec"]["labels"] is b["spec"]["labels"]  # equal small dicts are shared
    assert a["metadata"]["managedFields"][0]["fieldsV1"] is b["metadata"]["managedFields"][0]["fieldsV1"]
    assert "time" not in a["metadata"]["managedFields"][0]
    c = compact({"spec": {"x": 1.0}}, pool)
    assert isinstance(c["spec"]["x"], float)


def test_managed_fields_managers_reach_into_list_items() -> None:
    """An image another controller owns (e.g. an image updater) is ignored with managedFieldsManagers."""
    live = server_side(DEPLOY)
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27-patched"
    live["metadata"]["managedFields"].append({
        "manager": "image-updater", "operation": "Update",
        "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
            'k:{"name":"app"}': {"f:image": {}}}}}}}})
    assert diff_resource(DEPLOY, live).modified
    rules = compile_rules((IgnoreDifference(group="apps", kind="Deployment",
                                            managed_fields_managers=("image-updater",)),), "app 'demo'")
    assert not diff_resource(DEPLOY, live, rules=rules).modified
    # ...while a change to a field that manager does not own still shows
    live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 81
    assert diff_resource(DEPLOY, live, rules=rules).modified


def test_system_wide_ignore_differences_from_argocd_cm(tmp_path: Any) -> None:
    from syncwright.diff.settings import rules_from_settings
    from syncwright.settings import read_settings

    cm = tmp_path / "argocd-cm.yaml"
    cm.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm}\ndata:\n"
        "  resource.customizations.ignoreDifferences.apps_Deployment: |\n    jsonPointers:\n    - /spec/replicas\n"
        "  resource.customizations.ignoreDifferences.all: |\n    managedFieldsManagers:\n    - kube-controller-manager\n"
        "  resource.customizations: |\n    apps/StatefulSet:\n      ignoreDifferences: |\n        jqPathExpressions:\n"
        "        - .data.volatile\n")
    rules = rules_from_settings(read_settings(cm), str(cm))
    assert {(r.group, r.kind) for r in rules} == {("apps", "Deployment"), ("*", "*"), ("apps", "StatefulSet")}
    live = server_side(DEPLOY)
    live["spec"]["replicas"] = 9
    assert not diff_resource(DEPLOY, live, rules=rules).modified
    bad = tmp_path / "bad.yaml"
    bad.write_text("resource.customizations.ignoreDifferences.apps_Deployment: |\n  jqPathExpressions: ['.spec[']\n")
    with pytest.raises(SpecError, match=r"settings .*bad.yaml.*invalid jq path expression"):
        rules_from_settings(read_settings(bad), str(bad))
