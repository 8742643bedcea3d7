"""The live-state cache of one cluster: list once, then watch, per resource type.

As gitops-engine's cluster cache: every served, listable and watchable type
(after include/exclude filters) is listed and then watched by one thread;
objects are kept in memory, indexed by group/kind/namespace/name and by owner
UID so the resource tree of an app is built without API calls. A watch that
expires (410 Gone) or drops is resumed by a fresh list; readers never see a
half-listed type (the new list replaces the old one atomically). A CRD that
appears starts a watcher for its kind; one that disappears drops it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..manifests import ResourceKey, key_of
from ..tracking import Tracking
from .client import Client, ClusterError
from .discovery import APIResource, Discovery

log = logging.getLogger("syncwright.cluster")

Listener = Callable[[str, dict[str, Any]], None]

#: Kinds never worth caching: huge churn, no GitOps value (Argo CD excludes these too).
DEFAULT_EXCLUDE = ("events.k8s.io/Event", "/Event", "coordination.k8s.io/Lease", "/Endpoints",
                   "discovery.k8s.io/EndpointSlice", "authorization.k8s.io/*", "authentication.k8s.io/*")


@dataclass
class CacheStats:
    lists: int = 0
    relists: int = 0
    watch_events: int = 0
    watch_errors: int = 0
    types: int = 0
    errors: list[str] = field(default_factory=list)


def settings_from_env() -> dict[str, Any]:
    """Cache scoping from the environment (documented in docs/cluster.md).

    ``SYNCWRIGHT_RESOURCE_INCLUDE`` / ``SYNCWRIGHT_RESOURCE_EXCLUDE``: comma-separated
    ``group/Kind`` globs (``/`` alone for the core group, e.g. ``/ConfigMap``, ``apps/*``);
    ``SYNCWRIGHT_NAMESPACES``: watch only these namespaces (cluster-scoped kinds still watched).
    """
    import os

    def csv(name: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in os.environ.get(name, "").split(",") if p.strip())

    out: dict[str, Any] = {}
    if csv("SYNCWRIGHT_RESOURCE_INCLUDE"):
        out["include"] = csv("SYNCWRIGHT_RESOURCE_INCLUDE")
    if csv("SYNCWRIGHT_RESOURCE_EXCLUDE"):
        out["exclude"] = DEFAULT_EXCLUDE + csv("SYNCWRIGHT_RESOURCE_EXCLUDE")
    if csv("SYNCWRIGHT_NAMESPACES"):
        out["namespaces"] = csv("SYNCWRIGHT_NAMESPACES")
    return out


_INTERN_MAX = 64  # strings up to this length are interned (keys, kinds, namespaces, images...)
_POOL_MAX = 200_000  # distinct shared sub-structures kept per cache


def compact(obj: Any, fields_pool: dict[Any, Any]) -> Any:
    """The same object, using far less memory: strings interned, equal FieldsV1 trees shared.

    Parsed JSON costs 5-8x its text in Python objects; most of it is repeated
    keys and the many small dicts of ``managedFields[].fieldsV1``, which are
    identical across objects of the same shape. Cached objects are therefore
    shared structures and must be treated as read-only.
    """
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        leaf = len(obj) <= 4
        for k, v in obj.items():
            if k == "managedFields" and isinstance(v, list):
                out["managedFields"] = [_compact_entry(e, fields_pool) for e in v]
                leaf = False
            else:
                cv = compact(v, fields_pool)
                out[sys.intern(k)] = cv
                leaf = leaf and (cv is None or isinstance(cv, (str, int, float, bool)))
        if leaf and len(fields_pool) < _POOL_MAX:
            # small all-scalar dicts (labels, selectors, ports, limits, {}) repeat across objects
            # types are part of the key: 1, 1.0 and True hash alike but are different JSON
            key = ("leaf", *((k, type(v), v) for k, v in out.items()))
            shared: dict[str, Any] | None = fields_pool.get(key)
            if shared is None:
                fields_pool[key] = shared = out
            return shared
        return out
    if isinstance(obj, list):
        return [compact(v, fields_pool) for v in obj]
    if isinstance(obj, str) and len(obj) <= _INTERN_MAX:
        return sys.intern(obj)
    return obj


def _compact_entry(entry: Any, fields_pool: dict[Any, Any]) -> Any:
    if not isinstance(entry, dict):
        return entry
    # ``time`` is dropped: nothing reads it, and it is a unique string per entry.
    out = {sys.intern(k): (sys.intern(v) if isinstance(v, str) and len(v) <= _INTERN_MAX else v)
           for k, v in entry.items() if k not in ("fieldsV1", "time")}
    tree = entry.get("fieldsV1")
    if tree is not None:
        key = hashlib.blake2b(json.dumps(tree, sort_keys=True, separators=(",", ":")).encode(),
                              digest_size=16).digest()
        shared = fields_pool.get(key)
        if shared is None:
            shared = fields_pool[key] = compact(tree, fields_pool)
        out["fieldsV1"] = shared
    return out


def _rv(obj: dict[str, Any]) -> Any:
    return (obj.get("metadata") or {}).get("resourceVersion")


def _gk(group: str, kind: str) -> str:
    return f"{group}/{kind}"


class ClusterCache:
    """In-memory mirror of a cluster's objects; see the module docstring."""

    def __init__(
        self,
        client: Client,
        *,
        discovery: Discovery | None = None,
        include: Iterable[str] = ("*/*",),
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        namespaces: Iterable[str] | None = None,
        watch: bool = True,
        page_size: int = 500,
        watch_timeout: int = 300,
        tracking: Tracking | None = None,
    ) -> None:
        self.client = client
        self.discovery = discovery or Discovery(client)
        self.include, self.exclude = tuple(include), tuple(exclude)
        self.namespaces = tuple(namespaces) if namespaces else None
        self.watch = watch
        self.page_size, self.watch_timeout = page_size, watch_timeout
        self.stats = CacheStats()
        self.tracking = tracking or Tracking()
        self._by_app: dict[str, set[ResourceKey]] = {}
        self._lock = threading.RLock()
        self._objects: dict[ResourceKey, dict[str, Any]] = {}
        self._by_type: dict[tuple[str, str], set[ResourceKey]] = {}
        self._children: dict[str, set[ResourceKey]] = {}
        self._listeners: list[Listener] = []
        self._fields_pool: dict[Any, Any] = {}
        self._listed: set[tuple[str, str, str]] = set()
        self._threads: dict[tuple[str, str, str], threading.Thread] = {}
        self._ready: dict[tuple[str, str, str], threading.Event] = {}
        self._stopped: set[tuple[str, str]] = set()
        self._stop = threading.Event()

    # -- selection ---------------------------------------------------------------------
    def wants(self, res: APIResource) -> bool:
        name = _gk(res.group, res.kind)
        if not {"list", "watch"} <= set(res.verbs):
            return False
        if any(fnmatch.fnmatchcase(name, p) for p in self.exclude):
            return False
        return any(fnmatch.fnmatchcase(name, p) for p in self.include)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        """List every wanted type (and start its watch); return when all have listed once."""
        self.discovery.ensure()
        for res in self.discovery.resources():
            if self.wants(res):
                self._start_type(res)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for key, ev in list(self._ready.items()):
            if not ev.wait(max(0.0, deadline - time.monotonic())):
                raise ClusterError(f"cluster cache: initial list of {key[0]}/{key[1]} did not finish in {timeout:g}s")

    def stop(self) -> None:
        self._stop.set()

    def add_listener(self, fn: Listener) -> None:
        """``fn(event_type, obj)`` on every change after the initial list (ADDED/MODIFIED/DELETED)."""
        self._listeners.append(fn)

    def _start_type(self, res: APIResource) -> None:
        scopes: list[str | None] = list(self.namespaces) if (res.namespaced and self.namespaces) else [None]
        for ns in scopes:
            tkey = (res.group, res.kind, ns or "")
            if tkey in self._threads:
                continue
            self._ready[tkey] = threading.Event()
            if self.watch:
                t = threading.Thread(target=self._run, args=(res, ns), daemon=True,
                                     name=f"sw-watch-{res.group}/{res.kind}")
                self._threads[tkey] = t
                t.start()
            else:
                self._threads[tkey] = threading.current_thread()
                try:
                    self._list(res, ns)
                except ClusterError as e:
                    self.stats.errors.append(str(e))
                self._ready[tkey].set()
        with self._lock:
            self.stats.types = len({(g, k) for g, k, _ in self._threads})

    # -- list + watch loop ---------------------------------------------------------------------
    def _run(self, res: APIResource, ns: str | None) -> None:
        tkey = (res.group, res.kind, ns or "")
        backoff = 0.2
        rv: str | None = None
        while not self._stop.is_set() and (res.group, res.kind) not in self._stopped:
            try:
                if rv is None:
                    rv = self._list(res, ns)
                    self._ready[tkey].set()
                rv = self._watch(res, ns, rv)
                backoff = 0.2
            except ClusterError as e:
                self.stats.watch_errors += 1
                if e.status == 404:  # the type is gone (CRD deleted)
                    self._drop_type(res)
                    self._ready[tkey].set()
                    return
                log.warning("cluster cache: %s/%s: %s; re-listing", res.group, res.kind, e)
                rv = None
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception as e:  # noqa: BLE001 - a watcher must never die silently
                self.stats.watch_errors += 1
                log.warning("cluster cache: %s/%s watch failed: %s; re-listing", res.group, res.kind, e)
                rv = None
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _list(self, res: APIResource, ns: str | None) -> str:
        items: list[dict[str, Any]] = []
        cont: str | None = None
        rv = ""
        while True:
            query: dict[str, Any] = {"limit": self.page_size}
            if cont:
                query["continue"] = cont
            page = self.client.request("GET", res.path(ns), query=query, what=f"list {res.group}/{res.kind}")
            for item in page.get("items") or []:
                item.setdefault("apiVersion", res.api_version)
                item.setdefault("kind", res.kind)
                items.append(item)
            meta = page.get("metadata") or {}
            rv = meta.get("resourceVersion") or rv
            cont = meta.get("continue")
            if not cont:
                break
        changes: list[tuple[str, dict[str, Any]]] = []
        tkey = (res.group, res.kind, ns or "")
        relist = tkey in self._listed
        with self._lock:
            self.stats.lists += 1
            old = {k for k in self._by_type.get((res.group, res.kind), set()) if ns is None or k.namespace == ns}
            new_keys = set()
            for obj in items:
                key = key_of(obj)
                before = self._objects.get(key)
                new_keys.add(self._put(obj))
                if relist and (before is None or _rv(before) != _rv(obj)):
                    changes.append(("ADDED" if before is None else "MODIFIED", self._objects[key]))
            for k in old - new_keys:
                gone = self._objects.get(k)
                self._remove(k)
                if relist and gone is not None:
                    changes.append(("DELETED", gone))
            self._listed.add(tkey)
        # What changed while the watch was down reaches listeners as if the watch had seen it.
        for etype, obj in changes:
            self._notify(etype, obj)
        return rv

    def _watch(self, res: APIResource, ns: str | None, rv: str) -> str | None:
        query = {"resourceVersion": rv, "allowWatchBookmarks": "true", "timeoutSeconds": self.watch_timeout}
        for event in self.client.stream(res.path(ns), query=query, timeout=self.watch_timeout + 30):
            if self._stop.is_set():
                return rv
            etype, obj = event.get("type"), event.get("object") or {}
            if etype == "ERROR":
                code = obj.get("code")
                self.stats.relists += 1
                if code == 410:
                    return None  # expired: list again
                raise ClusterError(f"watch error: {obj.get('message')}", status=int(code or 0))
            rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
            if etype == "BOOKMARK":
                continue
            self.stats.watch_events += 1
            obj.setdefault("apiVersion", res.api_version)
            obj.setdefault("kind", res.kind)
            with self._lock:
                if etype == "DELETED":
                    self._remove(key_of(obj))
                else:
                    self._put(obj)
            if res.group == "apiextensions.k8s.io" and res.kind == "CustomResourceDefinition":
                self._on_crd(etype or "", obj)
            self._notify(str(etype), obj)
        return rv

    def _notify(self, etype: str, obj: dict[str, Any]) -> None:
        for fn in self._listeners:
            try:
                fn(etype, obj)
            except Exception:  # noqa: BLE001
                log.exception("cluster cache listener failed")

    def _on_crd(self, etype: str, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        group, kind = spec.get("group", ""), (spec.get("names") or {}).get("kind", "")
        try:
            self.discovery.refresh()
        except ClusterError as e:
            log.warning("discovery refresh after CRD change failed: %s", e)
            return
        if etype == "DELETED":
            self._stopped.add((group, kind))
            with self._lock:
                for k in list(self._by_type.get((group, kind), ())):
                    self._remove(k)
            return
        self._stopped.discard((group, kind))
        res = self.discovery.for_kind(group, kind)
        if res is not None and self.wants(res):
            self._start_type(res)

    def _drop_type(self, res: APIResource) -> None:
        with self._lock:
            for k in list(self._by_type.get((res.group, res.kind), ())):
                self._remove(k)

    # -- indexes ---------------------------------------------------------------------------------
    def _put(self, obj: dict[str, Any]) -> ResourceKey:
        obj = compact(obj, self._fields_pool)
        key = key_of(obj)
        old = self._objects.get(key)
        if old is not None:
            self._unindex_owner(key, old)
            self._unindex_app(key, old)
        self._objects[key] = obj
        app = self.tracking.app_of(obj)
        if app:
            self._by_app.setdefault(app, set()).add(key)
        self._by_type.setdefault((key.group, key.kind), set()).add(key)
        meta = obj.get("metadata") or {}
        for ref in meta.get("ownerReferences") or []:
            if ref.get("uid"):
                self._children.setdefault(ref["uid"], set()).add(key)
        return key

    def _remove(self, key: ResourceKey) -> None:
        obj = self._objects.pop(key, None)
        if obj is None:
            return
        self._by_type.get((key.group, key.kind), set()).discard(key)
        self._unindex_owner(key, obj)
        self._unindex_app(key, obj)

    def _unindex_app(self, key: ResourceKey, obj: dict[str, Any]) -> None:
        app = self.tracking.app_of(obj)
        if app and app in self._by_app:
            self._by_app[app].discard(key)

    def _unindex_owner(self, key: ResourceKey, obj: dict[str, Any]) -> None:
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
            kids = self._children.get(ref.get("uid", ""))
            if kids is not None:
                kids.discard(key)

    # -- reads (no API calls) -----------------------------------------------------------------------
    def get(self, key: ResourceKey) -> dict[str, Any] | None:
        with self._lock:
            return self._objects.get(key)

    def find(self, group: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """By identity; for a kind whose scope is unknown, tries namespaced then cluster-scoped."""
        with self._lock:
            return self._objects.get(ResourceKey(group, kind, namespace, name)) or (
                self._objects.get(ResourceKey(group, kind, "", name)) if namespace else None)

    def objects(self, group: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            if group is not None and kind is not None:
                return [self._objects[k] for k in self._by_type.get((group, kind), ())]
            return list(self._objects.values())

    def tracked(self, app: str) -> list[dict[str, Any]]:
        """Live objects tracked to ``app`` (the managed set and prune candidates)."""
        with self._lock:
            return [self._objects[k] for k in self._by_app.get(app, ()) if k in self._objects]

    def apps(self) -> list[str]:
        with self._lock:
            return sorted(a for a, keys in self._by_app.items() if keys)

    def children(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        uid = (obj.get("metadata") or {}).get("uid")
        with self._lock:
            return [self._objects[k] for k in self._children.get(uid or "", ()) if k in self._objects]

    def tree(self, obj: dict[str, Any], depth: int = 10) -> list[tuple[int, dict[str, Any]]]:
        """``obj``'s descendants through ownerReferences, depth-first, as (level, object)."""
        out: list[tuple[int, dict[str, Any]]] = []

        def walk(o: dict[str, Any], level: int) -> None:
            if level > depth:
                return
            for child in sorted(self.children(o), key=lambda c: (c.get("kind", ""), c["metadata"].get("name", ""))):
                out.append((level, child))
                walk(child, level + 1)

        walk(obj, 1)
        return out

    def __len__(self) -> int:
        return len(self._objects)
