"""Scale-out: replicas share the destination clusters through ``coordination.k8s.io/v1`` Leases.

Kubernetes is the coordinator; there is no home-made consensus. Each
replica keeps a *membership* Lease of its own (``syncwright-replica-*``,
label ``syncwright.dev/lease=replica``) and competes for one *shard* Lease
per destination cluster (``syncwright-shard-<hash>``, annotation
``syncwright.dev/cluster``). A replica holds at most its fair share
(``ceil(clusters / live replicas)``) and gives extra shards back, so a new
replica gets work. Writes use the Lease's ``resourceVersion`` (optimistic
concurrency): two replicas can never both win one update.

Expiry is judged by local observation as client-go's leader election does:
a Lease whose ``resourceVersion`` has not changed for ``leaseDurationSeconds``
of *our* clock is free, so clock skew between nodes does not matter. A
replica considers a shard its own only until a third of the duration before
it could expire (``owns``), so the old holder has stopped before a new one
can start. A dead replica's shards are taken within one lease duration plus
one renew period.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ..cluster.client import Client, ClusterError

log = logging.getLogger("syncwright.controller.leader")
GROUP_PATH = "/apis/coordination.k8s.io/v1"
ROLE_LABEL = "syncwright.dev/lease"
CLUSTER_ANNOTATION = "syncwright.dev/cluster"


def _micro_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shard_lease_name(cluster: str) -> str:
    return f"syncwright-shard-{hashlib.sha256(cluster.encode()).hexdigest()[:12]}"


class LeaseShards:
    """Which destination clusters this replica may reconcile; see the module docstring."""

    def __init__(self, client: Client, namespace: str, identity: str, clusters: Callable[[], list[str]], *,
                 lease_duration: float = 15.0, renew_period: float | None = None,
                 on_change: Callable[[set[str], set[str]], None] | None = None,
                 busy: Callable[[str], bool] | None = None) -> None:
        self.client, self.namespace, self.identity = client, namespace, identity
        self.clusters = clusters
        self.duration = float(lease_duration)
        self.renew_period = renew_period if renew_period is not None else self.duration / 3
        self.on_change = on_change  # (gained, lost)
        self.busy = busy  # a shard with an operation in flight is kept until it ends
        self._held: dict[str, float] = {}  # cluster -> monotonic time of our last successful write
        self._observed: dict[str, tuple[str, float]] = {}  # lease name -> (resourceVersion, first seen)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.member_name = f"syncwright-replica-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"

    # -- public ----------------------------------------------------------------------------
    def owns(self, cluster: str) -> bool:
        with self._lock:
            renewed = self._held.get(cluster)
        return renewed is not None and time.monotonic() - renewed < self.duration * 2 / 3

    def held(self) -> set[str]:
        return {c for c in list(self._held) if self.owns(c)}

    def start(self) -> None:
        self.tick()
        self._thread = threading.Thread(target=self._loop, name="sw-leases", daemon=True)
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop renewing; ``release`` hands the shards back at once (a clean shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.renew_period + 5)
        if release:
            for cluster in list(self._held):
                self._release(cluster)
            self._delete(self.member_name)

    # -- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(self.renew_period):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - keep competing whatever happens
                log.exception("lease loop failed")

    def tick(self) -> None:
        """Renew membership and held shards, then take or give back shards toward a fair share."""
        before = self.held()
        self._acquire(self.member_name, "replica", "")
        clusters = sorted(set(self.clusters()))
        replicas = max(1, self._live_replicas())
        share = math.ceil(len(clusters) / replicas) if clusters else 0
        for cluster in list(self._held):
            if cluster not in clusters or not self._acquire(shard_lease_name(cluster), "shard", cluster):
                with self._lock:
                    self._held.pop(cluster, None)
        # prefer a stable, replica-specific order so replicas do not all race for the same shard
        order = sorted(clusters, key=lambda c: hashlib.sha256(f"{self.identity}/{c}".encode()).hexdigest())
        for cluster in order:
            if len(self._held) >= share:
                break
            if cluster not in self._held and self._acquire(shard_lease_name(cluster), "shard", cluster):
                with self._lock:
                    self._held[cluster] = time.monotonic()
        for cluster in sorted(self._held, reverse=True)[:max(0, len(self._held) - share)]:
            if self.busy is None or not self.busy(cluster):
                self._release(cluster)
        after = self.held()
        if self.on_change is not None and after != before:
            self.on_change(after - before, before - after)

    # -- lease primitives --------------------------------------------------------------------
    def _path(self, name: str = "") -> str:
        base = f"{GROUP_PATH}/namespaces/{self.namespace}/leases"
        return f"{base}/{name}" if name else base

    def _live_replicas(self) -> int:
        try:
            data = self.client.request("GET", self._path(), query={"labelSelector": f"{ROLE_LABEL}=replica"},
                                       what="list replica leases")
        except ClusterError as e:
            log.warning("cannot list replica leases: %s", e)
            return 1
        alive = 0
        for lease in data.get("items") or []:
            name = lease["metadata"]["name"]
            if name == self.member_name or not self._expired(lease):
                alive += 1
        return alive

    def _expired(self, lease: dict[str, Any]) -> bool:
        spec = lease.get("spec") or {}
        if not spec.get("holderIdentity"):
            return True
        name, rv = lease["metadata"]["name"], str(lease["metadata"].get("resourceVersion", ""))
        t = time.monotonic()
        with self._lock:
            seen = self._observed.get(name)
            if seen is None or seen[0] != rv:
                self._observed[name] = (rv, t)
                return False
        duration = float(spec.get("leaseDurationSeconds") or self.duration)
        return t - seen[1] > duration

    def _acquire(self, name: str, role: str, cluster: str) -> bool:
        """Create, renew, or take over an expired lease; True when we hold it now."""
        try:
            lease = self.client.request("GET", self._path(name), what=f"get lease {name}")
        except ClusterError as e:
            if e.status != 404:
                log.warning("lease %s: %s", name, e)
                return False
            lease = None
        stamp = _micro_now()
        started = time.monotonic()
        if lease is None:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": name, "namespace": self.namespace, "labels": {ROLE_LABEL: role},
                                 "annotations": {CLUSTER_ANNOTATION: cluster} if cluster else {}},
                    "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": int(math.ceil(self.duration)),
                             "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}}
            try:
                self.client.request("POST", self._path(), body=body, what=f"create lease {name}")
            except ClusterError as e:
                if e.status != 409:
                    log.warning("lease %s: %s", name, e)
                return False
            self._mark(cluster, started)
            return True
        spec = dict(lease.get("spec") or {})
        mine = spec.get("holderIdentity") == self.identity
        if not mine and not self._expired(lease):
            return False
        if not mine:
            spec["acquireTime"] = stamp
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update({"holderIdentity": self.identity, "renewTime": stamp,
                     "leaseDurationSeconds": int(math.ceil(self.duration))})
        lease["spec"] = spec
        try:
            self.client.request("PUT", self._path(name), body=lease, what=f"update lease {name}")
        except ClusterError as e:
            if e.status != 409:  # 409: another replica wrote first; it wins
                log.warning("lease %s: %s", name, e)
            return False
        self._mark(cluster, started)
        return True

    def _mark(self, cluster: str, at: float) -> None:
        if cluster:
            with self._lock:
                self._held[cluster] = at

    def _release(self, cluster: str) -> None:
        with self._lock:
            self._held.pop(cluster, None)
        name = shard_lease_name(cluster)
        try:
            lease = self.client.request("GET", self._path(name), what=f"get lease {name}")
            if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = None
                self.client.request("PUT", self._path(name), body=lease, what=f"release lease {name}")
        except ClusterError as e:
            log.warning("cannot release lease %s: %s", name, e)

    def _delete(self, name: str) -> None:
        try:
            self.client.request("DELETE", self._path(name), what=f"delete lease {name}")
        except ClusterError:
            pass
