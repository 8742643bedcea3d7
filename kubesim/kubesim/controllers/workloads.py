"""Deployment -> ReplicaSet -> Pod, StatefulSet and DaemonSet controllers.

Rollouts are simplified: a new ReplicaSet is scaled to the full replica count
at once and the old ones are scaled to zero as soon as it is fully available,
so `rollout status` sees the same sequence of states as on a real cluster,
only faster.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import gc
from . import util

if TYPE_CHECKING:
    from ..api import Api
    from . import ControllerManager

DEPLOY = ("apps", "deployments")
RS = ("apps", "replicasets")
STS = ("apps", "statefulsets")
DS = ("apps", "daemonsets")
PODS = ("", "pods")
REV = "deployment.kubernetes.io/revision"


def _replicas(obj: dict[str, Any]) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def _pods_status(pods: list[dict[str, Any]]) -> tuple[int, int]:
    ready = sum(1 for p in pods if util.pod_ready(p))
    return len(pods), ready


def reconcile_replicaset(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    rs = util.get(api, RS, ns, name)
    if not util.live(rs):
        return
    assert rs is not None
    pods = [p for p in util.owned(api, rs, "Pod") if util.live(p)
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    want = _replicas(rs)
    if len(pods) < want:
        tmpl_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels")
        for _ in range(want - len(pods)):
            pod = util.create(api, PODS, ns, util.pod_from_template(
                rs, None, f"{name}-", dict(tmpl_labels or {})))
            if pod is not None:
                util.event(api, rs, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                           component="replicaset-controller")
    elif len(pods) > want:
        victims = sorted(pods, key=lambda p: (util.pod_ready(p),
                                              p["metadata"]["creationTimestamp"]))
        for p in victims[: len(pods) - want]:
            gc.delete_entry(api, PODS, ns, p["metadata"]["name"])
            util.event(api, rs, "SuccessfulDelete", f"Deleted pod: {p['metadata']['name']}",
                       component="replicaset-controller")
    pods = [p for p in util.owned(api, rs, "Pod") if util.live(p)]
    total, ready = _pods_status(pods)
    status: dict[str, Any] = {"replicas": total}
    if total:
        status["fullyLabeledReplicas"] = total
    if ready:
        status["readyReplicas"] = ready
        status["availableReplicas"] = ready
    status["observedGeneration"] = rs["metadata"].get("generation", 1)
    util.set_status(api, RS, ns, name, status)


def reconcile_deployment(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    d = util.get(api, DEPLOY, ns, name)
    if not util.live(d):
        return
    assert d is not None
    spec = d.get("spec") or {}
    want = _replicas(d)
    tmpl = spec.get("template") or {}
    h = util.template_hash(tmpl)
    rss = util.owned(api, d, "ReplicaSet")
    new_rs = next((r for r in rss if (r["metadata"].get("labels") or {}).get(
        "pod-template-hash") == h), None)
    olds = [r for r in rss if r is not new_rs]
    revs = [int((r["metadata"].get("annotations") or {}).get(REV, "0")) for r in rss]
    created = False
    if new_rs is None:
        rev = str(max(revs, default=0) + 1)
        labels = {**((tmpl.get("metadata") or {}).get("labels") or {}), "pod-template-hash": h}
        sel = spec.get("selector") or {}
        new_tmpl = {**tmpl, "metadata": {**(tmpl.get("metadata") or {}), "labels": labels}}
        new_rs = util.create(api, RS, ns, {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{name}-{h}", "labels": labels,
                         "annotations": {"deployment.kubernetes.io/desired-replicas": str(want),
                                         "deployment.kubernetes.io/max-replicas":
                                             str(want + max(1, want // 4)),
                                         REV: rev},
                         "ownerReferences": [util.owner_ref(d)]},
            "spec": {"replicas": want,
                     "selector": {**sel, "matchLabels": {**(sel.get("matchLabels") or {}),
                                                         "pod-template-hash": h}},
                     "template": new_tmpl,
                     **({"minReadySeconds": spec["minReadySeconds"]}
                        if spec.get("minReadySeconds") else {})}})
        created = True
        if new_rs is None:
            return
        util.event(api, d, "ScalingReplicaSet",
                   f"Scaled up replica set {new_rs['metadata']['name']} from 0 to {want}",
                   component="deployment-controller")
    else:
        rev = (new_rs["metadata"].get("annotations") or {}).get(REV, "1")
        top = max(revs, default=0)
        changed = dict(new_rs)
        if int(rev) < top:  # a rollback reuses an old ReplicaSet under a new revision
            rev = str(top + 1)
            changed["metadata"] = {**new_rs["metadata"], "annotations": {
                **(new_rs["metadata"].get("annotations") or {}), REV: rev}}
        if _replicas(new_rs) != want:
            changed["spec"] = {**new_rs["spec"], "replicas": want}
            util.event(api, d, "ScalingReplicaSet",
                       f"Scaled {'up' if want > _replicas(new_rs) else 'down'} replica set "
                       f"{new_rs['metadata']['name']} from {_replicas(new_rs)} to {want}",
                       component="deployment-controller")
        if changed != new_rs:
            util.update(api, RS, changed)
    new_st = new_rs.get("status") or {}
    new_avail = new_st.get("availableReplicas", 0)
    if new_avail >= want or (spec.get("strategy") or {}).get("type") == "Recreate":
        for r in olds:
            if _replicas(r) != 0:
                util.update(api, RS, {**r, "spec": {**r["spec"], "replicas": 0}})
                util.event(api, d, "ScalingReplicaSet",
                           f"Scaled down replica set {r['metadata']['name']} from "
                           f"{_replicas(r)} to 0", component="deployment-controller")
    limit = spec.get("revisionHistoryLimit", 10)
    idle_olds = sorted((r for r in olds if _replicas(r) == 0 and
                        not (r.get("status") or {}).get("replicas")),
                       key=lambda r: int((r["metadata"].get("annotations") or {}).get(REV, "0")))
    for r in idle_olds[: max(0, len(idle_olds) - int(limit))]:
        gc.delete_entry(api, RS, ns, r["metadata"]["name"])
    anns = d["metadata"].get("annotations") or {}
    if anns.get(REV) != rev:
        util.update(api, DEPLOY, {**d, "metadata": {**d["metadata"],
                                                     "annotations": {**anns, REV: rev}}})
        d = util.get(api, DEPLOY, ns, name) or d
    _deployment_status(api, cm, d, util.owned(api, d, "ReplicaSet"), h, want, created)


def _deployment_status(api: Api, cm: ControllerManager, d: dict[str, Any], rss: list[dict[str, Any]], h: str,
                       want: int, created: bool) -> None:
    meta = d["metadata"]
    new_rs = next((r for r in rss if (r["metadata"].get("labels") or {}).get(
        "pod-template-hash") == h), None)
    sts = [r.get("status") or {} for r in rss]
    replicas = sum(s.get("replicas", 0) for s in sts)
    ready = sum(s.get("readyReplicas", 0) for s in sts)
    avail = sum(s.get("availableReplicas", 0) for s in sts)
    updated = (new_rs.get("status") or {}).get("replicas", 0) if new_rs else 0
    old = d.get("status") or {}
    old_conds = old.get("conditions")
    strategy = (d.get("spec") or {}).get("strategy") or {}
    max_unavail = _max_unavailable(strategy, want)
    available_ok = avail >= want - max_unavail
    cond_avail = util.condition(
        old_conds, "Available", "True" if available_ok else "False",
        "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
        "Deployment has minimum availability." if available_ok
        else "Deployment does not have minimum availability.", update_time=True)
    rs_name = new_rs["metadata"]["name"] if new_rs else meta["name"]
    complete = updated == want and replicas == want and avail >= want
    if complete:
        reason = "NewReplicaSetAvailable"
        msg = f'ReplicaSet "{rs_name}" has successfully progressed.'
    elif created:
        reason, msg = "NewReplicaSetCreated", f'Created new replica set "{rs_name}"'
    else:
        reason, msg = "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.'
    cond_prog = util.condition(old_conds, "Progressing", "True", reason, msg, update_time=True)
    deadline = (d.get("spec") or {}).get("progressDeadlineSeconds", 600)
    if not complete and isinstance(deadline, int):
        prev = next((c for c in old_conds or [] if c.get("type") == "Progressing"), None)
        if prev is not None and prev.get("reason") == "ProgressDeadlineExceeded":
            cond_prog = prev
        elif _age(cond_prog.get("lastUpdateTime")) >= deadline:
            cond_prog = util.condition(
                old_conds, "Progressing", "False", "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.', update_time=True)
        else:
            # Look again when the deadline would pass.
            cm.enqueue("deployment", meta.get("namespace", ""), meta["name"],
                       delay=max(0.1, deadline + 0.5 - _age(cond_prog.get("lastUpdateTime"))))
    status: dict[str, Any] = {"observedGeneration": meta.get("generation", 1)}
    if replicas:
        status["replicas"] = replicas
    if updated:
        status["updatedReplicas"] = updated
    if ready:
        status["readyReplicas"] = ready
    if avail:
        status["availableReplicas"] = avail
    if replicas - avail > 0 or want - avail > 0:
        status["unavailableReplicas"] = max(replicas - avail, want - avail)
    status["conditions"] = [cond_avail, cond_prog]
    util.set_status(api, DEPLOY, meta.get("namespace", ""), meta["name"], status)


def _age(ts: Any) -> float:
    """Seconds since an RFC 3339 timestamp (0 when missing or malformed)."""
    try:
        t = datetime.strptime(str(ts), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return 0.0
    return (datetime.now(timezone.utc) - t).total_seconds()


def _max_unavailable(strategy: dict[str, Any], want: int) -> int:
    if strategy.get("type") == "Recreate":
        return 0
    mu = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(mu, str) and mu.endswith("%"):
        return int(want * int(mu[:-1]) / 100)
    return int(mu)


def reconcile_statefulset(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    sts = util.get(api, STS, ns, name)
    if not util.live(sts):
        return
    assert sts is not None
    want = _replicas(sts)
    rev = f"{name}-{util.template_hash((sts.get('spec') or {}).get('template'))}"
    pods = {p["metadata"]["name"]: p for p in util.owned(api, sts, "Pod")}
    for pname, p in pods.items():
        idx = pname.rsplit("-", 1)[-1]
        stale = (p["metadata"].get("labels") or {}).get("controller-revision-hash") != rev
        if util.live(p) and ((idx.isdigit() and int(idx) >= want) or stale):
            gc.delete_entry(api, PODS, ns, pname)
    for i in range(want):
        pname = f"{name}-{i}"
        if pname not in pods or (api.store.get(PODS, ns, pname) is None):
            util.create(api, PODS, ns, util.pod_from_template(sts, pname, None, {
                **(((sts["spec"].get("template") or {}).get("metadata") or {}).get("labels")
                   or {}),
                "controller-revision-hash": rev, "statefulset.kubernetes.io/pod-name": pname,
                "apps.kubernetes.io/pod-index": str(i)}))
    live_pods = [p for p in util.owned(api, sts, "Pod") if util.live(p)]
    total, ready = _pods_status(live_pods)
    status: dict[str, Any] = {"observedGeneration": sts["metadata"].get("generation", 1),
                              "replicas": total, "currentReplicas": total,
                              "updatedReplicas": total, "currentRevision": rev,
                              "updateRevision": rev, "collisionCount": 0}
    if ready:
        status["readyReplicas"] = ready
    status["availableReplicas"] = ready
    util.set_status(api, STS, ns, name, status)


def reconcile_daemonset(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    ds = util.get(api, DS, ns, name)
    if not util.live(ds):
        return
    assert ds is not None
    rev = util.template_hash((ds.get("spec") or {}).get("template"))
    pods = [p for p in util.owned(api, ds, "Pod") if util.live(p)]
    for p in pods:
        if (p["metadata"].get("labels") or {}).get("controller-revision-hash") != rev:
            gc.delete_entry(api, PODS, ns, p["metadata"]["name"])
    pods = [p for p in util.owned(api, ds, "Pod") if util.live(p)]
    if not pods:
        pod = util.pod_from_template(ds, None, f"{name}-", {
            **(((ds["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}),
            "controller-revision-hash": rev, "pod-template-generation":
                str(ds["metadata"].get("generation", 1))})
        pod["spec"]["nodeName"] = "kubesim-node"
        util.create(api, PODS, ns, pod)
        pods = [p for p in util.owned(api, ds, "Pod") if util.live(p)]
    _, ready = _pods_status(pods)
    status: dict[str, Any] = {"currentNumberScheduled": 1, "numberMisscheduled": 0,
                              "desiredNumberScheduled": 1, "numberReady": ready,
                              "observedGeneration": ds["metadata"].get("generation", 1),
                              "updatedNumberScheduled": len(pods)}
    if ready:
        status["numberAvailable"] = ready
    else:
        status["numberUnavailable"] = 1
    util.set_status(api, DS, ns, name, status)
