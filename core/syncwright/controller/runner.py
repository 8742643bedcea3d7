"""Wiring a controller from options: the one place the command, tests and benchmark share.

Local mode: apps from files, state in SQLite, clusters from kubeconfig
contexts. In-cluster mode: apps from custom resources in ``namespace``,
state in their status, clusters from Argo CD cluster Secrets (plus the
controller's own cluster as ``in-cluster``). Either mode can shard by
destination cluster through Leases (``lease_namespace``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cluster.client import Client, ClusterConfig
from ..errors import SyncwrightError
from ..plugins import Hooks
from .clusters import IN_CLUSTER_URL, Cluster, Clusters
from .reconcile import Controller, Settings


def pod_namespace(default: str = "syncwright") -> str:
    env = os.environ.get("SYNCWRIGHT_NAMESPACE")
    if env:
        return env
    try:
        return Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read_text().strip() or default
    except OSError:
        return default


@dataclass
class Options:
    apps: list[Path] = field(default_factory=list)
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    namespace: str = ""
    state: Path | None = None
    lease_namespace: str = ""
    lease_duration: float = 15.0
    settings: Settings = field(default_factory=Settings)


@dataclass
class Running:
    controller: Controller
    shards: Any = None
    source: Any = None

    def stop(self, release: bool = True) -> None:
        if self.shards is not None:
            self.shards.stop(release=release)
        self.controller.stop()
        stop = getattr(self.source, "stop", None)
        if stop is not None:
            stop()


def build(opts: Options, hooks: Hooks, *, on_event: Any = None, repo: Any = None) -> Running:
    """A started controller for ``opts`` (raises SyncwrightError with a clear message on bad options)."""
    from .sources import FileSource
    from .store import SqliteStore

    settings = opts.settings
    clusters = Clusters.from_kubeconfig(opts.kubeconfig, opts.context)
    source: Any
    if opts.in_cluster:
        from .incluster import CrdBackend, CrdSource

        namespace = opts.namespace or pod_namespace()
        settings.control_namespace = namespace
        control = Client(ClusterConfig(opts.kubeconfig, opts.context))
        if "in-cluster" not in clusters.by_name:
            own = Cluster("in-cluster", IN_CLUSTER_URL, ClusterConfig(opts.kubeconfig, opts.context))
            clusters.by_name["in-cluster"] = own
            clusters.default = clusters.default or own
        source = CrdSource(control, namespace, clusters)
        backend: Any = CrdBackend(control, namespace, source)
    else:
        if not opts.apps:
            raise SyncwrightError("no Applications given: pass --apps DIR (or a file), or --in-cluster")
        source = FileSource(opts.apps)
        backend = SqliteStore(opts.state)
    controller = Controller(source, clusters, backend, hooks, settings=settings, repo=repo, on_event=on_event)
    shards = None
    if opts.lease_namespace:
        from .leader import LeaseShards

        if clusters.default is None:
            raise SyncwrightError("leases need a cluster to keep them in (no kubeconfig context)")
        lease_client = Client(clusters.default.config)
        shards = LeaseShards(lease_client, opts.lease_namespace, settings.identity, controller.destination_clusters,
                             lease_duration=opts.lease_duration, on_change=controller.shards_changed,
                             busy=controller.busy)
        controller.shards = shards
    controller.start()
    if shards is not None:
        shards.start()
    return Running(controller, shards, source)
