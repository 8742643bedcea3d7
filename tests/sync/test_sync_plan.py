"""Planning without a cluster: task order, hooks, prune placement, options, selection."""

from __future__ import annotations

from typing import Any

import pytest

from syncwright.errors import SpecError
from syncwright.model import Retry, parse_application
from syncwright.sync import ResourceSelector, build_plan
from syncwright.sync import options as opts
from syncwright.sync import retry
from syncwright.sync.hooks import hook_name
from syncwright.tracking import Tracking


class Live:
    def __init__(self, objs: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
        self.objs = list(objs)

    def find(self, group: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        for o in self.objs:
            m = o["metadata"]
            if (o["kind"], m.get("namespace", ""), m["name"]) == (kind, namespace, name):
                return o
        return None

    def tracked(self, app: str) -> list[dict[str, Any]]:
        return [o for o in self.objs if Tracking().app_of(o) == app]

    def children(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        return []


def app(**policy: Any) -> Any:
    spec: dict[str, Any] = {"source": {"repoURL": "/x", "path": "."}, "destination": {"namespace": "ns"}}
    if policy:
        spec["syncPolicy"] = policy
    return parse_application({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                              "metadata": {"name": "a"}, "spec": spec}, "t")


def obj(kind: str, name: str, api: str = "v1", **ann: str) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "annotations": dict(ann)}}


def tracked(kind: str, name: str, api: str = "v1", **ann: str) -> dict[str, Any]:
    o = Tracking().stamp({**obj(kind, name, api, **ann), "metadata": {"name": name, "namespace": "ns",
                                                                     "annotations": dict(ann)}}, "a", "ns")
    return o


def order(plan: Any) -> list[str]:
    return [f"{t.phase}/{t.wave}/{'prune:' if t.prune else ''}{t.kind}/{t.name}" for t in plan.tasks]


def test_phase_wave_kind_name_order() -> None:
    manifests = [
        obj("Deployment", "b", "apps/v1"), obj("Service", "a"), obj("ConfigMap", "z"),
        obj("Widget", "w", "example.com/v1"), obj("ConfigMap", "late", **{"argocd.argoproj.io/sync-wave": "2"}),
        obj("ConfigMap", "early", **{"argocd.argoproj.io/sync-wave": "-1"}),
        obj("Job", "pre", "batch/v1", **{"argocd.argoproj.io/hook": "PreSync"}),
        obj("Job", "post", "batch/v1", **{"argocd.argoproj.io/hook": "PostSync,PreSync"}),
        obj("Job", "fail", "batch/v1", **{"argocd.argoproj.io/hook": "SyncFail"}),
        obj("ConfigMap", "skip", **{"argocd.argoproj.io/hook": "Skip"}),
        obj("Pod", "helm-test", **{"helm.sh/hook": "test"}),
        obj("Secret", "hw", **{"helm.sh/hook-weight": "1"}),
    ]
    plan = build_plan(app(), manifests, Live())
    assert order(plan) == [
        "PreSync/0/Job/post", "PreSync/0/Job/pre",
        "Sync/-1/ConfigMap/early",
        "Sync/0/ConfigMap/z", "Sync/0/Service/a", "Sync/0/Deployment/b", "Sync/0/Widget/w",
        "Sync/1/Secret/hw",
        "Sync/2/ConfigMap/late",
        "PostSync/0/Job/post",
    ]
    assert [t.name for t in plan.syncfail] == ["fail"]
    assert plan.multi_step


def test_single_step_without_hooks_does_not_wait() -> None:
    plan = build_plan(app(), [obj("ConfigMap", "a"), obj("Service", "b")], Live())
    assert not plan.multi_step


def test_namespace_and_crd_move_before_first_dependent() -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com", "annotations": {"argocd.argoproj.io/sync-wave": "5"}},
           "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced"}}
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other",
                                                                 "annotations": {"argocd.argoproj.io/sync-wave": "3"}}}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "other"}}
    plan = build_plan(app(), [crd, obj("Widget", "w", "example.com/v1"), ns, cm], Live(),
                      served=lambda g, k: k != "Widget")
    assert order(plan) == ["Sync/0/Namespace/other", "Sync/0/ConfigMap/c",
                           "Sync/0/CustomResourceDefinition/widgets.example.com", "Sync/0/Widget/w"]
    widget = next(t for t in plan.tasks if t.kind == "Widget")
    assert widget.skip_dry_run  # its CRD is in the same sync


