"""Write semantics of the API server: create, update, patch, delete.

Everything runs under the store lock, so each write is atomic and the
resourceVersion order is the commit order. Controllers and the HTTP layer
both call this module; the HTTP layer only parses requests and renders results.
"""

from __future__ import annotations

import random
import threading
import uuid
from datetime import datetime, timezone
from typing import Any

import orjson

from . import errors, gc
from ._deps import (GVK, Conflict, MalformedPatch, PatchError, Schema, apply_defaults,
                    apply_json_patch, apply_merge_patch, apply_strategic_merge_patch,
                    record_update, ssa_apply)
from .decoding import FieldValidationError, check_fields
from .errors import ApiError
from .registry import Registry, ResourceType
from .spec_validation import validate_spec
from .store import Entry, Store
from .validation import validate_meta

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
SMP = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
APPLY_CBOR = "application/apply-patch+cbor"
_GEN_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_NS_KEY = ("", "namespaces")
_CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rand_suffix(n: int = 5) -> str:
    return "".join(random.choice(_GEN_CHARS) for _ in range(n))


def _clone(obj: Any) -> Any:
    return orjson.loads(orjson.dumps(obj))


def _spec_part(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    skip = ("metadata", "status", "apiVersion", "kind") if rt.status else (
        "metadata", "apiVersion", "kind")
    return {k: v for k, v in obj.items() if k not in skip}


def _without_times(obj: dict[str, Any]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    mf = meta.get("managedFields")
    if mf:
        meta["managedFields"] = [{k: v for k, v in e.items() if k != "time"} for e in mf]
    return {**obj, "metadata": meta}


class Api:
    """The API server's object semantics over a Store."""

    def __init__(self, store: Store, registry: Registry, schema: Schema) -> None:
        self.store = store
        self.registry = registry
        self.schema = schema
        self._request = threading.local()
        self.gc_busy: set[str] = set()  # see gc._busy

    # --- per-request options (set by the HTTP layer for its thread) ----------------

    def begin_request(self, field_validation: str | None) -> None:
        """Start a request: `fieldValidation` mode and a fresh list of warnings."""
        mode = field_validation or "Warn"
        if mode not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(f'fieldValidation must be one of "Strict", "Warn", '
                                     f'"Ignore", not "{mode}"')
        self._request.mode = mode
        self._request.warnings = []

    def warnings(self) -> list[str]:
        return list(getattr(self._request, "warnings", []))

    def _known_fields(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Type-check and drop undeclared fields as decoding does (fieldValidation modes)."""
        mode = getattr(self._request, "mode", "Ignore")
        try:
            pruned, warnings = check_fields(obj, self.gvk(rt), self.schema, mode)
        except FieldValidationError as e:
            meta = obj.get("metadata")
            name = meta.get("name") if isinstance(meta, dict) else None
            raise ApiError(e.code, e.reason, e.message, name=name if isinstance(name, str)
                           else None, group=rt.group, kind=rt.kind) from None
        if warnings and mode == "Warn":
            self._request.warnings.extend(warnings)
        return pruned if pruned is obj else dict(pruned)

    # --- helpers ---------------------------------------------------------------

    def gvk(self, rt: ResourceType) -> GVK:
        return GVK(rt.group, rt.version, rt.kind)

    def get(self, rt: ResourceType, ns: str, name: str) -> Entry:
        e = self.store.get(rt.key, ns if rt.namespaced else "", name)
        if e is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return e

    def _check_identity(self, rt: ResourceType, ns: str, body: Any, name: str | None) -> None:
        if not isinstance(body, dict):
            raise errors.bad_request("the object provided is unrecognized: expected a JSON "
                                     "object")
        # Like the real server, a body without kind/apiVersion is decoded as the URL's type.
        kind = body.setdefault("kind", rt.kind)
        api_version = body.setdefault("apiVersion", rt.api_version)
        if kind != rt.kind or api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})" if kind == rt.kind else
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind}) "
                f"for {rt.plural}.{rt.group or 'core'}/{rt.version}")
        meta = body.get("metadata")
        if meta is None:
            body["metadata"] = meta = {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            bns = meta.get("namespace")
            if bns and bns != ns:
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") and meta["name"] != name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match "
                                     f"the name on the URL ({name})")
        if name is not None:
            meta["name"] = name
        pruned = self._known_fields(rt, body)
        if pruned is not body:
            body.clear()
            body.update(pruned)

    def _check_namespace(self, rt: ResourceType, ns: str, name: str) -> None:
        if not rt.namespaced:
            return
        nse = self.store.get(_NS_KEY, "", ns)
        if nse is None:
            raise errors.namespace_not_found(ns)
        if nse.obj["metadata"].get("deletionTimestamp"):
            raise errors.forbidden_terminating(rt.plural, rt.group, name, ns)

    # --- create ------------------------------------------------------------------

    def create(self, rt: ResourceType, ns: str, body: Any, *, manager: str,
               dry_run: bool = False) -> dict[str, Any]:
        with self.store.lock:
            self._check_identity(rt, ns, body, None)
            meta = body["metadata"]
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + rand_suffix()
            validate_meta(rt, body)
            name = meta["name"]
            self._check_namespace(rt, ns, name)
            if self.store.get(rt.key, meta.get("namespace", ""), name) is not None:
                raise errors.already_exists(rt.plural, rt.group, name)
            obj = self._prepare_create(rt, body)
            obj = record_update(None, obj, manager=manager, operation="Update",
                                schema=self.schema, gvk=self.gvk(rt), now=now())
            return self._commit(rt, None, obj, dry_run)

    def _prepare_create(self, rt: ResourceType, body: dict[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation", "selfLink"):
            meta.pop(k, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if rt.generation:
            meta["generation"] = 1
        if rt.status:
            if rt.builtin:
                body["status"] = {}
            else:
                body.pop("status", None)
        body = apply_defaults(body, self.gvk(rt))
        validate_spec(rt, body)
        return gc.on_create(self, rt, body)

    # --- commit --------------------------------------------------------------------

    def _commit(self, rt: ResourceType, old: Entry | None, obj: dict[str, Any],
                dry_run: bool) -> dict[str, Any]:
        """Store `obj` (or delete it when its last finalizer is gone) and run side effects."""
        obj = _clone(obj)
        meta = obj["metadata"]
        if dry_run:
            if old is None:
                meta.pop("resourceVersion", None)
            return obj
        if old is not None and _without_times(old.obj) == _without_times(obj):
            return old.obj  # a no-op write does not bump resourceVersion
        if gc.can_remove(rt, obj):
            rv = self.store.next_rv()
            meta["resourceVersion"] = str(rv)
            self.store.remove(rt.key, meta.get("namespace", ""), meta["name"], obj, rv)
            gc.after_delete(self, rt, obj)
            return obj
        rv = self.store.next_rv()
        meta["resourceVersion"] = str(rv)
        self.store.put(rt.key, obj, rv)
        gc.after_write(self, rt, old.obj if old else None, obj)
        return obj

    # --- update ------------------------------------------------------------------

    def update(self, rt: ResourceType, ns: str, name: str, body: Any, *, manager: str,
               subresource: str = "", dry_run: bool = False) -> dict[str, Any]:
        with self.store.lock:
            self._check_identity(rt, ns, body, name)
            old = self.get(rt, ns, name)
            brv = body["metadata"].get("resourceVersion")
            if brv and brv != old.obj["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name)
            return self._finish_update(rt, old, body, manager=manager, operation="Update",
                                       subresource=subresource, dry_run=dry_run)

    def _finish_update(self, rt: ResourceType, old: Entry, new: dict[str, Any], *,
                       manager: str, operation: str, subresource: str, dry_run: bool,
                       applied: bool = False) -> dict[str, Any]:
        o = old.obj
        if subresource == "status":
            status = new.get("status")
            applied_fields = (new.get("metadata") or {}).get("managedFields")
            new = {**o}
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            new["metadata"] = dict(o["metadata"])
            if applied and applied_fields is not None:
                new["metadata"]["managedFields"] = applied_fields
        else:
            new = dict(new)
            if rt.status:
                if "status" in o:
                    new["status"] = o["status"]
                else:
                    new.pop("status", None)
            meta = dict(new.get("metadata") or {})
            for k in ("uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation", "namespace", "name"):
                if k in o["metadata"]:
                    meta[k] = o["metadata"][k]
                else:
                    meta.pop(k, None)
            if "managedFields" not in meta or meta["managedFields"] is None:
                if "managedFields" in o["metadata"]:
                    meta["managedFields"] = o["metadata"]["managedFields"]
            new["metadata"] = meta
            validate_meta(rt, new)
            new = apply_defaults(new, self.gvk(rt))
            validate_spec(rt, new)
            # The scheduler's binding sets spec.nodeName without a new generation.
            if (rt.generation and subresource != "binding"
                    and _spec_part(rt, new) != _spec_part(rt, o)):
                new["metadata"] = {**new["metadata"],
                                   "generation": int(o["metadata"].get("generation", 1)) + 1}
            if o["metadata"].get("deletionTimestamp"):
                # Finalizers may be removed but not added while deleting.
                pass
        new["metadata"] = {**new["metadata"],
                           "resourceVersion": o["metadata"].get("resourceVersion")}
        if not applied:
            new = record_update(o, new, manager=manager, operation=operation,
                                subresource=subresource, schema=self.schema, gvk=self.gvk(rt),
                                now=now())
        new = gc.before_update(self, rt, o, new)
        return self._commit(rt, old, new, dry_run)

    # --- patch ---------------------------------------------------------------------

    def patch(self, rt: ResourceType, ns: str, name: str, ctype: str, patch: Any, *,
              manager: str, subresource: str = "", force: bool = False,
              dry_run: bool = False) -> tuple[int, dict[str, Any]]:
        """Apply a patch; returns (HTTP status, object). Apply may create (201)."""
        with self.store.lock:
            old = self.store.get(rt.key, ns if rt.namespaced else "", name)
            if ctype in (APPLY, APPLY_CBOR):
                return self._apply(rt, ns, name, old, patch, manager=manager, force=force,
                                   subresource=subresource, dry_run=dry_run)
            if old is None:
                raise errors.not_found(rt.plural, rt.group, name)
            try:
                if ctype == JSON_PATCH:
                    if not isinstance(patch, list):
                        raise MalformedPatch("json patch must be a list of operations")
                    new = apply_json_patch(old.obj, patch)
                elif ctype == MERGE_PATCH:
                    if not isinstance(patch, dict):
                        raise MalformedPatch("merge patch must be a JSON object")
                    new = apply_merge_patch(old.obj, patch)
                elif ctype == SMP:
                    if not rt.builtin:
                        raise errors.unsupported_media_type(
                            ctype, [JSON_PATCH, MERGE_PATCH, APPLY])
                    if not isinstance(patch, dict):
                        raise MalformedPatch("strategic merge patch must be a JSON object")
                    new = apply_strategic_merge_patch(old.obj, patch, self.schema, self.gvk(rt))
                else:
                    accepted = [JSON_PATCH, MERGE_PATCH, APPLY] + ([SMP] if rt.builtin else [])
                    raise errors.unsupported_media_type(ctype, accepted)
            except PatchError as e:
                if ctype == SMP and not rt.builtin:
                    raise errors.unsupported_media_type(ctype, [JSON_PATCH, MERGE_PATCH, APPLY])
                raise ApiError(e.code, e.reason, e.message, name=name, group=rt.group,
                               kind=rt.kind) from e
            if not isinstance(new, dict):
                raise errors.bad_request("the patch produced something that is not an object")
            if not isinstance(new.get("metadata"), dict):
                raise errors.bad_request("the patch made metadata something other than an object")
            new = self._known_fields(rt, dict(new))
            if new.get("kind") != rt.kind or new.get("apiVersion") != rt.api_version:
                raise errors.bad_request("the patch changed the kind or apiVersion of the object")
            nmeta = new.get("metadata") or {}
            if nmeta.get("name") != name or (rt.namespaced and nmeta.get("namespace") != ns):
                raise errors.bad_request("the patch changed the name or namespace of the object")
            if nmeta.get("resourceVersion") != old.obj["metadata"].get("resourceVersion"):
                raise errors.conflict(rt.plural, rt.group, name)
            return 200, self._finish_update(rt, old, new, manager=manager, operation="Update",
                                            subresource=subresource, dry_run=dry_run)

    def _apply(self, rt: ResourceType, ns: str, name: str, old: Entry | None, body: Any, *,
               manager: str, force: bool, subresource: str,
               dry_run: bool) -> tuple[int, dict[str, Any]]:
        self._check_identity(rt, ns, body, name)
        if not manager:
            raise errors.bad_request("fieldManager is required for apply requests")
        brv = body["metadata"].get("resourceVersion")
        if brv and (old is None or brv != old.obj["metadata"]["resourceVersion"]):
            raise errors.conflict(rt.plural, rt.group, name)
        body["metadata"].pop("managedFields", None)
        if old is None:
            if subresource:
                raise errors.not_found(rt.plural, rt.group, name)
            validate_meta(rt, body)
            self._check_namespace(rt, ns, name)
            try:
                obj = ssa_apply(None, body, manager=manager, force=force, schema=self.schema,
                                gvk=self.gvk(rt), now=now())
            except Conflict as c:
                raise _conflict_error(rt, name, c) from c
            obj = self._prepare_create(rt, dict(obj))
            return 201, self._commit(rt, None, obj, dry_run)
        try:
            new = ssa_apply(old.obj, body, manager=manager, force=force, schema=self.schema,
                            gvk=self.gvk(rt), now=now(), subresource=subresource)
        except Conflict as c:
            raise _conflict_error(rt, name, c) from c
        return 200, self._finish_update(rt, old, dict(new), manager=manager, operation="Apply",
                                        subresource=subresource, dry_run=dry_run, applied=True)

    # --- delete --------------------------------------------------------------------

    def delete(self, rt: ResourceType, ns: str, name: str, opts: dict[str, Any], *,
               dry_run: bool = False) -> tuple[int, dict[str, Any]]:
        with self.store.lock:
            old = self.get(rt, ns, name)
            pre = opts.get("preconditions") or {}
            m = old.obj["metadata"]
            if pre.get("uid") and pre["uid"] != m.get("uid"):
                raise ApiError(409, "Conflict", f"Precondition failed: UID in precondition: "
                               f"{pre['uid']}, UID in object meta: {m.get('uid')}",
                               name=name, group=rt.group, kind=rt.plural)
            if pre.get("resourceVersion") and pre["resourceVersion"] != m.get("resourceVersion"):
                raise errors.conflict(rt.plural, rt.group, name)
            policy = opts.get("propagationPolicy")
            if policy is None and opts.get("orphanDependents") is not None:
                policy = "Orphan" if opts["orphanDependents"] else "Background"
            if policy not in (None, "Background", "Foreground", "Orphan"):
                raise errors.invalid("DeleteOptions", "", "", [(
                    "propagationPolicy", str(policy),
                    "supported values: \"Foreground\", \"Background\", \"Orphan\", nil")])
            return gc.delete(self, rt, old, policy or "Background", dry_run)


def _conflict_error(rt: ResourceType, name: str, c: Conflict) -> ApiError:
    return ApiError(409, "Conflict", str(c), name=name, group=rt.group, kind=rt.plural,
                    causes=c.causes)


