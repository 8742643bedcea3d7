"""Simulated controllers (the kube-controller-manager and kubelet's visible effects).

Store events enqueue (controller, namespace, name) work items on a small
delayed queue; one worker thread runs them under the store lock. Each
controller can be switched off and its delay tuned, at start-up or live.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ApiError
from ..store import Event

if TYPE_CHECKING:
    from ..api import Api

Reconcile = Callable[["Api", "ControllerManager", str, str], None]

# name -> default delay (seconds) before the controller acts on a change.
DEFAULT_DELAYS: dict[str, float] = {
    "deployment": 0.0, "replicaset": 0.0, "statefulset": 0.0, "daemonset": 0.0,
    "job": 0.0, "pod": 0.2, "pvc": 0.1, "loadbalancer": 0.1, "serviceaccount": 0.0,
    "ingress": 0.1, "hpa": 0.1, "pdb": 0.1,
}
# (watched resource, controller, resources whose changes in the same namespace concern it)
_DEPENDENT_ROUTES = [
    (("policy", "poddisruptionbudgets"), "pdb", {("", "pods")}),
    (("autoscaling", "horizontalpodautoscalers"), "hpa",
     {("apps", "deployments"), ("apps", "statefulsets"), ("apps", "replicasets")}),
]
# How long a pod of a Job runs when it carries no `kubesim.dev/duration` annotation.
DEFAULT_JOB_DURATION = 0.2


class ControllerManager:
    """Delayed work queue plus the registered reconcilers."""

    def __init__(self, api: Api, delays: dict[str, float] | None = None) -> None:
        from . import misc, pods, workloads
        self.api = api
        self.delays = {**DEFAULT_DELAYS, **(delays or {})}
        self.enabled = {name: True for name in DEFAULT_DELAYS}
        self.job_duration = DEFAULT_JOB_DURATION
        self.reconcilers: dict[str, Reconcile] = {
            "deployment": workloads.reconcile_deployment,
            "replicaset": workloads.reconcile_replicaset,
            "statefulset": workloads.reconcile_statefulset,
            "daemonset": workloads.reconcile_daemonset,
            "job": pods.reconcile_job,
            "pod": pods.reconcile_pod,
            "pvc": misc.reconcile_pvc,
            "loadbalancer": misc.reconcile_loadbalancer,
            "serviceaccount": misc.reconcile_serviceaccount,
            "ingress": misc.reconcile_ingress,
            "hpa": misc.reconcile_hpa,
            "pdb": misc.reconcile_pdb,
        }
        self._routes: dict[tuple[str, str], list[str]] = {
            ("apps", "deployments"): ["deployment"],
            ("apps", "replicasets"): ["replicaset"],
            ("apps", "statefulsets"): ["statefulset"],
            ("apps", "daemonsets"): ["daemonset"],
            ("batch", "jobs"): ["job"],
            ("", "pods"): ["pod"],
            ("", "persistentvolumeclaims"): ["pvc"],
            ("", "services"): ["loadbalancer"],
            ("", "namespaces"): ["serviceaccount"],
            ("networking.k8s.io", "ingresses"): ["ingress"],
            ("autoscaling", "horizontalpodautoscalers"): ["hpa"],
            ("policy", "poddisruptionbudgets"): ["pdb"],
        }
        self._owner_routes = {"ReplicaSet": "replicaset", "Deployment": "deployment",
                              "StatefulSet": "statefulset", "DaemonSet": "daemonset",
                              "Job": "job"}
        self._heap: list[tuple[float, int, str, str, str]] = []
        self._pending: dict[tuple[str, str, str], float] = {}
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = False
        self.errors: list[str] = []
        self.finish_at: dict[tuple[str, str], float] = {}  # pod -> when it may terminate

    # --- configuration -----------------------------------------------------------

    def configure(self, *, enabled: dict[str, bool] | None = None,
                  delays: dict[str, float] | None = None,
                  job_duration: float | None = None) -> None:
        """Switch controllers on/off and change their delays (seconds)."""
        for name, on in (enabled or {}).items():
            if name not in self.enabled:
                raise KeyError(f"unknown controller {name!r}; known: {sorted(self.enabled)}")
            self.enabled[name] = bool(on)
        for name, d in (delays or {}).items():
            if name not in self.delays:
                raise KeyError(f"unknown controller {name!r}; known: {sorted(self.delays)}")
            self.delays[name] = max(0.0, float(d))
        if job_duration is not None:
            self.job_duration = max(0.0, float(job_duration))

    def configure_json(self, body: dict[str, Any]) -> None:
        self.configure(enabled=body.get("enabled"), delays=body.get("delays"),
                       job_duration=body.get("jobDuration"))

    def snapshot(self) -> dict[str, Any]:
        return {"enabled": dict(self.enabled), "delays": dict(self.delays),
                "jobDuration": self.job_duration}

    # --- queue -----------------------------------------------------------------------

    def start(self) -> None:
        self.api.store.listeners.append(self._on_event)
        with self.api.store.lock:  # objects created before the controllers started
            for key, ctls in self._routes.items():
                for ns, name, _ in self.api.store.iter(key, None):
                    for ctl in ctls:
                        self.enqueue(ctl, ns, name)
        self._thread = threading.Thread(target=self._run, daemon=True, name="kubesim-ctl")
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()

    def enqueue(self, ctl: str, ns: str, name: str, delay: float | None = None) -> None:
        if not self.enabled.get(ctl, False):
            return
        due = time.monotonic() + (self.delays[ctl] if delay is None else delay)
        key = (ctl, ns, name)
        with self._cv:
            prev = self._pending.get(key)
            if prev is not None and prev <= due:
                return
            self._pending[key] = due
            heapq.heappush(self._heap, (due, next(self._seq), ctl, ns, name))
            self._cv.notify()

    def _on_event(self, ev: Event) -> None:
        for key, ctl, sources in _DEPENDENT_ROUTES:
            if ev.key in sources and self.enabled.get(ctl):
                for _, name, _ in self.api.store.iter(key, ev.namespace):
                    self.enqueue(ctl, ev.namespace, name)
        for ctl in self._routes.get(ev.key, ()):
            if ev.type != "DELETED" or ctl != "pod":
                self.enqueue(ctl, ev.namespace, ev.name)
        for ref in ev.entry.obj["metadata"].get("ownerReferences") or ():
            owner_ctl = self._owner_routes.get(ref.get("kind", ""))
            if owner_ctl and ref.get("controller"):
                self.enqueue(owner_ctl, ev.namespace, ref.get("name", ""), delay=0.0)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cv.wait(wait)
                if self._stop:
                    return
                due, _, ctl, ns, name = heapq.heappop(self._heap)
                if self._pending.get((ctl, ns, name)) != due:
                    continue
                del self._pending[(ctl, ns, name)]
            if not self.enabled.get(ctl, False):
                continue
            try:
                with self.api.store.lock:
                    self.reconcilers[ctl](self.api, self, ns, name)
            except ApiError as e:
                # What a real controller meets too (namespace terminating, conflicts):
                # try again shortly, unless the object is gone.
                if e.code not in (403, 404):
                    self.enqueue(ctl, ns, name, delay=0.5)
            except Exception as e:  # noqa: BLE001 - a controller bug must not stop the others
                msg = f"controller {ctl} failed on {ns}/{name}: {e}"
                self.errors.append(msg)
                print(f"kubesim: {msg}", file=sys.stderr)
                traceback.print_exception(e, file=sys.stderr)

    def idle(self) -> bool:
        """True when no work is queued (tests use it to wait for quiescence)."""
        with self._cv:
            return not self._pending
