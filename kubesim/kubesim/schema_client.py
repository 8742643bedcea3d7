"""Fallback type source: the `kubernetes` Python client's generated models.

Used only when `kubernetes-validate` is not installed. The client's models carry field
names, JSON names, types and descriptions (`openapi_types`, `attribute_map`,
pydantic `model_fields`), but none of the list/merge extensions, so those come from
`MERGE_TABLE` below: the well-known strategic-merge keys and SSA list types of
kube-apiserver 1.37 (source: the `x-kubernetes-*` extensions of its OpenAPI, for the
fields that matter to the kinds kubesim serves). Everything else is a plain
atomic list / granular map, which is also what a real server does for most fields.
The output has the same shape as the bundled definitions (`{name: JSON schema}`).
"""

from __future__ import annotations

import importlib
import re
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .schema import JSON, Resource

_META_TYPES = {
    "ObjectMeta", "ListMeta", "LabelSelector", "LabelSelectorRequirement", "OwnerReference",
    "ManagedFieldsEntry", "Status", "StatusDetails", "StatusCause", "DeleteOptions",
    "Preconditions", "Condition", "WatchEvent", "APIResourceList", "APIResource",
}
_GROUP_PKG = {"": "core", "apps": "apps", "batch": "batch", "networking.k8s.io": "networking",
              "rbac.authorization.k8s.io": "rbac", "policy": "policy",
              "autoscaling": "autoscaling", "coordination.k8s.io": "coordination"}
_MAP_NAME = {"x-kubernetes-list-type": "map", "x-kubernetes-patch-strategy": "merge"}

# (type name, JSON field) -> extensions. Type names are without the version prefix.
MERGE_TABLE: dict[tuple[str, str], dict[str, Any]] = {
    **{("PodSpec", f): {**_MAP_NAME, "x-kubernetes-patch-merge-key": "name",
                        "x-kubernetes-list-map-keys": ["name"]}
       for f in ("containers", "initContainers", "ephemeralContainers", "imagePullSecrets")},
    ("PodSpec", "tolerations"): {"x-kubernetes-list-type": "atomic"},
    ("PodSpec", "hostAliases"): {**_MAP_NAME, "x-kubernetes-patch-merge-key": "ip",
                                 "x-kubernetes-list-map-keys": ["ip"]},
    **{(c, "ports"): {**_MAP_NAME, "x-kubernetes-patch-merge-key": "containerPort",
                      "x-kubernetes-list-map-keys": ["containerPort", "protocol"]}
       for c in ("Container", "EphemeralContainer")},
    **{(c, "env"): {**_MAP_NAME, "x-kubernetes-patch-merge-key": "name",
                    "x-kubernetes-list-map-keys": ["name"]}
       for c in ("Container", "EphemeralContainer")},
    **{(c, "volumeMounts"): {**_MAP_NAME, "x-kubernetes-patch-merge-key": "mountPath",
                             "x-kubernetes-list-map-keys": ["mountPath"]}
       for c in ("Container", "EphemeralContainer")},
    **{(c, "volumeDevices"): {**_MAP_NAME, "x-kubernetes-patch-merge-key": "devicePath",
                              "x-kubernetes-list-map-keys": ["devicePath"]}
       for c in ("Container", "EphemeralContainer")},
    ("ServiceSpec", "ports"): {**_MAP_NAME, "x-kubernetes-patch-merge-key": "port",
                               "x-kubernetes-list-map-keys": ["port", "protocol"]},
    ("ObjectMeta", "finalizers"): {"x-kubernetes-list-type": "set",
                                   "x-kubernetes-patch-strategy": "merge"},
    ("ObjectMeta", "ownerReferences"): {**_MAP_NAME, "x-kubernetes-patch-merge-key": "uid",
                                        "x-kubernetes-list-map-keys": ["uid"]},
    ("DeploymentSpec", "strategy"): {"x-kubernetes-patch-strategy": "retainKeys"},
    ("PodSpec", "volumes"): {**_MAP_NAME, "x-kubernetes-patch-merge-key": "name",
                             "x-kubernetes-list-map-keys": ["name"],
                             "x-kubernetes-patch-strategy": "merge,retainKeys"},
}
_ATOMIC_TYPES = {"LabelSelector", "ObjectReference", "LocalObjectReference", "RoleRef"}
_PREFIX = re.compile(r"^(?:[A-Z][a-z]+)?(V\d+(?:alpha\d+|beta\d+)?)(?=[A-Z])")


def _short(cls_name: str) -> tuple[str, str]:
    """V1DeploymentSpec -> ("v1", "DeploymentSpec")."""
    m = _PREFIX.match(cls_name)
    if not m:
        return "", cls_name
    return m.group(1).lower(), cls_name[m.end():]