def test_prune_last_wave_reversed_and_prune_last() -> None:
    live = [tracked("ConfigMap", "old1", **{"argocd.argoproj.io/sync-wave": "1"}),
            tracked("ConfigMap", "old5", **{"argocd.argoproj.io/sync-wave": "5"}),
            tracked("ConfigMap", "old3", **{"argocd.argoproj.io/sync-wave": "3",
                                            "argocd.argoproj.io/sync-options": "PruneLast=true"})]
    manifests = [obj("ConfigMap", "keep", **{"argocd.argoproj.io/sync-wave": "2"}),
                 obj("Job", "post", "batch/v1", **{"argocd.argoproj.io/hook": "PostSync"})]
    plan = build_plan(app(), manifests, Live(live), prune=True)
    assert order(plan) == ["Sync/2/prune:ConfigMap/old5", "Sync/2/prune:ConfigMap/old1", "Sync/2/ConfigMap/keep",
                           "PostSync/0/Job/post", "Sync/2/prune:ConfigMap/old3"]
    assert plan.tasks[-1].late


def test_prune_needs_flag_and_respects_prune_false() -> None:
    live = [tracked("ConfigMap", "gone"), tracked("ConfigMap", "kept", **{"argocd.argoproj.io/sync-options": "Prune=false"})]
    plan = build_plan(app(), [], Live(live))
    assert {(t.name, t.message) for t in plan.skipped} == {("gone", "ignored (requires pruning)"),
                                                          ("kept", "ignored (requires pruning)")}
    plan = build_plan(app(), [], Live(live), prune=True)
    assert [t.name for t in plan.tasks] == ["gone"]
    assert [(t.name, t.status, t.message) for t in plan.skipped] == [("kept", "PruneSkipped", "ignored (no prune)")]
    untracked = obj("ConfigMap", "foreign")
    untracked["metadata"]["namespace"] = "ns"
    assert build_plan(app(), [], Live([untracked]), prune=True).tasks == []


def test_apply_out_of_sync_only_keeps_hooks_and_changed() -> None:
    same = tracked("ConfigMap", "same")
    plan = build_plan(app(syncOptions=["ApplyOutOfSyncOnly=true"]),
                      [obj("ConfigMap", "same"), obj("ConfigMap", "new"),
                       obj("Job", "h", "batch/v1", **{"argocd.argoproj.io/hook": "Sync"})], Live([same]))
    assert sorted(t.name for t in plan.tasks) == ["h", "new"]


def test_selective_sync_skips_hooks() -> None:
    plan = build_plan(app(), [obj("ConfigMap", "a"), obj("ConfigMap", "b"),
                              obj("Job", "h", "batch/v1", **{"argocd.argoproj.io/hook": "PreSync"})], Live(),
                      resources=[ResourceSelector.parse(":ConfigMap:ns/b")])
    assert [t.name for t in plan.tasks] == ["b"]


def test_shared_resource_fails_only_with_option() -> None:
    other = Tracking().stamp({**obj("ConfigMap", "c"), "metadata": {"name": "c", "namespace": "ns"}}, "other", "ns")
    assert build_plan(app(), [obj("ConfigMap", "c")], Live([other])).errors == []
    plan = build_plan(app(syncOptions=["FailOnSharedResource=true"]), [obj("ConfigMap", "c")], Live([other]))
    assert plan.errors == ["ConfigMap ns/c is part of applications a and other"]


