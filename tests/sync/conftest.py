"""Fixtures for the sync engine tests: an app in a namespace of its own, a write recorder, the engine."""

from __future__ import annotations

import copy
import threading
import time
import uuid
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest

from syncwright.api import SyncEvent, hookimpl
from syncwright.cluster.client import Client, ClusterConfig
from syncwright.model import parse_application
from syncwright.plugins import Hooks
from syncwright.sync import FileStore, OperationState, SyncEngine, SyncRequest


class Recorder:
    """Every committed write in the test's namespaces, in order (kubesim store listener)."""

    def __init__(self, sim: Any, namespaces: set[str]) -> None:
        self.namespaces = namespaces
        self.events: list[tuple[float, str, str, str, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.sim = sim
        if sim is not None:
            sim.store.listeners.append(self._on)

    def close(self) -> None:
        if self.sim is not None and self._on in self.sim.store.listeners:
            self.sim.store.listeners.remove(self._on)

    def _on(self, ev: Any) -> None:
        obj = ev.entry.obj
        kind = obj.get("kind", "")
        ns = ev.namespace or (obj.get("metadata") or {}).get("name", "") if kind == "Namespace" else ev.namespace
        if ns not in self.namespaces:
            return
        with self.lock:
            self.events.append((time.monotonic(), ev.type, kind, ev.namespace, ev.name, obj))

    def writes(self, managed_only: bool = True) -> list[tuple[str, str, str]]:
        """(type, kind, name) of writes made by syncwright (not by the simulated controllers)."""
        out = []
        for _t, etype, kind, _ns, name, obj in self.events:
            managers = {m.get("manager") for m in (obj.get("metadata") or {}).get("managedFields") or []}
            if managed_only and etype != "DELETED" and "syncwright" not in managers:
                continue
            out.append((etype, kind, name))
        return out

    def when(self, kind: str, name: str, pred: Any) -> float:
        """The time of the first event of kind/name whose object satisfies ``pred``."""
        for t, _e, k, _ns, n, o in list(self.events):
            if (k, n) == (kind, name) and pred(o):
                return t
        raise AssertionError(f"no matching event for {kind}/{name}; events: {self.writes(False)}")

    def completed(self, kind: str, name: str) -> float:
        """When a Job got its Complete condition (or a Deployment became available)."""
        def done(o: dict[str, Any]) -> bool:
            st = o.get("status") or {}
            conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
            if kind == "Job":
                return conds.get("Complete") == "True"
            return bool(st.get("availableReplicas", 0) >= (o.get("spec") or {}).get("replicas", 1))
        return self.when(kind, name, done)

    def uids(self, kind: str, name: str) -> list[str]:
        out: list[str] = []
        for _t, e, k, _ns, n, o in list(self.events):
            uid = (o.get("metadata") or {}).get("uid")
            if (k, n) == (kind, name) and e == "ADDED" and uid not in out:
                out.append(uid)
        return out

    def first(self, kind: str, name: str, etype: str = "ADDED") -> float:
        for t, e, k, _ns, n, _o in self.events:
            if (e, k, n) == (etype, kind, name):
                return t
        raise AssertionError(f"no {etype} event for {kind}/{name}; events: {self.writes(False)}")


class EventLog:
    """A sync-hook plugin that records every event."""

    def __init__(self) -> None:
        self.events: list[SyncEvent] = []

    @hookimpl
    def syncwright_sync_hook(self, event: SyncEvent) -> None:
        self.events.append(event)


class SyncEnv:
    def __init__(self, cluster: Any, tmp: Path) -> None:
        self.cluster = cluster
        self.tmp = tmp
        self.ns = f"s-{uuid.uuid4().hex[:8]}"
        self.client = Client(ClusterConfig(str(cluster.kubeconfig), cluster.context))
        self.recorder = Recorder(cluster.sim, {self.ns})
        self.store = FileStore(tmp / "state")
        self.log = EventLog()
        self.hooks = Hooks.load(extra_plugins=[self.log])
        self.name = f"app-{self.ns}"

    def create_ns(self) -> None:
        self.client.request("POST", "/api/v1/namespaces",
                            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}})

    def app(self, **spec: Any) -> Any:
        doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": self.name},
               "spec": {"project": "default", "source": {"repoURL": str(self.tmp), "path": "."},
                        "destination": {"server": "https://kubernetes.default.svc", "namespace": self.ns},
                        **spec}}
        return parse_application(doc, "test")

    def engine(self, app: Any = None, hooks: Hooks | None = None, **kw: Any) -> SyncEngine:
        return SyncEngine(app or self.app(), self.client, hooks or self.hooks, store=self.store, **kw)

    def sync(self, objs: list[dict[str, Any]], app: Any = None, **req: Any) -> OperationState:
        req.setdefault("timeout", 30)
        return self.engine(app).run(copy.deepcopy(objs), SyncRequest(**req))

    def get(self, path: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.request("GET", path))
        except Exception:  # noqa: BLE001
            return None


@pytest.fixture
def senv(kube_cluster: Any, tmp_path: Path) -> Iterator[SyncEnv]:
    env = SyncEnv(kube_cluster, tmp_path)
    yield env
    env.recorder.close()


@pytest.fixture
def fresh_senv(fresh_kubesim: Any, tmp_path: Path) -> SyncEnv:
    """A SyncEnv on a kubesim of the test's own (for fault injection)."""
    return SyncEnv(fresh_kubesim, tmp_path)


def cm(name: str, wave: int | None = None, **ann: str) -> dict[str, Any]:
    annotations = dict(ann)
    if wave is not None:
        annotations["argocd.argoproj.io/sync-wave"] = str(wave)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "annotations": annotations},
            "data": {"k": name}}


def job(name: str, hook: str | None = None, *, fail: bool = False, duration: str = "", wave: int | None = None,
        policy: str = "", generate: bool = False) -> dict[str, Any]:
    ann: dict[str, str] = {}
    if hook:
        ann["argocd.argoproj.io/hook"] = hook
    if policy:
        ann["argocd.argoproj.io/hook-delete-policy"] = policy
    if wave is not None:
        ann["argocd.argoproj.io/sync-wave"] = str(wave)
    pod_ann: dict[str, str] = {}
    if fail:
        pod_ann["kubesim.dev/fail"] = "true"
    if duration:
        pod_ann["kubesim.dev/duration"] = duration
    meta: dict[str, Any] = {"annotations": ann}
    meta["generateName" if generate else "name"] = name
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": {"backoffLimit": 0, "template": {
                "metadata": {"annotations": pod_ann},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}


def deployment(name: str, wave: int | None = None, replicas: int = 1, image: str = "nginx") -> dict[str, Any]:
    ann = {"argocd.argoproj.io/sync-wave": str(wave)} if wave is not None else {}
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "annotations": ann},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


@pytest.fixture
def make() -> Any:
    """The object builders, so test modules need no imports from this conftest."""

    class Make:
        configmap = staticmethod(cm)
        job = staticmethod(job)
        deployment = staticmethod(deployment)

    return Make