def _def_name(cls_name: str, group: str) -> str:
    version, short = _short(cls_name)
    if short in _META_TYPES:
        return f"io.k8s.apimachinery.pkg.apis.meta.{version}.{short}"
    if group == "apiextensions.k8s.io":
        return f"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{short}"
    return f"io.k8s.api.{_GROUP_PKG.get(group, group.split('.')[0])}.{version}.{short}"


def _type(t: str, group: str, todo: deque[tuple[str, str]], names: dict[str, str]) -> JSON:
    prim = {"str": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"},
            "bool": {"type": "boolean"}, "datetime": {"type": "string", "format": "date-time"},
            "date": {"type": "string", "format": "date"}, "object": {},
            "bytes": {"type": "string", "format": "byte"}}
    if t in prim:
        return dict(prim[t])
    low = t.lower()
    if low.startswith("list[") and t.endswith("]"):
        return {"type": "array", "items": _type(t[5:-1], group, todo, names)}
    if (low.startswith("dict(") or low.startswith("dict[")) and t[-1] in ")]":
        inner = t[5:-1].split(",", 1)[1].strip()
        return {"type": "object", "additionalProperties": _type(inner, group, todo, names)}
    if t not in names:
        names[t] = _def_name(t, group)
        todo.append((t, group))
    return {"$ref": "#/$defs/" + names[t]}


def definitions_from_client(resources: list[Resource]) -> dict[str, JSON]:
    """Definitions for `resources` (and what they reference) from kubernetes.client.models."""
    models = importlib.import_module("kubernetes.client.models")
    todo: deque[tuple[str, str]] = deque()  # breadth first: core types get core names
    names: dict[str, str] = {}
    kinds: dict[str, dict[str, str]] = {}
    for res in resources:
        g = res.gvk
        for kind in (g.kind, g.kind + "List"):
            cls = g.version.capitalize() + kind
            if not hasattr(models, cls) and not g.group:
                cls = "Core" + cls  # V1Event lives as CoreV1Event (events.k8s.io has V1Event)
            if hasattr(models, cls) and cls not in names:
                names[cls] = _def_name(cls, g.group)
                todo.append((cls, g.group))
                kinds[cls] = {"group": g.group, "version": g.version, "kind": kind}
    for meta_cls in ("V1Status", "V1DeleteOptions", "V1WatchEvent", "V1APIResourceList"):
        if hasattr(models, meta_cls) and meta_cls not in names:
            names[meta_cls] = _def_name(meta_cls, "")
            todo.append((meta_cls, ""))
    defs: dict[str, JSON] = {}
    while todo:
        cls_name, group = todo.popleft()
        model: Any = getattr(models, cls_name, None)
        if model is None:
            continue
        short = _short(cls_name)[1]
        fields = getattr(model, "model_fields", {})
        props: JSON = {}
        for attr, t in (getattr(model, "openapi_types", None) or {}).items():
            json_name = model.attribute_map.get(attr, attr)
            node = _type(t, group, todo, names)
            info = fields.get(attr)
            desc = getattr(info, "description", None)
            if desc:
                node["description"] = desc
            node.update(MERGE_TABLE.get((short, json_name), {}))
            if json_name == "conditions" and node.get("type") == "array":
                node.update({**_MAP_NAME, "x-kubernetes-patch-merge-key": "type",
                             "x-kubernetes-list-map-keys": ["type"]})
            elif node.get("type") == "array" and "x-kubernetes-list-type" not in node:
                node["x-kubernetes-list-type"] = "atomic"
            props[json_name] = node
        doc = (model.__doc__ or "").split("\n\n")[0].strip()
        d: JSON = {"type": "object", "properties": props}
        if doc and not doc.startswith("NOTE"):
            d["description"] = doc
        if short in _ATOMIC_TYPES:
            d["x-kubernetes-map-type"] = "atomic"
        if cls_name in kinds:
            d["x-kubernetes-group-version-kind"] = [kinds[cls_name]]
        elif short in ("Status", "DeleteOptions", "WatchEvent"):
            d["x-kubernetes-group-version-kind"] = [{"group": "", "version": "v1",
                                                     "kind": short}]
        defs[names[cls_name]] = d
    if "io.k8s.apimachinery.pkg.apis.meta.v1.Patch" not in defs:
        defs["io.k8s.apimachinery.pkg.apis.meta.v1.Patch"] = {
            "type": "object", "description": "Patch is provided to give a concrete name and "
            "type to the Kubernetes PATCH request body."}
    return defs
