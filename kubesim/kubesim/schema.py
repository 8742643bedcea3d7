"""Type knowledge for kubesim: field types, list/merge metadata and OpenAPI documents.

Source of truth: the Kubernetes 1.37 definitions that the `kubernetes-validate`
PyPI package bundles (`kubernetes-json-schema/v1.37.0-local/_definitions.json`, a
JSON-schema rendering of the API server's own OpenAPI, including
`x-kubernetes-patch-merge-key`, `x-kubernetes-patch-strategy`,
`x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and `x-kubernetes-map-type`).
Nothing is hand-written: the file is read lazily on first use (about 50 ms) and the
OpenAPI v2/v3 documents are derived from it (see `schema_gen`). CRDs add their
`openAPIV3Schema` per served version through `register_crd`.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

JSON = dict[str, Any]
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
REF_PREFIX = "#/$defs/"


class GVK(NamedTuple):
    """Group, version, kind of a Kubernetes type ("" is the core group)."""

    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @classmethod
    def of(cls, obj: JSON) -> GVK:
        """The GVK an object declares through apiVersion/kind."""
        api_version = str(obj.get("apiVersion", ""))
        group, _, version = api_version.rpartition("/")
        return cls(group, version, str(obj.get("kind", "")))


@dataclass(frozen=True)
class Resource:
    """REST facts the OpenAPI paths need for one served kind."""

    gvk: GVK
    plural: str
    namespaced: bool
    status: bool
    builtin: bool = True


def _r(group: str, kind: str, plural: str, ns: bool = True, status: bool = False,
       version: str = "v1") -> Resource:
    return Resource(GVK(group, version, kind), plural, ns, status)


# The built-in kinds issue 3 serves (REST names only; field types come from the source file).
BUILTIN_RESOURCES: tuple[Resource, ...] = (
    _r("", "Namespace", "namespaces", False, True),
    _r("", "ConfigMap", "configmaps"),
    _r("", "Secret", "secrets"),
    _r("", "Service", "services", status=True),
    _r("", "ServiceAccount", "serviceaccounts"),
    _r("", "Pod", "pods", status=True),
    _r("", "PersistentVolumeClaim", "persistentvolumeclaims", status=True),
    _r("", "Endpoints", "endpoints"),
    _r("", "Event", "events"),
    _r("apps", "Deployment", "deployments", status=True),
    _r("apps", "ReplicaSet", "replicasets", status=True),
    _r("apps", "StatefulSet", "statefulsets", status=True),
    _r("apps", "DaemonSet", "daemonsets", status=True),
    _r("batch", "Job", "jobs", status=True),
    _r("batch", "CronJob", "cronjobs", status=True),
    _r("networking.k8s.io", "Ingress", "ingresses", status=True),
    _r("networking.k8s.io", "NetworkPolicy", "networkpolicies"),
    _r("rbac.authorization.k8s.io", "Role", "roles"),
    _r("rbac.authorization.k8s.io", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", False),
    _r("policy", "PodDisruptionBudget", "poddisruptionbudgets", status=True),
    _r("autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers", status=True,
       version="v2"),
    _r("coordination.k8s.io", "Lease", "leases"),
    _r("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", False,
       True),
)


class SchemaError(Exception):
    """The bundled definitions cannot be found or read."""


def find_definitions_file() -> Path:
    """Locate the newest `_definitions.json` that kubernetes-validate ships."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise SchemaError("kubesim needs the 'kubernetes-validate' package for its type "
                          "schemas: pip install kubernetes-validate")
    base = Path(list(spec.submodule_search_locations)[0]) / "kubernetes-json-schema"

    def version_key(p: Path) -> tuple[int, ...]:
        m = re.match(r"v(\d+)\.(\d+)\.(\d+)-local$", p.name)
        return tuple(int(x) for x in m.groups()) if m else (-1,)

    candidates = sorted((p for p in base.iterdir() if version_key(p) != (-1,)), key=version_key)
    if not candidates:
        raise SchemaError(f"no '*-local' schema directory under {base}")
    return candidates[-1] / "_definitions.json"


