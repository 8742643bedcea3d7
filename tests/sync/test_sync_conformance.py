"""Conformance against kubesim: the order of writes and the final state, per Argo CD's rules."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.kubesim_only  # kubesim's store listener records the writes; Jobs fail by annotation


def _ns_path(senv: Any, plural: str, name: str, api: str = "/api/v1") -> str:
    return f"{api}/namespaces/{senv.ns}/{plural}/{name}"


def test_presync_before_sync_and_postsync_after_healthy(senv: Any, make: Any) -> None:
    senv.create_ns()
    op = senv.sync([make.job("pre", "PreSync"), make.deployment("web"), make.configmap("cfg"),
                    make.job("post", "PostSync")])
    assert op.phase == "Succeeded", op.message
    rec = senv.recorder
    pre_done = rec.completed("Job", "pre")
    assert pre_done < rec.first("Deployment", "web") and pre_done < rec.first("ConfigMap", "cfg")
    assert rec.completed("Deployment", "web") < rec.first("Job", "post")
    assert [(r.phase, r.kind, r.name) for r in op.resources] == [
        ("PreSync", "Job", "pre"), ("Sync", "ConfigMap", "cfg"), ("Sync", "Deployment", "web"),
        ("PostSync", "Job", "post")]
    assert op.resources[0].hook_phase == "Succeeded" and op.resources[0].hook_type == "PreSync"


def test_waves_in_order_each_after_previous_healthy(senv: Any, make: Any) -> None:
    senv.create_ns()
    objs = [make.deployment("w2", wave=2), make.deployment("w1", wave=1), make.deployment("w0", wave=0),
            make.deployment("wm1", wave=-1)]
    op = senv.sync(objs)
    assert op.phase == "Succeeded", op.message
    rec = senv.recorder
    names = ["wm1", "w0", "w1", "w2"]
    for prev, nxt in zip(names, names[1:]):
        assert rec.completed("Deployment", prev) < rec.first("Deployment", nxt), (prev, nxt)
    assert [r.wave for r in op.resources] == [-1, 0, 1, 2]


def test_failing_presync_hook_runs_syncfail_and_writes_nothing_else(senv: Any, make: Any) -> None:
    senv.create_ns()
    op = senv.sync([make.job("pre", "PreSync", fail=True), make.configmap("cfg"),
                    make.job("onfail", "SyncFail"), make.job("post", "PostSync")])
    assert op.phase == "Failed"
    assert "pre" in op.message
    kinds = {(k, n) for _e, k, n in senv.recorder.writes(False)}
    assert ("ConfigMap", "cfg") not in kinds and ("Job", "post") not in kinds
    senv.recorder.completed("Job", "onfail")
    results = {(r.kind, r.name): r for r in op.resources}
    assert results[("Job", "pre")].hook_phase == "Failed"
    assert results[("Job", "onfail")].hook_phase == "Succeeded"
    assert senv.get(_ns_path(senv, "configmaps", "cfg")) is None


def test_hook_delete_policies(senv: Any, make: Any) -> None:
    senv.create_ns()
    op = senv.sync([make.job("ok-deleted", "PreSync", policy="HookSucceeded"),
                    make.job("ok-kept", "PreSync", policy="HookFailed"),
                    make.job("default-kept", "PreSync"), make.configmap("cfg")])
    assert op.phase == "Succeeded", op.message
    jobs = "/apis/batch/v1"
    assert senv.get(_ns_path(senv, "jobs", "ok-deleted", jobs)) is None
    assert senv.get(_ns_path(senv, "jobs", "ok-kept", jobs)) is not None
    assert senv.get(_ns_path(senv, "jobs", "default-kept", jobs)) is not None
    senv.name = senv.name + "-f"
    op = senv.sync([make.job("bad-deleted", "PreSync", fail=True, policy="HookFailed"),
                    make.job("bad-kept", "PreSync", fail=True, policy="HookSucceeded")])
    assert op.phase == "Failed"
    assert senv.get(_ns_path(senv, "jobs", "bad-deleted", jobs)) is None
    assert senv.get(_ns_path(senv, "jobs", "bad-kept", jobs)) is not None


def test_before_hook_creation_replaces_completed_hook(senv: Any, make: Any) -> None:
    senv.create_ns()
    objs = [make.job("migrate", "PreSync"), make.configmap("cfg")]
    assert senv.sync(objs).phase == "Succeeded"
    assert senv.sync(objs).phase == "Succeeded"
    uids = senv.recorder.uids("Job", "migrate")
    assert len(uids) == 2, uids
    assert ("DELETED", "Job", "migrate") in senv.recorder.writes(False)


def test_generate_name_hook_runs_fresh_each_sync(senv: Any, make: Any) -> None:
    senv.create_ns()
    objs = [make.job("gen-", "PostSync", generate=True, policy="HookSucceeded"), make.configmap("cfg")]
    first = senv.sync(objs, revision="0123456789abcdef")
    assert first.phase == "Succeeded", first.message
    hook = next(r for r in first.resources if r.hook_type)
    assert hook.name.startswith("gen-0123456-postsync-")


def _tracked_cm(senv: Any, name: str, **ann: str) -> dict[str, Any]:
    from syncwright.tracking import Tracking

    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": senv.ns,
                                                                  "annotations": dict(ann)}}
    return Tracking().stamp(obj, senv.name, senv.ns)


def test_prune_with_and_without_prune_last_and_prune_false(senv: Any, make: Any) -> None:
    senv.create_ns()
    first = [make.configmap("keep"), make.configmap("old"), make.configmap("last",
             **{"argocd.argoproj.io/sync-options": "PruneLast=true"}),
             make.configmap("never", **{"argocd.argoproj.io/sync-options": "Prune=false"})]
    assert senv.sync(first).phase == "Succeeded"
    second = [make.configmap("keep"), make.job("post", "PostSync")]
    op = senv.sync(second)  # no --prune: nothing deleted
    assert op.phase == "Succeeded"
    assert {r.name: r.status for r in op.resources if r.status == "PruneSkipped"} == {
        "old": "PruneSkipped", "last": "PruneSkipped", "never": "PruneSkipped"}
    senv.recorder.events.clear()
    op = senv.sync(second, prune=True)
    assert op.phase == "Succeeded", op.message
    status = {r.name: (r.status, r.message) for r in op.resources}
    assert status["old"][0] == status["last"][0] == "Pruned"
    assert status["never"] == ("PruneSkipped", "ignored (no prune)")
    rec = senv.recorder
    deleted_old = rec.first("ConfigMap", "old", "DELETED")
    deleted_last = rec.first("ConfigMap", "last", "DELETED")
    post_done = rec.completed("Job", "post")
    assert deleted_old < post_done < deleted_last  # PruneLast runs after everything
    assert senv.get(_ns_path(senv, "configmaps", "never")) is not None


def test_create_namespace_with_managed_metadata(senv: Any, make: Any) -> None:
    app = senv.app(syncPolicy={"syncOptions": ["CreateNamespace=true"],
                               "managedNamespaceMetadata": {"labels": {"team": "a"}}})
    op = senv.sync([make.configmap("cfg")], app=app)
    assert op.phase == "Succeeded", op.message
    ns = senv.get(f"/api/v1/namespaces/{senv.ns}")
    assert ns is not None and ns["metadata"]["labels"]["team"] == "a"
    assert op.resources[0].kind == "Namespace"
    assert senv.get(_ns_path(senv, "configmaps", "cfg")) is not None


def test_replace_and_force(senv: Any, make: Any) -> None:
    senv.create_ns()
    cm = make.configmap("r", **{"argocd.argoproj.io/sync-options": "Replace=true"})
    assert senv.sync([cm]).phase == "Succeeded"
    live = senv.get(_ns_path(senv, "configmaps", "r"))
    assert live is not None
    managers = {m["operation"] for m in live["metadata"].get("managedFields") or []}
    assert "Apply" not in managers  # created/replaced, not server-side applied
    cm["data"] = {"k": "changed"}
    assert senv.sync([cm]).phase == "Succeeded"
    again = senv.get(_ns_path(senv, "configmaps", "r"))
    assert again["data"] == {"k": "changed"} and again["metadata"]["uid"] == live["metadata"]["uid"]
    cm["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] = "Replace=true,Force=true"
    assert senv.sync([cm]).phase == "Succeeded"
    forced = senv.get(_ns_path(senv, "configmaps", "r"))
    assert forced["metadata"]["uid"] != live["metadata"]["uid"]


def test_client_side_apply_removes_dropped_fields(senv: Any, make: Any) -> None:
    senv.create_ns()
    cm = make.configmap("csa", **{"argocd.argoproj.io/sync-options": "ServerSideApply=false"})
    cm["data"] = {"a": "1", "b": "2"}
    assert senv.sync([cm]).phase == "Succeeded"
    live = senv.get(_ns_path(senv, "configmaps", "csa"))
    assert "kubectl.kubernetes.io/last-applied-configuration" in live["metadata"]["annotations"]
    cm["data"] = {"a": "1"}
    assert senv.sync([cm]).phase == "Succeeded"
    assert senv.get(_ns_path(senv, "configmaps", "csa"))["data"] == {"a": "1"}


def test_crd_and_its_cr_in_one_sync(senv: Any, make: Any) -> None:
    senv.create_ns()
    group = f"{senv.ns}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"gizmos.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"kind": "Gizmo", "plural": "gizmos", "singular": "gizmo", "listKind": "GizmoList"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    cr = {"apiVersion": f"{group}/v1", "kind": "Gizmo", "metadata": {"name": "g"}, "spec": {"size": 1}}
    op = senv.sync([cr, crd])
    assert op.phase == "Succeeded", op.message
    assert [r.kind for r in op.resources] == ["CustomResourceDefinition", "Gizmo"]
    assert senv.get(f"/apis/{group}/v1/namespaces/{senv.ns}/gizmos/g") is not None


def test_selective_sync_and_apply_out_of_sync_only(senv: Any, make: Any) -> None:
    from syncwright.sync import ResourceSelector

    senv.create_ns()
    objs = [make.configmap("a"), make.configmap("b"), make.job("h", "PreSync")]
    op = senv.sync(objs, resources=(ResourceSelector.parse(f":ConfigMap:{senv.ns}/b"),))
    assert [r.name for r in op.resources] == ["b"]
    assert senv.get(_ns_path(senv, "configmaps", "a")) is None
    app = senv.app(syncPolicy={"syncOptions": ["ApplyOutOfSyncOnly=true"]})
    objs = [make.configmap("a"), make.configmap("b")]
    assert senv.sync(objs, app=app).phase == "Succeeded"
    before = len(senv.recorder.events)
    op = senv.sync(objs, app=app)
    assert op.phase == "Succeeded" and op.resources == []
    assert len(senv.recorder.events) == before


def test_dry_run_writes_nothing(senv: Any, make: Any) -> None:
    senv.create_ns()
    senv.recorder.events.clear()
    op = senv.sync([make.configmap("a"), make.job("h", "PreSync")], dry_run=True)
    assert op.phase == "Succeeded", op.message
    assert senv.recorder.writes() == []
    assert senv.store.load(senv.name) is None  # dry runs are not recorded


def test_server_side_apply_with_field_manager_syncwright_and_tracking(senv: Any, make: Any) -> None:
    senv.create_ns()
    assert senv.sync([make.configmap("ssa")]).phase == "Succeeded"
    live = senv.get(_ns_path(senv, "configmaps", "ssa"))
    assert {(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]} == {("syncwright", "Apply")}
    assert live["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == \
        f"{senv.name}:/ConfigMap:{senv.ns}/ssa"


def test_degraded_resource_stops_the_waves_and_runs_syncfail(senv: Any, make: Any) -> None:
    senv.create_ns()
    op = senv.sync([make.job("batch", wave=1, fail=True), make.configmap("later", wave=2),
                    make.job("cleanup", "SyncFail", policy="HookSucceeded"), make.job("sync-hook", "Sync")])
    assert op.phase == "Failed"
    assert f"batch/Job {senv.ns}/batch: Degraded" in op.message
    results = {r.name: r for r in op.resources}
    assert results["batch"].status == "SyncFailed"
    assert results["sync-hook"].hook_phase == "Succeeded" and results["sync-hook"].phase == "Sync"
    assert results["cleanup"].hook_phase == "Succeeded"
    assert "later" not in results
    assert senv.get(_ns_path(senv, "configmaps", "later")) is None
    assert senv.get(_ns_path(senv, "jobs", "cleanup", "/apis/batch/v1")) is None  # HookSucceeded
