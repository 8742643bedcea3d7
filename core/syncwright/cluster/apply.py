"""The write side: apply, replace, force-recreate and delete objects, with dry-run.

Server-side apply is the default (``PATCH`` with ``application/apply-patch+yaml``,
field manager ``syncwright``, ``force=true`` so syncwright takes over fields
as Argo CD's ``--force-conflicts`` does). ``ServerSideApply=false`` gives
kubectl's client-side apply: the desired object is stored in the
``kubectl.kubernetes.io/last-applied-configuration`` annotation and a
three-way JSON merge patch (last applied, desired, live) is sent, so fields
removed from Git are removed from the cluster and fields set by others stay.
``Replace=true`` creates or replaces (PUT); ``Force=true`` with it deletes and
re-creates. Every call takes ``dry_run`` (``dryRun=All``).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from ..manifests import key_of
from .client import Client, ClusterError
from .discovery import APIResource, Discovery

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
PROPAGATION = {"foreground": "Foreground", "background": "Background", "orphan": "Orphan"}

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ApplyOptions:
    """How to write one object (from its effective sync options)."""

    server_side: bool = True
    replace: bool = False
    force: bool = False
    validate: bool = True
    dry_run: bool = False


def _where(obj: dict[str, Any]) -> str:
    return str(key_of(obj))


def three_way_merge_patch(last: dict[str, Any] | None, desired: Any, live: Any) -> dict[str, Any]:
    """kubectl's ``CreateThreeWayJSONMergePatch``: set what differs from live, delete what Git dropped."""
    patch: dict[str, Any] = {}
    last = last if isinstance(last, dict) else {}
    live = live if isinstance(live, dict) else {}
    for k, v in desired.items():
        cur = live.get(k)
        if isinstance(v, dict) and isinstance(cur, dict):
            sub = three_way_merge_patch(last.get(k) if isinstance(last.get(k), dict) else None, v, cur)
            if sub:
                patch[k] = sub
        elif v != cur:
            patch[k] = v
    for k in last:
        if k not in desired and k in live:
            patch[k] = None
    return patch