class TypeNode:
    """One resolved schema node; answers the questions merge/patch/SSA code asks.

    `kind` is one of: "struct" (declared properties), "map" (additionalProperties),
    "list", "scalar", "any" (unknown/preserve-unknown-fields: maps granular, lists atomic).
    """

    __slots__ = ("raw", "kind", "map_keys", "list_type", "name", "_schema", "_props", "_item")

    def __init__(self, raw: JSON, schema: Schema) -> None:
        self.raw = raw
        self._schema = schema
        self._props: dict[str, TypeNode] = {}
        self._item: TypeNode | None = None
        self.name = ""  # short Go type name when known (e.g. DeploymentSpec), for messages
        self.kind = _kind_of(raw)
        self.list_type: str | None = raw.get("x-kubernetes-list-type")
        self.map_keys: list[str] = list(raw.get("x-kubernetes-list-map-keys") or [])

    @property
    def merge_key(self) -> str | None:
        return self.raw.get("x-kubernetes-patch-merge-key")

    @property
    def patch_strategies(self) -> set[str]:
        return {s.strip() for s in str(self.raw.get("x-kubernetes-patch-strategy", "")).split(",")
                if s.strip()}

    @property
    def atomic(self) -> bool:
        """True when SSA treats the whole value as one field (atomic list/map/struct)."""
        if self.kind == "list":
            return self.list_type not in ("set", "map")
        if self.kind in ("struct", "map"):
            return self.raw.get("x-kubernetes-map-type") == "atomic"
        return self.kind == "scalar"

    def has_field(self, name: str) -> bool:
        return self.kind == "struct" and name in self.raw.get("properties", {})

    def child(self, name: str) -> TypeNode:
        """The type of field/key `name` of this struct or map (ANY when unknown)."""
        hit = self._props.get(name)
        if hit is not None:
            return hit
        props = self.raw.get("properties") or {}
        sub = props.get(name)
        if sub is None:
            ap = self.raw.get("additionalProperties")
            sub = ap if isinstance(ap, dict) else None
        node = self._schema.node(sub) if sub is not None else self._schema.any_node
        self._props[name] = node
        return node

    def item(self) -> TypeNode:
        """Element type of a list (ANY when unknown)."""
        if self._item is None:
            items = self.raw.get("items")
            self._item = self._schema.node(items) if isinstance(items, dict) else \
                self._schema.any_node
        return self._item


def _kind_of(raw: JSON) -> str:
    t = raw.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t == "array":
        return "list"
    if "oneOf" in raw or "anyOf" in raw or raw.get("x-kubernetes-int-or-string"):
        return "scalar"
    if t == "object" or (t is None and "properties" in raw):
        if raw.get("properties"):
            return "struct"
        if isinstance(raw.get("additionalProperties"), dict):
            return "map"
        return "any"
    if t in ("string", "integer", "number", "boolean"):
        return "scalar"
    return "any"


@dataclass
class _CRDVersion:
    resource: Resource
    root: JSON          # openAPIV3Schema with apiVersion/kind/metadata filled in
    crd_name: str


