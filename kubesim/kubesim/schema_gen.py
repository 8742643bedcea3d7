"""Derive the OpenAPI v3 (per group-version) and v2 documents from the bundled definitions.

The documents mirror the shape kube-apiserver serves, because kubectl reads them:
- component schemas carry `x-kubernetes-group-version-kind` and the list/merge
  extensions (client-side apply computes its strategic merge patch from them,
  `kubectl explain` renders them);
- every PATCH operation carries `x-kubernetes-group-version-kind`, the
  `fieldValidation` query parameter (so kubectl leaves validation to the server
  instead of downloading the protobuf v2 document) and the accepted patch media
  types (strategic merge only for built-in kinds, as kubectl checks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .schema import JSON, Resource, Schema

K8S_VERSION = "v1.37.0"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_ALWAYS = [_META + "Status", _META + "DeleteOptions", _META + "Patch", _META + "WatchEvent",
           _META + "APIResourceList"]


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.add(ref.rsplit("/", 1)[-1])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


def closure(defs: dict[str, JSON], roots: list[JSON], names: list[str]) -> list[str]:
    """Names of `names` and all definitions reachable from them or from `roots` (sorted)."""
    todo: set[str] = set(names)
    for r in roots:
        _refs(r, todo)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        _refs(defs[name], todo)
    return sorted(seen)


def convert(node: Any, ref_prefix: str, v3: bool, prop: str = "") -> Any:
    """JSON-schema-2020 node (kubernetes-validate form) -> OpenAPI node."""
    if isinstance(node, list):
        return [convert(x, ref_prefix, v3) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "$ref":
            continue
        if k == "type" and isinstance(v, list):
            v = next((t for t in v if t != "null"), "object")
        elif k == "properties" and isinstance(v, dict):
            v = {name: convert(sub, ref_prefix, v3, name) for name, sub in v.items()}
            out[k] = v
            continue
        elif k == "enum" and prop in ("apiVersion", "kind"):
            continue  # added by kubernetes-validate, not served by kube-apiserver
        elif k == "oneOf" and isinstance(v, list):
            types = {str(t.get("type", [""])[0] if isinstance(t.get("type"), list)
                         else t.get("type")) for t in v if isinstance(t, dict)}
            out["type"] = "string"
            if "integer" in types:
                out["format"] = "int-or-string"
            continue
        elif k in ("items", "additionalProperties", "allOf", "anyOf", "not"):
            v = convert(v, ref_prefix, v3)
        out[k] = v
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = ref_prefix + ref.rsplit("/", 1)[-1]
        if v3 and out:
            return {"allOf": [{"$ref": target}], **out}
        return {"$ref": target, **out}
    return out


def _component_name(group: str, version: str, kind: str) -> str:
    """CRD component name the way kube-apiserver forms it (reversed group)."""
    rev = ".".join(reversed(group.split("."))) if group else "core"
    return f"{rev}.{version}.{kind}"


def _param(name: str, where: str, desc: str, v3: bool, required: bool = False,
           typ: str = "string") -> JSON:
    p: JSON = {"name": name, "in": where, "description": desc}
    if required or where == "path":
        p["required"] = True
    if v3:
        p["schema"] = {"type": typ, "uniqueItems": True}
    else:
        p["type"] = typ
        p["uniqueItems"] = True
    return p


_DESC = {
    "dryRun": "When present, indicates that modifications should not be persisted. Valid "
              "values are: - All: all dry run stages will be processed",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making "
                    "these changes.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the "
                       "request containing unknown or duplicate fields. Valid values are: "
                       "Ignore, Warn, Strict.",
    "force": "Force is going to \"force\" Apply requests. It means user will re-acquire "
             "conflicting fields owned by other people.",
    "pretty": "If 'true', then the output is pretty printed.",
}
_PATCH_TYPES = ["application/apply-patch+yaml", "application/json-patch+json",
                "application/merge-patch+json", "application/strategic-merge-patch+json"]


def _op(action: str, res: Resource, ref: str, v3: bool, method: str, sub: str = "") -> JSON:
    gvk = {"group": res.gvk.group, "version": res.gvk.version, "kind": res.gvk.kind}
    op_name = {"get": "read", "put": "replace", "patch": "patch", "delete": "delete",
               "post": "create", "list": "list"}[action]
    gv_tag = (res.gvk.group.split(".")[0] + "_" if res.gvk.group else "core_") + res.gvk.version
    params: list[JSON] = []
    if method in ("post", "put", "patch"):
        params += [_param(n, "query", _DESC[n], v3) for n in ("dryRun", "fieldManager",
                                                              "fieldValidation")]
    if method == "patch":
        params.append(_param("force", "query", _DESC["force"], v3, typ="boolean"))
    if method == "delete":
        params.append(_param("dryRun", "query", _DESC["dryRun"], v3))
        params.append(_param("propagationPolicy", "query", "Whether and how garbage "
                             "collection will be performed.", v3))
    if action == "list":
        params += [_param(n, "query", n, v3) for n in ("labelSelector", "fieldSelector",
                                                       "continue", "resourceVersion")]
        params += [_param("limit", "query", "limit", v3, typ="integer"),
                   _param("watch", "query", "watch", v3, typ="boolean")]
    resp_ref = ref + "List" if action == "list" else ref
    op: JSON = {
        "tags": [gv_tag],
        "description": f"{op_name} {sub + ' of ' if sub else ''}the specified {res.gvk.kind}",
        "operationId": f"{op_name}{res.gvk.kind}{sub.capitalize()}",
        "parameters": params,
        "x-kubernetes-action": {"get": "get", "list": "list", "post": "post", "put": "put",
                                "patch": "patch", "delete": "delete"}[action],
        "x-kubernetes-group-version-kind": gvk,
    }
    if sub:
        op["x-kubernetes-subresource"] = sub  # informational only
    media = ["application/json", "application/yaml"]
    if v3:
        body_types = ([t for t in _PATCH_TYPES if res.builtin or "strategic" not in t]
                      if method == "patch" else ["*/*"] if method in ("post", "put") else [])
        if body_types:
            body_ref = "#/components/schemas/" + (_META + "Patch" if method == "patch" else
                                                  ref.rsplit("/", 1)[-1])
            op["requestBody"] = {"content": {t: {"schema": {"$ref": body_ref}}
                                             for t in body_types}, "required": True}
        schema_ref = {"$ref": resp_ref}
        op["responses"] = {"200": {"description": "OK", "content": {
            m: {"schema": schema_ref} for m in media}},
            "401": {"description": "Unauthorized"}}
        if method in ("post", "patch", "put"):
            op["responses"]["201"] = {"description": "Created", "content": {
                m: {"schema": schema_ref} for m in media}}
    else:
        if method == "patch":
            op["consumes"] = [t for t in _PATCH_TYPES if res.builtin or "strategic" not in t]
            params.append({"name": "body", "in": "body", "required": True,
                           "schema": {"$ref": "#/definitions/" + _META + "Patch"}})
        elif method in ("post", "put"):
            params.append({"name": "body", "in": "body", "required": True,
                           "schema": {"$ref": ref}})
        op["produces"] = media
        op["responses"] = {"200": {"description": "OK", "schema": {"$ref": resp_ref}},
                           "401": {"description": "Unauthorized"}}
    return op


def _paths(res: Resource, ref: str, v3: bool) -> JSON:
    g, v = res.gvk.group, res.gvk.version
    prefix = f"/apis/{g}/{v}" if g else f"/api/{v}"
    coll = f"{prefix}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else \
        f"{prefix}/{res.plural}"
    path_params = [_param("namespace", "path", "object name and auth scope", v3)] \
        if res.namespaced else []
    name_param = [_param("name", "path", f"name of the {res.gvk.kind}", v3)]
    out: JSON = {
        coll: {"get": _op("list", res, ref, v3, "get"), "post": _op("post", res, ref, v3, "post"),
               "parameters": path_params},
        coll + "/{name}": {m: _op(m, res, ref, v3, m) for m in ("get", "put", "patch", "delete")}
        | {"parameters": path_params + name_param},
    }
    if res.namespaced:
        out[f"{prefix}/{res.plural}"] = {"get": _op("list", res, ref, v3, "get"),
                                         "parameters": []}
    if res.status:
        out[coll + "/{name}/status"] = {m: _op(m, res, ref, v3, m, "status")
                                        for m in ("get", "put", "patch")} | {
            "parameters": path_params + name_param}
    return out


def _collect(schema: Schema, resources: list[Resource], ref_prefix: str,
             v3: bool) -> tuple[JSON, JSON]:
    """(schemas, paths) for `resources` in the target dialect."""
    defs = schema.defs
    crds = schema.crd_versions()
    roots: list[JSON] = []
    names: list[str] = list(_ALWAYS)
    own: dict[str, JSON] = {}
    paths: JSON = {}
    for res in resources:
        if res.builtin:
            name = schema.def_name(res.gvk)
            if name is None:
                continue
            names.append(name)
            list_name = schema.def_name(res.gvk._replace(kind=res.gvk.kind + "List"))
            if list_name:
                names.append(list_name)
        else:
            name = _component_name(res.gvk.group, res.gvk.version, res.gvk.kind)
            raw = crds[res.gvk].root
            own[name] = raw
            own[name + "List"] = _crd_list(res, ref_prefix_raw(name))
            roots += [raw, own[name + "List"]]
        paths.update(_paths(res, ref_prefix + name, v3))
    schemas: JSON = {}
    for n in closure(defs, roots, names):
        schemas[n] = convert(defs[n], ref_prefix, v3)
    for n, raw in own.items():
        schemas[n] = convert(raw, ref_prefix, v3)
    return schemas, paths


def ref_prefix_raw(name: str) -> str:
    return "#/$defs/" + name


def _crd_list(res: Resource, item_ref: str) -> JSON:
    g = res.gvk
    return {
        "description": f"{g.kind}List is a list of {g.kind}",
        "type": "object", "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": item_ref}},
            "metadata": {"$ref": "#/$defs/" + _META + "ListMeta"},
        },
        "x-kubernetes-group-version-kind": [{"group": g.group, "version": g.version,
                                             "kind": g.kind + "List"}],
    }


def build_v3_doc(schema: Schema, group: str, version: str) -> JSON | None:
    resources = schema.resources_in(group, version)
    if not resources:
        return None
    schemas, paths = _collect(schema, resources, "#/components/schemas/", True)
    return {"openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": K8S_VERSION},
            "paths": paths,
            "components": {"schemas": schemas,
                           "securitySchemes": {"BearerToken": {
                               "type": "apiKey", "in": "header", "name": "authorization",
                               "description": "Bearer Token authentication"}}},
            "security": [{"BearerToken": []}]}


def build_v2_doc(schema: Schema) -> JSON:
    from .schema import BUILTIN_RESOURCES
    resources = list(BUILTIN_RESOURCES) + [c.resource for c in schema.crd_versions().values()]
    definitions, paths = _collect(schema, resources, "#/definitions/", False)
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": K8S_VERSION},
            "paths": paths, "definitions": definitions,
            "securityDefinitions": {"BearerToken": {"type": "apiKey", "in": "header",
                                                    "name": "authorization"}},
            "security": [{"BearerToken": []}]}
