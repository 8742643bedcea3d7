"""The kubelet's visible effects on Pods, and the Job controller.

Pods go Pending -> Running after the `pod` delay; pods that do not restart
(restartPolicy Never/OnFailure) then end Succeeded, or Failed when their
template carried `kubesim.dev/fail: "true"`, after `kubesim.dev/duration`.
"""

from __future__ import annotations

import re
import time
import zlib
from typing import TYPE_CHECKING, Any

from ..api import now
from . import util

if TYPE_CHECKING:
    from ..api import Api
    from . import ControllerManager

PODS = ("", "pods")
JOBS = ("batch", "jobs")
FAIL = "kubesim.dev/fail"
DURATION = "kubesim.dev/duration"
_DUR = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Go-style durations as in the annotation: "2s", "1m30s", "500ms"."""
    total, pos = 0.0, 0
    text = text.strip()
    for m in _DUR.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid {DURATION} annotation {text!r}; use e.g. \"2s\" or \"500ms\"")
    return total


def _ip(uid: str) -> str:
    n = zlib.crc32(uid.encode())
    return f"10.244.{(n >> 8) & 0xFF}.{(n & 0xFF) or 1}"


def _cond(ctype: str, status: str, t: str, reason: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": ctype, "status": status, "lastProbeTime": None,
                         "lastTransitionTime": t}
    if reason:
        c["reason"] = reason
    return c


def reconcile_pod(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    pod = util.get(api, PODS, ns, name)
    if not util.live(pod):
        return
    assert pod is not None
    st = pod.get("status") or {}
    spec = pod.get("spec") or {}
    phase = st.get("phase", "Pending")
    anns = pod["metadata"].get("annotations") or {}
    t = now()
    containers = spec.get("containers") or []
    if phase == "Pending":
        status = {
            "phase": "Running",
            "conditions": [_cond("PodReadyToStartContainers", "True", t),
                           _cond("Initialized", "True", t), _cond("Ready", "True", t),
                           _cond("ContainersReady", "True", t),
                           _cond("PodScheduled", "True", t)],
            "hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}],
            "podIP": _ip(pod["metadata"]["uid"]), "podIPs": [{"ip": _ip(pod["metadata"]["uid"])}],
            "startTime": t, "qosClass": st.get("qosClass", "BestEffort"),
            "containerStatuses": [{
                "name": c.get("name", ""), "image": c.get("image", ""),
                "imageID": f"docker.io/library/{c.get('image', '')}@sha256:" + "0" * 64,
                "containerID": f"containerd://{pod['metadata']['uid'].replace('-', '')}{i}",
                "ready": True, "started": True, "restartCount": 0,
                "state": {"running": {"startedAt": t}}} for i, c in enumerate(containers)],
        }
        if spec.get("restartPolicy", "Always") == "Always" and anns.get(FAIL) == "true":
            status = _crash_looping(status, t)
        if not spec.get("nodeName"):
            new_spec = {**spec, "nodeName": "kubesim-node"}
            util.update(api, PODS, {**pod, "spec": new_spec}, manager="kube-scheduler",
                        subresource="binding")
        util.set_status(api, PODS, ns, name, status, manager=util.KUBELET)
        util.event(api, pod, "Scheduled", f"Successfully assigned {ns}/{name} to kubesim-node",
                   component="default-scheduler")
        if status["containerStatuses"] and "waiting" in status["containerStatuses"][0]["state"]:
            util.event(api, pod, "BackOff", "Back-off restarting failed container",
                       component="kubelet", etype="Warning")
        else:
            for c in containers:
                util.event(api, pod, "Started", f"Started container {c.get('name', '')}",
                           component="kubelet")
        if spec.get("restartPolicy", "Always") != "Always":
            try:
                dur = parse_duration(anns[DURATION]) if DURATION in anns else cm.job_duration
            except ValueError:
                dur = cm.job_duration
            cm.finish_at[(ns, name)] = time.monotonic() + dur
            cm.enqueue("pod", ns, name, delay=dur)
        return
    if phase == "Running" and spec.get("restartPolicy", "Always") != "Always":
        left = cm.finish_at.get((ns, name), 0.0) - time.monotonic()
        if left > 0:
            cm.enqueue("pod", ns, name, delay=left)
            return
        cm.finish_at.pop((ns, name), None)
        failed = anns.get(FAIL) == "true"
        code = 1 if failed else 0
        reason = "Error" if failed else "Completed"
        conds = [c if c.get("type") not in ("Ready", "ContainersReady")
                 else _cond(c["type"], "False", t, "PodFailed" if failed else "PodCompleted")
                 for c in st.get("conditions") or []]
        status = {**st, "phase": "Failed" if failed else "Succeeded", "conditions": conds,
                  "containerStatuses": [{
                      **cs, "ready": False, "started": False,
                      "state": {"terminated": {"exitCode": code, "reason": reason,
                                               "startedAt": st.get("startTime", t),
                                               "finishedAt": t,
                                               "containerID": cs.get("containerID")}}}
                      for cs in st.get("containerStatuses") or []]}
        util.set_status(api, PODS, ns, name, status, manager=util.KUBELET)


def _crash_looping(status: dict[str, Any], t: str) -> dict[str, Any]:
    """A long-running pod whose containers keep failing: Running but never Ready."""
    conds = [c if c["type"] not in ("Ready", "ContainersReady")
             else {**c, "status": "False", "reason": "ContainersNotReady",
                   "message": "containers with unready status"}
             for c in status["conditions"]]
    statuses = [{**cs, "ready": False, "started": False, "restartCount": 1,
                 "state": {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": "back-off 10s restarting failed container"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                              "startedAt": t, "finishedAt": t}}}
                for cs in status["containerStatuses"]]
    return {**status, "conditions": conds, "containerStatuses": statuses}


def reconcile_job(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    job = util.get(api, JOBS, ns, name)
    if not util.live(job):
        return
    assert job is not None
    spec = job.get("spec") or {}
    st = job.get("status") or {}
    conds = st.get("conditions") or []
    if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conds):
        return
    if spec.get("suspend"):
        return
    completions = spec.get("completions", 1) or 1
    parallelism = spec.get("parallelism", 1)
    backoff = spec.get("backoffLimit", 6)
    pods = [p for p in util.owned(api, job, "Pod") if util.live(p)]
    phases = [(p.get("status") or {}).get("phase", "Pending") for p in pods]
    succeeded = phases.count("Succeeded")
    failed = phases.count("Failed")
    active = [p for p, ph in zip(pods, phases) if ph not in ("Succeeded", "Failed")]
    fail_annot = (((spec.get("template") or {}).get("metadata") or {}).get("annotations")
                  or {}).get("kubesim.dev/fail") == "true"
    t = now()
    status: dict[str, Any] = {"startTime": st.get("startTime", t)}
    uid = job["metadata"]["uid"]
    finished = False
    if succeeded >= completions:
        status["completionTime"] = t
        status["conditions"] = [
            util.condition(conds, "SuccessCriteriaMet", "True", "CompletionsReached",
                           "Reached expected number of succeeded pods"),
            util.condition(conds, "Complete", "True", "CompletionsReached",
                           "Reached expected number of succeeded pods")]
        finished = True
        util.event(api, job, "Completed", "Job completed", component="job-controller")
    elif failed and (fail_annot or failed > backoff):
        status["conditions"] = [
            util.condition(conds, "FailureTarget", "True", "BackoffLimitExceeded",
                           "Job has reached the specified backoff limit"),
            util.condition(conds, "Failed", "True", "BackoffLimitExceeded",
                           "Job has reached the specified backoff limit")]
        finished = True
        util.event(api, job, "BackoffLimitExceeded", "Job has reached the specified backoff "
                   "limit", component="job-controller", etype="Warning")
    else:
        need = min(parallelism, completions - succeeded) - len(active)
        labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                  "controller-uid": uid, "job-name": name}
        for _ in range(max(0, need)):
            pod = util.pod_from_template(job, None, f"{name}-", labels)
            pod["spec"].setdefault("restartPolicy", "Never")
            created = util.create(api, ("", "pods"), ns, pod)
            if created is not None:
                util.event(api, job, "SuccessfulCreate",
                           f"Created pod: {created['metadata']['name']}",
                           component="job-controller")
        active = [p for p in util.owned(api, job, "Pod") if util.live(p)
                  and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    if active and not finished:
        status["active"] = len(active)
    status["ready"] = sum(1 for p in active if util.pod_ready(p)) if not finished else 0
    if succeeded:
        status["succeeded"] = succeeded
    if failed:
        status["failed"] = failed
    status["terminating"] = 0
    status["uncountedTerminatedPods"] = {}
    util.set_status(api, JOBS, ns, name, status)
