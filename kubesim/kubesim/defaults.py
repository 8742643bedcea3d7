"""Server-side defaulting of the common built-in fields, as kube-apiserver 1.37 does it.

Reproduces the `SetDefaults_*` functions of k8s.io/kubernetes/pkg/apis/*/v1 for the
fields users commonly omit, so a manifest read back from kubesim carries the same
server-added values as one read back from a real cluster (which GitOps diffing has to
ignore). Admission-added fields are covered where every cluster has them (service
account name, default tolerations). `apply_defaults` never mutates its input and is
idempotent, so the server can run it on every create and update.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any, Callable

from .schema import GVK

JSON = dict[str, Any]
_TEMPLATE_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"}


def apply_defaults(obj: JSON, gvk: GVK) -> JSON:
    """Return a defaulted copy of `obj` (a built-in kind; other kinds are returned copied)."""
    out = copy.deepcopy(obj)
    fn = _BY_KIND.get((gvk.group, gvk.kind))
    if fn is not None:
        fn(out)
    return out


def _spec(obj: JSON) -> JSON:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec


def _sub(d: JSON, key: str) -> JSON:
    v = d.get(key)
    if not isinstance(v, dict):
        v = d[key] = {}
    return v


def image_pull_policy(image: str) -> str:
    """Always for `:latest` or untagged images, IfNotPresent otherwise (digests included)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _probe(p: Any) -> None:
    if not isinstance(p, dict):
        return
    for k, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                 ("failureThreshold", 3)):
        p.setdefault(k, v)
    if isinstance(p.get("httpGet"), dict):
        p["httpGet"].setdefault("path", "/")
        p["httpGet"].setdefault("scheme", "HTTP")
    if isinstance(p.get("grpc"), dict):
        p["grpc"].setdefault("service", "")


def _container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    if isinstance(c.get("image"), str):
        c.setdefault("imagePullPolicy", image_pull_policy(c["image"]))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(probe))


def _volume(v: Any) -> None:
    if not isinstance(v, dict):
        return
    for src in ("configMap", "secret"):
        if isinstance(v.get(src), dict):
            v[src].setdefault("defaultMode", 420)
    if isinstance(v.get("projected"), dict):
        v["projected"].setdefault("defaultMode", 420)
    if isinstance(v.get("downwardAPI"), dict):
        v["downwardAPI"].setdefault("defaultMode", 420)
    if isinstance(v.get("hostPath"), dict):
        v["hostPath"].setdefault("type", "")


def pod_spec_defaults(spec: JSON, *, restart_policy: bool = True) -> None:
    """SetDefaults_PodSpec plus container, volume and probe defaults (in place)."""
    spec.setdefault("dnsPolicy", "ClusterFirst")
    if restart_policy:
        spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            _container(c)
    for v in spec.get("volumes") or []:
        _volume(v)


def _template(spec: JSON, *, restart_policy: bool = True) -> None:
    tpl = spec.get("template")
    if isinstance(tpl, dict):
        pod_spec_defaults(_sub(tpl, "spec"), restart_policy=restart_policy)


