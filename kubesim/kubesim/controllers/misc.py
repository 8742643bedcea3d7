"""Small controllers: PVC binding, LoadBalancer ingress IPs, default ServiceAccounts."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from . import util

if TYPE_CHECKING:
    from ..api import Api
    from . import ControllerManager

PVC = ("", "persistentvolumeclaims")
SVC = ("", "services")
SA = ("", "serviceaccounts")
CM = ("", "configmaps")


def reconcile_pvc(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    """Bind every claim to a made-up volume of the requested size."""
    pvc = util.get(api, PVC, ns, name)
    if not util.live(pvc):
        return
    assert pvc is not None
    if (pvc.get("status") or {}).get("phase") == "Bound":
        return
    spec = pvc.get("spec") or {}
    volume = f"pvc-{pvc['metadata']['uid']}"
    if spec.get("volumeName") != volume:
        anns = {**(pvc["metadata"].get("annotations") or {}),
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes"}
        util.update(api, PVC, {**pvc, "metadata": {**pvc["metadata"], "annotations": anns},
                               "spec": {**spec, "volumeName": volume}})
        pvc = util.get(api, PVC, ns, name) or pvc
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    status: dict[str, Any] = {"phase": "Bound",
                              "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                              "capacity": {"storage": storage}}
    util.set_status(api, PVC, ns, name, status)


def reconcile_loadbalancer(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    """Give LoadBalancer Services an ingress IP, as a cloud provider would."""
    svc = util.get(api, SVC, ns, name)
    if not util.live(svc):
        return
    assert svc is not None
    if (svc.get("spec") or {}).get("type") != "LoadBalancer":
        return
    lb = (svc.get("status") or {}).get("loadBalancer") or {}
    if lb.get("ingress"):
        return
    n = zlib.crc32(svc["metadata"]["uid"].encode())
    ip = f"172.18.255.{(n % 250) + 1}"
    util.set_status(api, SVC, ns, name, {**(svc.get("status") or {}),
                                          "loadBalancer": {"ingress": [{"ip": ip,
                                                                        "ipMode": "VIP"}]}})


def reconcile_serviceaccount(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    """Every live namespace gets a `default` ServiceAccount and the `kube-root-ca.crt`
    ConfigMap, as the service-account and root-CA publisher controllers do."""
    nso = util.get(api, ("", "namespaces"), "", name)
    if not util.live(nso):
        return
    if api.store.get(SA, name, "default") is None:
        util.create(api, SA, name, {"apiVersion": "v1", "kind": "ServiceAccount",
                                    "metadata": {"name": "default"}})
    if api.store.get(CM, name, "kube-root-ca.crt") is None:
        util.create(api, CM, name, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt",
                         "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION}},
            "data": {"ca.crt": root_ca()}})


ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver "
                       "when using internal endpoints such as the internal service IP or "
                       "kubernetes.default.svc. No other usage is guaranteed across "
                       "distributions of Kubernetes clusters.")


def root_ca() -> str:
    """The serving certificate if one was generated in this process, else a placeholder."""
    from .. import tls
    if tls.certificate.cache_info().currsize:
        return tls.certificate()[0].decode()
    return "-----BEGIN CERTIFICATE-----\nkubesim-plain-http\n-----END CERTIFICATE-----\n"


ING = ("networking.k8s.io", "ingresses")
HPA = ("autoscaling", "horizontalpodautoscalers")
PDB = ("policy", "poddisruptionbudgets")
PODS = ("", "pods")


def reconcile_ingress(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    """Give Ingresses a load-balancer address, as an ingress controller would."""
    ing = util.get(api, ING, ns, name)
    if not util.live(ing):
        return
    assert ing is not None
    if ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        return
    util.set_status(api, ING, ns, name, {"loadBalancer": {"ingress": [{"ip": "172.18.0.2"}]}},
                    manager="ingress-controller")


def reconcile_hpa(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    """Report the target's replica count and healthy scaling conditions (no metrics)."""
    hpa = util.get(api, HPA, ns, name)
    if not util.live(hpa):
        return
    assert hpa is not None
    spec = hpa.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    plural = {"Deployment": ("apps", "deployments"), "StatefulSet": ("apps", "statefulsets"),
              "ReplicaSet": ("apps", "replicasets")}.get(ref.get("kind", ""))
    target = util.get(api, plural, ns, ref.get("name", "")) if plural else None
    current = ((target or {}).get("spec") or {}).get("replicas", 1)
    lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas", current)
    desired = min(max(current, lo), hi)
    old = (hpa.get("status") or {}).get("conditions")
    conds = [util.condition(old, "AbleToScale", "True", "ReadyForNewScale",
                            "recommended size matches current size"),
             util.condition(old, "ScalingActive", "True" if target else "False",
                            "ValidMetricFound" if target else "FailedGetScale",
                            "the HPA was able to successfully calculate a replica count"
                            if target else f"the target {ref.get('kind')}/{ref.get('name')} "
                                           "was not found"),
             util.condition(old, "ScalingLimited", "False", "DesiredWithinRange",
                            "the desired count is within the acceptable range")]
    util.set_status(api, HPA, ns, name, {"currentReplicas": current,
                                         "desiredReplicas": desired, "conditions": conds})


def reconcile_pdb(api: Api, cm: ControllerManager, ns: str, name: str) -> None:
    """Count the selected pods and allow disruptions as the disruption controller does."""
    from ..selectors import selector_matches
    pdb = util.get(api, PDB, ns, name)
    if not util.live(pdb):
        return
    assert pdb is not None
    spec = pdb.get("spec") or {}
    pods = [e.obj for _, _, e in api.store.iter(PODS, ns)
            if selector_matches(spec.get("selector"), e.obj["metadata"].get("labels") or {})]
    expected = len(pods)
    healthy = sum(1 for p in pods if util.pod_ready(p))
    desired = _pdb_desired(spec, expected)
    allowed = max(0, healthy - desired)
    old = (pdb.get("status") or {}).get("conditions")
    cond = util.condition(old, "DisruptionAllowed", "True" if allowed else "False",
                          "SufficientPods" if allowed else "InsufficientPods", "")
    util.set_status(api, PDB, ns, name, {
        "observedGeneration": pdb["metadata"].get("generation", 1),
        "disruptionsAllowed": allowed, "currentHealthy": healthy, "desiredHealthy": desired,
        "expectedPods": expected, "conditions": [cond]})


def _pdb_desired(spec: dict[str, Any], expected: int) -> int:
    def amount(v: Any) -> int:
        if isinstance(v, str) and v.endswith("%"):
            return -(-expected * int(v[:-1]) // 100)
        return int(v)
    if "minAvailable" in spec:
        return amount(spec["minAvailable"])
    if "maxUnavailable" in spec:
        return max(0, expected - amount(spec["maxUnavailable"]))
    return expected
