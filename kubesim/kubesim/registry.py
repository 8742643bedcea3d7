"""Which resources the simulator serves, and the discovery documents describing them.

Built-in types are a fixed table; CustomResourceDefinitions add and remove
entries at run time. Storage is keyed by (group, plural) so every served
version of a CRD reads and writes the same objects.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
CLUSTER_VERBS_NS = ["create", "delete", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    """One served resource of one group-version."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status: bool = False          # has a status subresource
    scale: bool = False           # has a scale subresource
    generation: bool = True       # metadata.generation is maintained
    builtin: bool = True

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Storage key shared by all versions of the resource."""
        return (self.group, self.plural)


def _b(group: str, version: str, kind: str, plural: str, ns: bool, short: tuple[str, ...] = (),
       cats: tuple[str, ...] = (), status: bool = False, scale: bool = False,
       generation: bool = True) -> ResourceType:
    return ResourceType(group, version, kind, plural, ns, short, cats, status, scale, generation)


ALL = ("all",)
BUILTINS: list[ResourceType] = [
    _b("", "v1", "Namespace", "namespaces", False, ("ns",), status=True, generation=False),
    _b("", "v1", "ConfigMap", "configmaps", True, ("cm",), generation=False),
    _b("", "v1", "Secret", "secrets", True, generation=False),
    _b("", "v1", "Service", "services", True, ("svc",), ALL, status=True, generation=False),
    _b("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), generation=False),
    _b("", "v1", "Pod", "pods", True, ("po",), ALL, status=True),
    _b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",),
       status=True, generation=False),
    _b("", "v1", "Endpoints", "endpoints", True, ("ep",), generation=False),
    _b("", "v1", "Event", "events", True, ("ev",), generation=False),
    _b("apps", "v1", "Deployment", "deployments", True, ("deploy",), ALL, True, True),
    _b("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ALL, True, True),
    _b("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), ALL, True, True),
    _b("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), ALL, True),
    _b("batch", "v1", "Job", "jobs", True, (), ALL, True),
    _b("batch", "v1", "CronJob", "cronjobs", True, ("cj",), ALL, True),
    _b("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), (), True),
    _b("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    _b("rbac.authorization.k8s.io", "v1", "Role", "roles", True, generation=False),
    _b("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, generation=False),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False,
       generation=False),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False,
       generation=False),
    _b("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",), (), True),
    _b("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True,
       ("hpa",), ALL, True),
    _b("coordination.k8s.io", "v1", "Lease", "leases", True, generation=False),
    _b("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
       False, ("crd", "crds"), ("api-extensions",), True),
]

# Real preferred-version order of the groups in `/apis` (core first, then the rest).
GROUP_ORDER = ["apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
               "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io",
               "networking.k8s.io", "policy", "rbac.authorization.k8s.io", "storage.k8s.io",
               "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
               "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io"]


@dataclass
class Registry:
    """The resource table: built-ins plus whatever CRDs currently serve."""

    _by_gvr: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    _crd_types: dict[str, list[ResourceType]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for rt in BUILTINS:
            self._by_gvr[(rt.group, rt.version, rt.plural)] = rt

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in list(self._by_gvr.values()):
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def all(self) -> list[ResourceType]:
        return list(self._by_gvr.values())

    def group_versions(self) -> dict[str, list[str]]:
        """Group -> served versions, preferred first."""
        out: dict[str, list[str]] = {}
        for rt in self._by_gvr.values():
            vs = out.setdefault(rt.group, [])
            if rt.version not in vs:
                vs.append(rt.version)
        for g, vs in out.items():
            vs.sort(key=_version_priority)
        return out

    def add_crd(self, name: str, types: list[ResourceType]) -> None:
        with self._lock:
            self.remove_crd(name, _locked=True)
            self._crd_types[name] = types
            for rt in types:
                self._by_gvr[(rt.group, rt.version, rt.plural)] = rt

    def remove_crd(self, name: str, *, _locked: bool = False) -> list[ResourceType]:
        types = self._crd_types.pop(name, [])
        for rt in types:
            self._by_gvr.pop((rt.group, rt.version, rt.plural), None)
        return types

    # --- discovery documents -------------------------------------------------

    def api_versions(self, server_addr: str) -> dict[str, Any]:
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": server_addr}]}

    def api_group_list(self) -> dict[str, Any]:
        gvs = self.group_versions()
        groups = [g for g in gvs if g]
        groups.sort(key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else 100, g))
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [self._group(g, gvs[g]) for g in groups]}

    def api_group(self, group: str) -> dict[str, Any] | None:
        gvs = self.group_versions()
        if group not in gvs or not group:
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group(group, gvs[group])}

    @staticmethod
    def _group(group: str, versions: list[str]) -> dict[str, Any]:
        vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": vs, "preferredVersion": vs[0]}

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        rts = [rt for rt in self._by_gvr.values() if rt.group == group and rt.version == version]
        if not rts:
            return None
        resources: list[dict[str, Any]] = []
        for rt in sorted(rts, key=lambda r: r.plural):
            verbs = VERBS if rt.namespaced or rt.plural != "namespaces" else CLUSTER_VERBS_NS
            entry: dict[str, Any] = {
                "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                "kind": rt.kind, "verbs": verbs,
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            entry["storageVersionHash"] = _hash(rt)
            resources.append(entry)
            if rt.status:
                resources.append({"name": f"{rt.plural}/status", "singularName": "",
                                  "namespaced": rt.namespaced, "kind": rt.kind,
                                  "verbs": ["get", "patch", "update"]})
            if rt.key == ("", "pods"):
                resources.append({"name": "pods/log", "singularName": "", "namespaced": True,
                                  "kind": "Pod", "verbs": ["get"]})
            if rt.scale:
                resources.append({"name": f"{rt.plural}/scale", "singularName": "",
                                  "namespaced": rt.namespaced, "group": "autoscaling",
                                  "version": "v1", "kind": "Scale",
                                  "verbs": ["get", "patch", "update"]})
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                "resources": resources}


def _hash(rt: ResourceType) -> str:
    import base64
    import hashlib
    digest = hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _version_priority(v: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA > beta > alpha, then higher numbers first."""
    import re
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0)
    major = int(m.group(1))
    stage = {"alpha": 2, "beta": 1, None: 0}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor)


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The served resource types a CRD object declares."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        sub = v.get("subresources") or {}
        out.append(ResourceType(
            group=group, version=v["name"], kind=names.get("kind", ""),
            plural=names.get("plural", ""), namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            status="status" in sub, scale="scale" in sub, generation=True, builtin=False))
    return out
