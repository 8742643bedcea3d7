"""Destination clusters: resolved by ``server`` URL or ``name``, one live cache each.

Local mode registers one cluster per kubeconfig context (name = context
name, server = its cluster's URL); ``https://kubernetes.default.svc`` and an
empty destination mean the current context (Argo CD's ``in-cluster``).
In-cluster mode reads Secrets in Argo CD's cluster-secret format (label
``argocd.argoproj.io/secret-type: cluster``; ``data.name``, ``data.server``,
``data.config`` = JSON with ``bearerToken`` and ``tlsClientConfig``); each is
turned into a private kubeconfig file (mode 0600) so the one client code path
is used. A cluster's cache is started on first use and shared by every app
that deploys there.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..cluster.cache import ClusterCache, settings_from_env
from ..cluster.client import Client, ClusterConfig, ClusterError
from ..errors import SyncwrightError

IN_CLUSTER_URL = "https://kubernetes.default.svc"
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"


class ClusterNotFound(SyncwrightError):
    """An app names a destination no registered cluster matches."""


@dataclass
class Cluster:
    name: str
    server: str
    config: ClusterConfig
    _client: Client | None = None
    _cache: ClusterCache | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _start: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = Client(self.config)
            return self._client

    def cache(self, listener: Callable[[str, dict[str, Any]], None] | None = None,
              timeout: float = 60.0) -> ClusterCache:
        """The started live cache of this cluster (list+watch of every type)."""
        with self._start:  # one start at a time; the others wait for it
            if self._cache is not None:
                return self._cache
            cache = ClusterCache(self.client, **settings_from_env())
            if listener is not None:
                cache.add_listener(listener)
            try:
                cache.start(timeout)
            except ClusterError:
                cache.stop()
                raise
            self._cache = cache
            return cache

    def stop(self) -> None:
        with self._start:
            cache, self._cache = self._cache, None
        if cache is not None:
            cache.stop()


def _kubeconfig_docs(kubeconfig: str | None) -> list[tuple[str, dict[str, Any]]]:
    paths = (kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")).split(os.pathsep)
    out = []
    for p in paths:
        if not p:
            continue
        try:
            doc = yaml.safe_load(Path(p).expanduser().read_text()) or {}
        except FileNotFoundError:
            continue
        except (OSError, yaml.YAMLError) as e:
            raise SyncwrightError(f"cannot read kubeconfig: {e}", context=p) from None
        if isinstance(doc, dict):
            out.append((p, doc))
    return out


class Clusters:
    """The registered clusters and the lookup of an app's destination."""

    def __init__(self) -> None:
        self.by_name: dict[str, Cluster] = {}
        self.default: Cluster | None = None
        self._tmp: list[str] = []

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str | None, context: str | None) -> Clusters:
        """One cluster per context; ``context`` (else current-context) is the default one."""
        reg = cls()
        docs = _kubeconfig_docs(kubeconfig)
        current = context
        for path, doc in docs:
            current = current or doc.get("current-context")
            servers = {c.get("name"): (c.get("cluster") or {}).get("server", "") for c in doc.get("clusters") or []}
            for ctx in doc.get("contexts") or []:
                name = ctx.get("name")
                if not name or name in reg.by_name:
                    continue
                server = servers.get((ctx.get("context") or {}).get("cluster"), "")
                reg.by_name[name] = Cluster(name, server, ClusterConfig(path, name))
        if current and current in reg.by_name:
            reg.default = reg.by_name[current]
        elif not docs:
            reg.default = Cluster("in-cluster", IN_CLUSTER_URL, ClusterConfig(None, None))  # service account
            reg.by_name["in-cluster"] = reg.default
        elif reg.by_name:
            reg.default = next(iter(reg.by_name.values()))
        return reg

    def add_secret(self, secret: dict[str, Any]) -> Cluster:
        """Register a cluster from an Argo CD cluster Secret (data base64-encoded)."""
        meta = secret.get("metadata") or {}
        where = f"cluster secret {meta.get('namespace', '')}/{meta.get('name', '')}"
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        data.update(secret.get("stringData") or {})
        server, name = data.get("server", ""), data.get("name") or data.get("server", "")
        if not server:
            raise SyncwrightError("data.server is missing", context=where)
        try:
            config = json.loads(data.get("config") or "{}")
        except ValueError:
            raise SyncwrightError("data.config is not JSON", context=where) from None
        tls = config.get("tlsClientConfig") or {}
        cluster_entry: dict[str, Any] = {"server": server}
        if tls.get("caData"):
            cluster_entry["certificate-authority-data"] = tls["caData"]
        if tls.get("insecure"):
            cluster_entry["insecure-skip-tls-verify"] = True
        user: dict[str, Any] = {}
        if config.get("bearerToken"):
            user["token"] = config["bearerToken"]
        if tls.get("certData") and tls.get("keyData"):
            user["client-certificate-data"], user["client-key-data"] = tls["certData"], tls["keyData"]
        kc = {"apiVersion": "v1", "kind": "Config", "current-context": name,
              "clusters": [{"name": name, "cluster": cluster_entry}], "users": [{"name": name, "user": user}],
              "contexts": [{"name": name, "context": {"cluster": name, "user": name}}]}
        fd, path = tempfile.mkstemp(prefix="sw-cluster-", suffix=".kubeconfig")  # mode 0600
        with os.fdopen(fd, "w") as f:
            f.write(yaml.safe_dump(kc))
        self._tmp.append(path)
        cluster = Cluster(name, server, ClusterConfig(path, name))
        old = self.by_name.get(name)
        if old is not None:
            old.stop()
        self.by_name[name] = cluster
        return cluster

    def resolve(self, server: str, name: str) -> Cluster:
        """The cluster of a destination: by name, else by server URL (in-cluster URL → default)."""
        if name:
            found = self.by_name.get(name)
            if found is None:
                raise ClusterNotFound(f"there are no clusters with this name: {name}")
            return found
        if not server or server == IN_CLUSTER_URL:
            if self.default is None:
                raise ClusterNotFound("no default cluster (no kubeconfig context and not in a cluster)")
            return self.default
        norm = server.rstrip("/")
        if self.default is not None and self.default.server.rstrip("/") == norm:
            return self.default
        for c in self.by_name.values():
            if c.server.rstrip("/") == norm:
                return c
        raise ClusterNotFound(f"there are no clusters with this URL: {server}")

    def all(self) -> list[Cluster]:
        return list(self.by_name.values())

    def stop(self) -> None:
        for c in self.by_name.values():
            c.stop()
        for p in self._tmp:
            try:
                os.unlink(p)
            except OSError:
                pass