def test_generate_name_hooks_get_a_fresh_name() -> None:
    hook = {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"generateName": "migrate-", "annotations": {"argocd.argoproj.io/hook": "PreSync"}}}
    p1 = build_plan(app(), [hook], Live(), revision="abcdef1234", started_unix=100)
    p2 = build_plan(app(), [hook], Live(), revision="abcdef1234", started_unix=200)
    assert p1.tasks[0].name == "migrate-abcdef1-presync-100" != p2.tasks[0].name
    assert hook_name("x-", "", "PostSync", 5) == "x-postsync-5"


def test_options_are_validated_and_resource_overrides_app() -> None:
    with pytest.raises(SpecError, match="unknown sync option 'Prunne'"):
        opts.parse(["Prunne=false"])
    with pytest.raises(SpecError, match="must be one of"):
        opts.parse(["PrunePropagationPolicy=sideways"])
    app_level = opts.parse(["ServerSideApply=true", "Prune=true"])
    res = obj("ConfigMap", "x", **{"argocd.argoproj.io/sync-options": "ServerSideApply=false, Prune=false"})
    assert opts.effective(app_level, res) == {"ServerSideApply": "false", "Prune": "false"}


def test_retry_backoff() -> None:
    r = Retry.model_validate({"limit": 3, "backoff": {"duration": "1s", "factor": 2, "maxDuration": "3s"}})
    assert [retry.delay(r, i) for i in range(4)] == [1, 2, 3, 3]
    assert retry.allowed(r, 2) and not retry.allowed(r, 3)
    assert retry.allowed(Retry.model_validate({"limit": -1}), 100)
    assert retry.parse_duration("1m30s") == 90 and retry.parse_duration("250ms") == 0.25
    with pytest.raises(SpecError):
        retry.parse_duration("soon")


def test_prune_confirm_needs_the_deletion_approved_annotation() -> None:
    live = [tracked("ConfigMap", "gone", **{"argocd.argoproj.io/sync-options": "Prune=confirm"})]
    plan = build_plan(app(), [], Live(live), prune=True)
    assert plan.tasks == [] and "Prune=confirm" in plan.skipped[0].message
    approved = parse_application({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                                  "metadata": {"name": "a", "annotations": {
                                      "argocd.argoproj.io/deletion-approved": "2026-01-01T00:00:00Z"}},
                                  "spec": {"source": {"repoURL": "/x"}, "destination": {"namespace": "ns"}}}, "t")
    assert [t.name for t in build_plan(approved, [], Live(live), prune=True).tasks] == ["gone"]


def test_respect_ignore_differences_keeps_live_values() -> None:
    live = tracked("ConfigMap", "c")
    live["data"] = {"replicas": "5", "other": "live"}
    desired = obj("ConfigMap", "c")
    desired["data"] = {"replicas": "1", "other": "git"}
    spec = {"source": {"repoURL": "/x"}, "destination": {"namespace": "ns"},
            "ignoreDifferences": [{"kind": "ConfigMap", "jsonPointers": ["/data/replicas"]}]}
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"}, "spec": spec}
    plain = build_plan(parse_application(doc, "t"), [desired], Live([live]))
    assert plain.tasks[0].obj["data"] == {"replicas": "1", "other": "git"}
    spec["syncPolicy"] = {"syncOptions": ["RespectIgnoreDifferences=true"]}
    respect = build_plan(parse_application(doc, "t"), [desired], Live([live]))
    assert respect.tasks[0].obj["data"] == {"replicas": "5", "other": "git"}
    assert desired["data"]["replicas"] == "1"  # the rendered manifest is not modified


def test_three_way_merge_patch_like_kubectl() -> None:
    from syncwright.cluster.apply import three_way_merge_patch

    last = {"data": {"a": "1", "b": "2"}, "metadata": {"labels": {"x": "1"}}}
    desired = {"data": {"a": "1", "c": "3"}, "metadata": {"labels": {"x": "1"}}}
    live = {"data": {"a": "1", "b": "2", "z": "set-by-someone"}, "metadata": {"labels": {"x": "1", "y": "other"}}}
    assert three_way_merge_patch(last, desired, live) == {"data": {"b": None, "c": "3"}}