class Schema:
    """Lazily loaded type knowledge for built-in kinds and registered CRDs. Thread-safe."""

    def __init__(self, definitions_file: Path | None = None, source: str = "auto") -> None:
        """`source`: "auto" (kubernetes-validate, else the kubernetes client's models),
        "validate" or "client"."""
        self._file = definitions_file
        self._source = source
        self.source_name = ""
        self._lock = threading.RLock()
        self._defs: dict[str, JSON] | None = None
        self._gvk_index: dict[GVK, str] = {}
        self._nodes: dict[int, tuple[JSON, TypeNode]] = {}
        self._crds: dict[GVK, _CRDVersion] = {}
        self._doc_cache: dict[tuple[str, str], tuple[JSON, str]] = {}
        self._v2_cache: JSON | None = None
        self.any_node = TypeNode({}, self)

    # ---- loading -------------------------------------------------------------
    @property
    def defs(self) -> dict[str, JSON]:
        """All definitions, keyed by their OpenAPI name (e.g. io.k8s.api.apps.v1.Deployment)."""
        if self._defs is None:
            with self._lock:
                if self._defs is None:
                    self._load()
        assert self._defs is not None
        return self._defs

    def _load(self) -> None:
        defs: dict[str, JSON]
        if self._source == "client" or (self._source == "auto" and self._file is None and
                                        importlib.util.find_spec("kubernetes_validate") is None):
            from .schema_client import definitions_from_client
            try:
                defs = definitions_from_client(list(BUILTIN_RESOURCES))
            except ImportError as e:
                raise SchemaError("kubesim needs 'kubernetes-validate' (preferred) or the "
                                  "'kubernetes' client for its type schemas") from e
            self.source_name = "kubernetes client models"
        else:
            path = self._file or find_definitions_file()
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise SchemaError(f"cannot read type schemas from {path}: {e}") from e
            defs = data.get("$defs") or data.get("definitions") or {}
            self.source_name = f"kubernetes-validate {path.parent.name}"
        index: dict[GVK, str] = {}
        for name, d in defs.items():
            for g in d.get("x-kubernetes-group-version-kind") or []:
                gvk = GVK(g.get("group", ""), g.get("version", ""), g.get("kind", ""))
                # meta types (DeleteOptions, WatchEvent...) list many GVKs; first wins
                index.setdefault(gvk, name)
        self._gvk_index = index
        self._defs = defs

    # ---- lookups -------------------------------------------------------------
    def node(self, raw: JSON) -> TypeNode:
        """Resolve `$ref`s of a raw schema node into a cached TypeNode."""
        hit = self._nodes.get(id(raw))
        if hit is not None and hit[0] is raw:
            return hit[1]
        resolved = raw
        type_name = ""
        for _ in range(20):
            ref = resolved.get("$ref")
            if ref is None:
                all_of = resolved.get("allOf")
                if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
                    ref = all_of[0]["$ref"]
            if ref is None:
                break
            def_name = str(ref).rsplit("/", 1)[-1]
            type_name = def_name.rsplit(".", 1)[-1]
            target = self.defs.get(def_name, {})
            extra = {k: v for k, v in resolved.items() if k not in ("$ref", "allOf")}
            resolved = {**target, **extra}
        node = TypeNode(resolved, self)
        node.name = type_name
        self._nodes[id(raw)] = (raw, node)  # keeps `raw` alive so its id stays unique
        return node

    def def_name(self, gvk: GVK) -> str | None:
        """Definition name of a built-in kind (loads the definitions on first use)."""
        self.defs  # noqa: B018 - loads _gvk_index
        return self._gvk_index.get(gvk)

    def root(self, gvk: GVK) -> TypeNode | None:
        """Type of a whole object of `gvk`, or None when the kind is unknown."""
        crd = self._crds.get(gvk)
        if crd is not None:
            node = self.node(crd.root)
        else:
            name = self.def_name(gvk)
            if name is None:
                return None
            node = self.node(self.defs[name])
        node.name = node.name or gvk.kind
        return node

    def is_builtin(self, gvk: GVK) -> bool:
        """True for kinds compiled into a real API server (strategic merge patch allowed)."""
        if gvk in self._crds:
            return False
        return any(r.gvk == gvk for r in BUILTIN_RESOURCES) or self.def_name(gvk) is not None

    def resource(self, gvk: GVK) -> Resource | None:
        crd = self._crds.get(gvk)
        if crd is not None:
            return crd.resource
        return next((r for r in BUILTIN_RESOURCES if r.gvk == gvk), None)

    def has_status_subresource(self, gvk: GVK) -> bool:
        res = self.resource(gvk)
        return bool(res and res.status)

    def resources_in(self, group: str, version: str) -> list[Resource]:
        found = [r for r in BUILTIN_RESOURCES if r.gvk.group == group and r.gvk.version == version]
        with self._lock:  # CRDs may be (un)registered by another request thread
            found += [c.resource for g, c in self._crds.items()
                      if g.group == group and g.version == version]
        return found

    # ---- CRDs ----------------------------------------------------------------
    def register_crd(self, crd: JSON) -> None:
        """Serve the schema of every served version of `crd` (replaces an earlier registration)."""
        spec = crd.get("spec") or {}
        name = str((crd.get("metadata") or {}).get("name", ""))
        group = str(spec.get("group", ""))
        names = spec.get("names") or {}
        kind, plural = str(names.get("kind", "")), str(names.get("plural", ""))
        namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        with self._lock:
            self._drop_crd(name)
            for v in spec.get("versions") or []:
                if not isinstance(v, dict) or not v.get("served", True):
                    continue
                gvk = GVK(group, str(v.get("name", "")), kind)
                raw = copy.deepcopy(((v.get("schema") or {}).get("openAPIV3Schema")) or
                                    {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
                raw.setdefault("type", "object")
                props = raw.setdefault("properties", {})
                props["apiVersion"] = {"type": "string", "description": _API_VERSION_DOC}
                props["kind"] = {"type": "string", "description": _KIND_DOC}
                props["metadata"] = {"$ref": REF_PREFIX + OBJECT_META,
                                     "description": "Standard object's metadata."}
                raw["x-kubernetes-group-version-kind"] = [
                    {"group": group, "version": gvk.version, "kind": kind}]
                status = "status" in ((v.get("subresources") or {}))
                res = Resource(gvk, plural, namespaced, status, builtin=False)
                self._crds[gvk] = _CRDVersion(res, raw, name)
                self._doc_cache.pop((group, gvk.version), None)
            self._v2_cache = None

    def unregister_crd(self, crd_name: str) -> None:
        """Stop serving the schemas of the CRD called `crd_name` (plural.group)."""
        with self._lock:
            self._drop_crd(crd_name)
            self._v2_cache = None

    def _drop_crd(self, crd_name: str) -> None:
        for gvk in [g for g, c in self._crds.items() if c.crd_name == crd_name]:
            del self._crds[gvk]
            self._doc_cache.pop((gvk.group, gvk.version), None)

    def crd_versions(self) -> dict[GVK, _CRDVersion]:
        with self._lock:
            return dict(self._crds)

    # ---- OpenAPI documents ---------------------------------------------------
    def openapi_v3_doc(self, group: str, version: str) -> JSON | None:
        """The OpenAPI 3 document of one group-version, or None when nothing is served there."""
        hit = self._doc_and_hash(group, version)
        return hit[0] if hit else None

    def _doc_and_hash(self, group: str, version: str) -> tuple[JSON, str] | None:
        hit = self._doc_cache.get((group, version))
        if hit is not None:
            return hit
        from .schema_gen import build_v3_doc
        with self._lock:
            doc = build_v3_doc(self, group, version)
            if doc is None:
                return None
            entry = (doc, _hash(doc))
            self._doc_cache[(group, version)] = entry
            return entry

    def openapi_v3_index(self, group_versions: list[tuple[str, str]]) -> JSON:
        """`GET /openapi/v3`: group-version path -> serverRelativeURL carrying a content hash."""
        paths: JSON = {}
        for group, version in group_versions:
            hit = self._doc_and_hash(group, version)
            if hit is None:
                continue
            key = f"apis/{group}/{version}" if group else f"api/{version}"
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={hit[1]}"}
        return {"paths": paths}

    def openapi_v2(self) -> JSON:
        """`GET /openapi/v2` as JSON (swagger 2.0) for every served kind."""
        if self._v2_cache is None:
            from .schema_gen import build_v2_doc
            with self._lock:
                self._v2_cache = build_v2_doc(self)
        return self._v2_cache

    # ---- validation ----------------------------------------------------------
    def unknown_fields(self, obj: JSON, gvk: GVK) -> list[str]:
        """Paths of fields the schema does not declare, in the form the real server names
        them (`spec.template.spec.containers[0].imagee`), for fieldValidation=Strict."""
        return self.prune_unknown(obj, gvk)[1]

    def prune_unknown(self, obj: JSON, gvk: GVK) -> tuple[JSON, list[str]]:
        """(copy of `obj` without undeclared fields, their paths). A real server drops them
        when decoding (built-in kinds) or by structural pruning (CRDs); unknown kinds are
        returned unchanged."""
        root = self.root(gvk)
        if root is None:
            return obj, []
        dropped: list[str] = []
        pruned = _prune(obj, root, "", dropped, gvk in self._crds)
        return pruned, dropped


def _prune(value: Any, node: TypeNode, path: str, out: list[str], crd: bool) -> Any:
    raw = node.raw
    if isinstance(value, dict):
        if node.kind == "struct" or (crd and node.kind == "any" and _closed(raw)):
            props = raw.get("properties") or {}
            open_ = bool(raw.get("x-kubernetes-preserve-unknown-fields"))
            embedded = bool(raw.get("x-kubernetes-embedded-resource"))
            kept: JSON = {}
            for k, v in value.items():
                sub = f"{path}.{k}" if path else k
                if k in props:
                    kept[k] = _prune(v, node.child(k), sub, out, crd)
                elif open_ or (embedded and k in ("apiVersion", "kind", "metadata")):
                    kept[k] = v
                else:
                    out.append(sub)
            return kept
        if node.kind == "map":
            return {k: _prune(v, node.child(k), f"{path}.{k}" if path else k, out, crd)
                    for k, v in value.items()}
        return value
    if isinstance(value, list) and node.kind == "list":
        return [_prune(v, node.item(), f"{path}[{i}]", out, crd) for i, v in enumerate(value)]
    return value


def _closed(raw: JSON) -> bool:
    """A CRD object schema with neither properties nor preserve-unknown-fields: pruned empty."""
    t = raw.get("type")
    return t == "object" and not raw.get("x-kubernetes-preserve-unknown-fields") and \
        "additionalProperties" not in raw and not raw.get("x-kubernetes-embedded-resource")


def _hash(doc: JSON) -> str:
    import hashlib
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


_API_VERSION_DOC = ("APIVersion defines the versioned schema of this representation of an "
                    "object. Servers should convert recognized schemas to the latest internal "
                    "value, and may reject unrecognized values.")
_KIND_DOC = ("Kind is a string value representing the REST resource this object represents. "
             "Servers may infer this from the endpoint the client submits requests to.")
