"""CustomResourceDefinitions for ``Application`` and ``AppProject`` in group ``syncwright.dev``.

The Application schema is generated from the spec dataclasses in ``model.py``
(pydantic's JSON schema made *structural*, as Kubernetes requires: ``$ref``
inlined, ``anyOf [X, null]`` → ``nullable``, string-or-integer →
``x-kubernetes-int-or-string``, free-form maps → ``x-kubernetes-preserve-unknown-fields``),
so the CRD cannot drift from what the controller accepts. ``status`` is a
subresource the controller writes; ``operation`` (top level, as Argo CD's)
asks for a sync. Manifests convert from Argo CD by changing the apiVersion.
"""

from __future__ import annotations

import copy
from typing import Any

GROUP = "syncwright.dev"
VERSION = "v1alpha1"
_DROP = {"title", "default", "additionalProperties", "description", "$defs"}


def structural(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """One pydantic JSON-schema node → a Kubernetes structural OpenAPI v3 node."""
    if "$ref" in schema:
        target = defs[schema["$ref"].split("/")[-1]]
        return structural({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, defs)
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(schema["anyOf"])
        types = {o.get("type") for o in options}
        if types == {"string", "integer"}:
            out: dict[str, Any] = {"x-kubernetes-int-or-string": True}
        elif len(options) == 1:
            out = structural(options[0], defs)
        else:
            out = {"x-kubernetes-preserve-unknown-fields": True}
        if nullable:
            out["nullable"] = True
        return out
    out = {}
    kind = schema.get("type")
    if "const" in schema:
        out["enum"] = [schema["const"]]
    if "enum" in schema:
        out["enum"] = list(schema["enum"])
    if kind == "object" or "properties" in schema:
        out["type"] = "object"
        props = schema.get("properties")
        if props:
            out["properties"] = {k: structural(v, defs) for k, v in props.items()}
        else:
            add = schema.get("additionalProperties")
            if isinstance(add, dict) and add.get("type") == "string":
                out["additionalProperties"] = {"type": "string"}
            else:
                out["x-kubernetes-preserve-unknown-fields"] = True
        if schema.get("required"):
            out["required"] = list(schema["required"])
    elif kind == "array":
        out["type"] = "array"
        items = schema.get("items") or {}
        out["items"] = structural(items, defs) if items else {"x-kubernetes-preserve-unknown-fields": True}
    elif kind in ("string", "integer", "number", "boolean"):
        out["type"] = kind
    elif not out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def application_schema() -> dict[str, Any]:
    from ..model import ApplicationSpec, _adapter

    raw = _adapter(ApplicationSpec).json_schema(by_alias=True)
    spec = structural(raw, raw.get("$defs", {}))
    free = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"type": "object", "required": ["spec"],
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                           "metadata": {"type": "object"}, "spec": spec,
                           "operation": copy.deepcopy(free), "status": copy.deepcopy(free)}}


def project_schema() -> dict[str, Any]:
    gk = {"type": "array", "items": {"type": "object", "required": ["kind"],
                                     "properties": {"group": {"type": "string"}, "kind": {"type": "string"}}}}
    strings = {"type": "array", "items": {"type": "string"}}
    dest = {"type": "array", "items": {"type": "object", "properties": {
        "server": {"type": "string"}, "name": {"type": "string"}, "namespace": {"type": "string"}}}}
    spec = {"type": "object", "properties": {
        "description": {"type": "string"}, "sourceRepos": strings, "destinations": dest,
        "sourceNamespaces": copy.deepcopy(strings),
        "clusterResourceWhitelist": gk, "clusterResourceBlacklist": copy.deepcopy(gk),
        "namespaceResourceWhitelist": copy.deepcopy(gk), "namespaceResourceBlacklist": copy.deepcopy(gk)},
        "x-kubernetes-preserve-unknown-fields": True}
    return {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": spec, "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}


def _crd(kind: str, plural: str, short: list[str], schema: dict[str, Any],
         columns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "syncwright"}},
        "spec": {
            "group": GROUP, "scope": "Namespaced",
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower(),
                      "shortNames": short},
            "versions": [{"name": VERSION, "served": True, "storage": True, "subresources": {"status": {}},
                          "additionalPrinterColumns": columns, "schema": {"openAPIV3Schema": schema}}],
        },
    }


def crds() -> list[dict[str, Any]]:
    """The two CRDs, ready to apply."""
    app_columns: list[dict[str, Any]] = [
        {"name": "Sync Status", "type": "string", "jsonPath": ".status.sync.status"},
        {"name": "Health Status", "type": "string", "jsonPath": ".status.health.status"},
        {"name": "Revision", "type": "string", "jsonPath": ".status.sync.revision", "priority": 10},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    proj_columns: list[dict[str, Any]] = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    return [_crd("Application", "applications", ["app", "apps"], application_schema(), app_columns),
            _crd("AppProject", "appprojects", ["appproj", "appprojs"], project_schema(), proj_columns)]
