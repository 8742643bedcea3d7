"""In-cluster mode: Applications and AppProjects are custom resources; state lives in their ``status``.

``CrdSource`` watches ``applications``/``appprojects.syncwright.dev`` (and
Argo CD cluster Secrets) in the controller's namespace through a cluster
cache, and builds the same ``Snapshot`` as the file source. ``CrdBackend``
is the state store: the operation state and history are
``status.operationState`` / ``status.history``, the comparison is
``status.sync``, ``health``, ``resources``, ``conditions``, ``reconciledAt``
— all written through the status subresource (merge patch). Requests come
from the resources themselves, as in Argo CD: a top-level ``operation``
starts a sync (the controller removes it when it takes it) and the
annotation ``argocd.argoproj.io/refresh: normal|hard`` asks for a refresh.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..cluster.cache import ClusterCache
from ..cluster.client import Client, ClusterError
from ..sync.operation import HistoryEntry, OperationState, StoreError
from .clusters import SECRET_TYPE_LABEL, Clusters
from .crds import GROUP, VERSION
from .sources import Snapshot, add_document, digest

log = logging.getLogger("syncwright.controller")
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
MERGE = "application/merge-patch+json"


class CrdSource:
    """Applications/AppProjects (and cluster Secrets) of one namespace, from a watched cache."""

    def __init__(self, client: Client, namespace: str, clusters: Clusters | None = None) -> None:
        self.client, self.namespace, self.clusters = client, namespace, clusters
        self.cache = ClusterCache(client, include=(f"{GROUP}/Application", f"{GROUP}/AppProject", "/Secret"),
                                  namespaces=(namespace,))
        self._signature: tuple[Any, ...] | None = None
        self._secrets: dict[str, str] = {}
        self._started = False

    def start(self) -> None:
        if not self._started:
            self.cache.start()
            self._started = True

    def objects(self, kind: str) -> list[dict[str, Any]]:
        group = "" if kind == "Secret" else GROUP
        return [o for o in self.cache.objects(group, kind)
                if (o.get("metadata") or {}).get("namespace") == self.namespace]

    def poll(self) -> Snapshot | None:
        self.start()
        self._sync_cluster_secrets()
        apps, projects = self.objects("Application"), self.objects("AppProject")
        sig = tuple(sorted((o["kind"], o["metadata"]["name"], digest(o.get("spec"))) for o in apps + projects))
        if sig == self._signature:
            return None
        self._signature = sig
        snap = Snapshot()
        for obj in projects + apps:
            meta = obj.get("metadata") or {}
            doc: dict[str, Any] = {k: obj[k] for k in ("apiVersion", "kind", "spec") if k in obj}
            doc["metadata"] = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
            add_document(snap, doc, f"{obj['kind']} {meta.get('namespace')}/{meta.get('name')}", None)
        return snap

    def _sync_cluster_secrets(self) -> None:
        if self.clusters is None:
            return
        for secret in self.objects("Secret"):
            meta = secret.get("metadata") or {}
            if (meta.get("labels") or {}).get(SECRET_TYPE_LABEL) != "cluster":
                continue
            rv = str(meta.get("resourceVersion", ""))
            if self._secrets.get(meta["name"]) == rv:
                continue
            try:
                self.clusters.add_secret(secret)
                self._secrets[meta["name"]] = rv
            except Exception as e:  # noqa: BLE001 - one bad secret must not hide the others
                log.warning("cluster secret %s: %s", meta.get("name"), e)

    def stop(self) -> None:
        self.cache.stop()


class CrdBackend:
    """The state store of in-cluster mode: the Application resources' status subresource."""

    def __init__(self, client: Client, namespace: str, source: CrdSource) -> None:
        self.client, self.namespace, self.source = client, namespace, source
        self._lock = threading.Lock()
        self._ops: dict[str, OperationState] = {}
        self._taken: set[tuple[str, str]] = set()  # (app, resourceVersion) whose requests were taken

    def _path(self, app: str, sub: str = "") -> str:
        base = f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/applications/{app}"
        return f"{base}/{sub}" if sub else base

    def _get(self, app: str) -> dict[str, Any] | None:
        found = self.source.cache.find(GROUP, "Application", self.namespace, app)
        if found is not None:
            return found
        try:
            obj: dict[str, Any] = self.client.request("GET", self._path(app), what=f"get application {app}")
            return obj
        except ClusterError as e:
            if e.status == 404:
                return None
            raise StoreError(f"cannot read the Application: {e}", context=f"app {app!r}") from None

    def _patch_status(self, app: str, status: dict[str, Any]) -> None:
        try:
            self.client.request("PATCH", self._path(app, "status"), body={"status": status}, content_type=MERGE,
                                what=f"update status of application {app}")
        except ClusterError as e:
            if e.status == 404:
                return  # the Application was deleted meanwhile
            raise StoreError(f"cannot write the status: {e}", context=f"app {app!r}") from None

    # -- OperationStore ----------------------------------------------------------------------
    def load(self, app: str) -> OperationState | None:
        with self._lock:
            mine = self._ops.get(app)
        obj = self._get(app)
        if mine is not None:
            op = OperationState.from_dict(mine.to_dict())
            live = ((obj or {}).get("status") or {}).get("operationState") or {}
            if live.get("id") == op.id and live.get("phase") == "Terminating":  # `app terminate` asked
                op.phase = "Terminating"
            return op
        data = ((obj or {}).get("status") or {}).get("operationState")
        return OperationState.from_dict(data) if isinstance(data, dict) else None

    def save(self, op: OperationState) -> None:
        with self._lock:
            stored = self._ops.get(op.app)
            if stored is not None and stored.id == op.id and stored.phase == "Terminating" and op.phase == "Running":
                op.phase = "Terminating"
            self._ops[op.app] = OperationState.from_dict(op.to_dict())
            if op.completed:
                self._ops.pop(op.app, None)
        self._patch_status(op.app, {"operationState": op.to_dict()})

    def history(self, app: str) -> list[HistoryEntry]:
        obj = self._get(app)
        items = ((obj or {}).get("status") or {}).get("history") or []
        return [HistoryEntry.from_dict(d) for d in items if isinstance(d, dict)]

    def add_history(self, app: str, entry: HistoryEntry, limit: int) -> None:
        from dataclasses import asdict

        entries = [asdict(e) for e in self.history(app)] + [asdict(entry)]
        if limit > 0:
            entries = entries[-limit:]
        self._patch_status(app, {"history": entries})

    # -- comparisons -------------------------------------------------------------------------
    def save_comparison(self, app: str, data: dict[str, Any]) -> None:
        keep = ("sync", "health", "conditions", "reconciledAt", "controller")
        status = {k: data[k] for k in keep if k in data}
        status["resources"] = [{k: v for k, v in r.items() if k != "diff"} for r in data.get("resources") or []]
        status["conditions"] = data.get("conditions") or None  # merge patch: null removes them
        self._patch_status(app, status)

    def comparison(self, app: str) -> dict[str, Any] | None:
        obj = self._get(app)
        return dict((obj or {}).get("status") or {}) if obj else None

    # -- requests ----------------------------------------------------------------------------
    def take_requests(self, owns: Any = None) -> list[tuple[int, str, str, dict[str, Any]]]:
        out: list[tuple[int, str, str, dict[str, Any]]] = []
        for obj in self.source.objects("Application"):
            name = obj["metadata"]["name"]
            if owns is not None and not owns(name):
                continue
            rv = (name, str(obj["metadata"].get("resourceVersion", "")))
            if rv in self._taken:
                continue  # the cache has not seen our patch yet
            if len(self._taken) > 10000:
                self._taken.clear()
            refresh = ((obj["metadata"].get("annotations") or {}).get(REFRESH_ANNOTATION) or "").strip()
            if refresh:
                self._taken.add(rv)
                if self._patch(name, {"metadata": {"annotations": {REFRESH_ANNOTATION: None}}}):
                    out.append((0, name, "hard-refresh" if refresh == "hard" else "refresh", {}))
            op = obj.get("operation")
            if isinstance(op, dict) and op:
                self._taken.add(rv)
                if self._patch(name, {"operation": None}):
                    sync = op.get("sync") or {}
                    kind = "rollback" if op.get("rollback") else "sync"
                    data = {"prune": bool(sync.get("prune")), "dryRun": bool(sync.get("dryRun")),
                            "id": (op.get("rollback") or {}).get("id")}
                    out.append((0, name, kind, data))
        return out

    def _patch(self, app: str, body: dict[str, Any]) -> bool:
        try:
            self.client.request("PATCH", self._path(app), body=body, content_type=MERGE,
                                what=f"update application {app}")
            return True
        except ClusterError as e:
            log.warning("app %s: %s", app, e)
            return False