def _pod(obj: JSON) -> None:
    spec = _spec(obj)
    pod_spec_defaults(spec)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("serviceAccountName", spec.get("serviceAccount", "default"))
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(isinstance(t, dict) and t.get("key") == key for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": 300})


def _deployment(obj: JSON) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    strategy = _sub(spec, "strategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = _sub(strategy, "rollingUpdate")
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(spec)


def _replicaset(obj: JSON) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    _template(spec)


def _statefulset(obj: JSON) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    us = _sub(spec, "updateStrategy")
    us.setdefault("type", "RollingUpdate")
    if us["type"] == "RollingUpdate":
        _sub(us, "rollingUpdate").setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    policy = _sub(spec, "persistentVolumeClaimRetentionPolicy")
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    for pvc in spec.get("volumeClaimTemplates") or []:
        if isinstance(pvc, dict):
            pvc.setdefault("apiVersion", "v1")
            pvc.setdefault("kind", "PersistentVolumeClaim")
            _sub(pvc, "spec").setdefault("volumeMode", "Filesystem")
    _template(spec)


def _daemonset(obj: JSON) -> None:
    spec = _spec(obj)
    us = _sub(spec, "updateStrategy")
    us.setdefault("type", "RollingUpdate")
    if us["type"] == "RollingUpdate":
        ru = _sub(us, "rollingUpdate")
        ru.setdefault("maxUnavailable", 1)
        ru.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec)


def _job_spec(spec: JSON) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 2147483647 if spec.get("backoffLimitPerIndex") is not None
                    else 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy",
                    "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    # Jobs must name restartPolicy (Never/OnFailure): leave a missing one for validation
    _template(spec, restart_policy=False)


def _job(obj: JSON) -> None:
    _job_spec(_spec(obj))


def _cronjob(obj: JSON) -> None:
    spec = _spec(obj)
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    jt = spec.get("jobTemplate")
    if isinstance(jt, dict):
        _template(_sub(jt, "spec"), restart_policy=False)


def _stable_int(text: str, modulo: int) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % modulo


def cluster_ip_for(namespace: str, name: str) -> str:
    """A stable address in 10.96.0.0/12 (kubesim has no allocator state to lose)."""
    n = _stable_int(f"{namespace}/{name}", (1 << 20) - 20) + 10
    return f"10.{96 + (n >> 16)}.{(n >> 8) & 0xFF}.{n & 0xFF}"


def _service(obj: JSON, allocate: Callable[[str, str], str] = cluster_ip_for) -> None:
    spec = _spec(obj)
    meta = obj.get("metadata") or {}
    ns, name = str(meta.get("namespace", "default")), str(meta.get("name", ""))
    stype = spec.setdefault("type", "ClusterIP")
    if stype == "ExternalName":
        spec.setdefault("sessionAffinity", "None")
        return
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
            if stype in ("NodePort", "LoadBalancer"):
                port.setdefault("nodePort", 30000 + _stable_int(
                    f"{ns}/{name}/{port.get('port')}/{port['protocol']}", 2768))
    if not spec.get("clusterIP"):
        spec["clusterIP"] = allocate(ns, name)
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if stype == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def _pvc(obj: JSON) -> None:
    _spec(obj).setdefault("volumeMode", "Filesystem")
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")


def _namespace(obj: JSON) -> None:
    meta = obj.setdefault("metadata", {})
    name = meta.get("name")
    if name:
        labels = meta.get("labels")
        if not isinstance(labels, dict):
            labels = meta["labels"] = {}
        labels["kubernetes.io/metadata.name"] = name
    _spec(obj).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


def _secret(obj: JSON) -> None:
    obj.setdefault("type", "Opaque")


def _endpoints(obj: JSON) -> None:
    for subset in obj.get("subsets") or []:
        for port in (subset or {}).get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def _network_policy(obj: JSON) -> None:
    spec = _spec(obj)
    if "policyTypes" not in spec:
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule or {}).get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def _binding(obj: JSON) -> None:
    for s in obj.get("subjects") or []:
        if isinstance(s, dict) and "apiGroup" not in s:
            s["apiGroup"] = "" if s.get("kind") == "ServiceAccount" else \
                "rbac.authorization.k8s.io"


def _hpa(obj: JSON) -> None:
    spec = _spec(obj)
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]


def _crd(obj: JSON) -> None:
    spec = _spec(obj)
    _sub(spec, "conversion").setdefault("strategy", "None")
    for v in spec.get("versions") or []:
        if isinstance(v, dict):
            v.setdefault("served", True)


_BY_KIND: dict[tuple[str, str], Callable[[JSON], None]] = {
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "Namespace"): _namespace,
    ("", "Secret"): _secret,
    ("", "Endpoints"): _endpoints,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replicaset,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
    ("networking.k8s.io", "NetworkPolicy"): _network_policy,
    ("rbac.authorization.k8s.io", "RoleBinding"): _binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _binding,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
}