class Applier:
    """Writes objects through one rate-limited client; see the module docstring."""

    def __init__(self, client: Client, discovery: Discovery, *, manager: str = "syncwright") -> None:
        self.client = client
        self.discovery = discovery
        self.manager = manager

    def resource(self, obj: dict[str, Any], wait: float = 0.0) -> APIResource:
        """The API resource of ``obj``; ``wait`` seconds for a kind that a CRD just created."""
        deadline = time.monotonic() + wait
        while True:
            res = self.discovery.for_object(obj)
            if res is not None:
                return res
            if time.monotonic() >= deadline:
                raise ClusterError(f"the server does not serve {obj.get('apiVersion')} {obj.get('kind')} "
                                   "(is its CustomResourceDefinition installed?)", status=404, context=_where(obj))
            time.sleep(0.1)

    def _path(self, obj: dict[str, Any], res: APIResource, with_name: bool = True) -> str:
        meta = obj.get("metadata") or {}
        return res.path(meta.get("namespace") if res.namespaced else None, meta.get("name") if with_name else None)

    def get(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The live object, or None when it does not exist (or its kind is not served)."""
        res = self.discovery.for_object(obj)
        if res is None:
            return None
        try:
            live: dict[str, Any] = self.client.request("GET", self._path(obj, res), what=f"get {_where(obj)}")
            return live
        except ClusterError as e:
            if e.status == 404:
                return None
            raise

    def apply(self, obj: dict[str, Any], opt: ApplyOptions = ApplyOptions(), *, kind_wait: float = 0.0) -> dict[str, Any]:
        """Write ``obj`` as the options say; returns the object the server answered with."""
        res = self.resource(obj, kind_wait)
        query: dict[str, Any] = {"fieldManager": self.manager}
        if opt.dry_run:
            query["dryRun"] = "All"
        query["fieldValidation"] = "Strict" if opt.validate else "Ignore"
        what = f"{'dry-run ' if opt.dry_run else ''}apply {_where(obj)}"
        if opt.replace:
            return self._replace(obj, res, query, opt, what)
        if opt.server_side:
            body = {k: v for k, v in obj.items() if k != "status"}
            out: dict[str, Any] = self.client.request("PATCH", self._path(obj, res), query={**query, "force": "true"},
                                                      body=body, content_type=APPLY_PATCH, what=what)
            return out
        return self._client_side(obj, res, query, what)

    def _client_side(self, obj: dict[str, Any], res: APIResource, query: dict[str, Any], what: str) -> dict[str, Any]:
        desired = copy.deepcopy(obj)
        desired.pop("status", None)
        meta = desired.setdefault("metadata", {})
        ann = dict(meta.get("annotations") or {})
        ann.pop(LAST_APPLIED, None)
        meta["annotations"] = ann
        record = json.dumps(desired, sort_keys=True, separators=(",", ":"))
        meta["annotations"] = {**ann, LAST_APPLIED: record}
        live = self.get(obj)
        if live is None:
            out: dict[str, Any] = self.client.request("POST", self._path(obj, res, with_name=False), query=query,
                                                      body=desired, what=what)
            return out
        raw = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
        try:
            last = json.loads(raw) if raw else None
        except ValueError:
            last = None
        patch = three_way_merge_patch(last, desired, live)
        if not patch:
            return live
        out = self.client.request("PATCH", self._path(obj, res), query=query, body=patch,
                                  content_type=MERGE_PATCH, what=what)
        return out

    def _replace(self, obj: dict[str, Any], res: APIResource, query: dict[str, Any], opt: ApplyOptions,
                 what: str) -> dict[str, Any]:
        live = self.get(obj)
        if live is not None and opt.force:
            if opt.dry_run:
                return live
            self.delete(live, propagation="foreground", wait=30.0)
            live = None
        if live is None:
            out: dict[str, Any] = self.client.request("POST", self._path(obj, res, with_name=False), query=query,
                                                      body=obj, what=what)
            return out
        body = copy.deepcopy(obj)
        body.setdefault("metadata", {})["resourceVersion"] = (live.get("metadata") or {}).get("resourceVersion")
        out = self.client.request("PUT", self._path(obj, res), query=query, body=body, what=what)
        return out

    def delete(self, obj: dict[str, Any], *, propagation: str = "foreground", dry_run: bool = False,
               wait: float = 0.0) -> bool:
        """Delete ``obj``; False when it was already gone. ``wait`` > 0 waits until it is gone."""
        res = self.discovery.for_object(obj)
        if res is None:
            return False
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions",
                                "propagationPolicy": PROPAGATION.get(propagation.lower(), "Foreground")}
        if dry_run:
            body["dryRun"] = ["All"]
        uid = (obj.get("metadata") or {}).get("uid")
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self.client.request("DELETE", self._path(obj, res), query={"dryRun": "All"} if dry_run else None,
                                body=body, what=f"{'dry-run ' if dry_run else ''}delete {_where(obj)}")
        except ClusterError as e:
            if e.status in (404, 409):  # gone, or replaced by a newer object of that name
                return False
            raise
        if wait > 0 and not dry_run:
            self.wait_gone(obj, wait)
        return True

    def wait_gone(self, obj: dict[str, Any], timeout: float, uid: str | None = None) -> None:
        uid = uid or (obj.get("metadata") or {}).get("uid")
        deadline = time.monotonic() + timeout
        while True:
            live = self.get(obj)
            if live is None or (uid and (live.get("metadata") or {}).get("uid") != uid):
                return
            if time.monotonic() >= deadline:
                raise ClusterError(f"still present {timeout:g}s after deletion", context=_where(obj))
            time.sleep(0.05)


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """One long-lived pool per size: starting threads per wave costs more than the requests of a small wave."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="syncwright-apply")
        return pool


def parallel(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R | BaseException]:
    """``fn`` over ``items`` with at most ``workers`` at once; exceptions are returned, not raised."""
    items = list(items)

    def safe(item: T) -> R | BaseException:
        try:
            return fn(item)
        except Exception as e:  # noqa: BLE001 - reported per item by the caller
            return e

    if len(items) <= 1 or workers <= 1:
        return [safe(i) for i in items]
    return list(_pool(workers).map(safe, items))
