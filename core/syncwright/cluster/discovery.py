"""API discovery: which kinds the cluster serves, at which version, with which scope."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .client import Client, ClusterError


@dataclass(frozen=True)
class APIResource:
    group: str
    version: str
    kind: str
    name: str  # plural, the URL segment
    namespaced: bool
    verbs: tuple[str, ...]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.name}"
        if name:
            base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
        return base


class Discovery:
    """The cluster's served kinds (preferred version per group), cached until refreshed."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._by_gk: dict[tuple[str, str], APIResource] = {}
        self._by_gvk: dict[tuple[str, str, str], APIResource] = {}
        self.server_version: dict[str, Any] = {}
        self.loaded = False

    def refresh(self) -> None:
        """Re-read discovery (call when a CRD appears or disappears)."""
        by_gk: dict[tuple[str, str], APIResource] = {}
        by_gvk: dict[tuple[str, str, str], APIResource] = {}
        group_versions: list[tuple[str, str, bool]] = []
        core = self.client.request("GET", "/api", what="discovery /api")
        for v in core.get("versions", []):
            group_versions.append(("", v, True))
        groups = self.client.request("GET", "/apis", what="discovery /apis")
        for g in groups.get("groups", []):
            preferred = (g.get("preferredVersion") or {}).get("version")
            for v in g.get("versions", []):
                group_versions.append((g["name"], v["version"], v["version"] == preferred))
        for group, version, preferred in group_versions:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                doc = self.client.request("GET", path, what=f"discovery {path}")
            except ClusterError as e:
                if e.status == 404:  # a group-version removed between the two calls
                    continue
                raise
            for r in doc.get("resources", []):
                if "/" in r["name"]:
                    continue  # subresources
                res = APIResource(group, version, r["kind"], r["name"], bool(r.get("namespaced")),
                                  tuple(r.get("verbs") or ()))
                by_gvk[(group, version, r["kind"])] = res
                if preferred or (group, r["kind"]) not in by_gk:
                    by_gk[(group, r["kind"])] = res
        with self._lock:
            self._by_gk, self._by_gvk, self.loaded = by_gk, by_gvk, True
        try:
            self.server_version = self.client.request("GET", "/version", what="discovery /version")
        except ClusterError:
            self.server_version = {}

    def ensure(self) -> None:
        if not self.loaded:
            self.refresh()

    def resources(self) -> list[APIResource]:
        self.ensure()
        return list(self._by_gk.values())

    def for_kind(self, group: str, kind: str) -> APIResource | None:
        self.ensure()
        return self._by_gk.get((group, kind))

    def for_object(self, obj: dict[str, Any]) -> APIResource | None:
        """The API resource for an object's apiVersion and kind (refreshing once if unknown)."""
        api_version = str(obj.get("apiVersion", ""))
        group, _, version = api_version.rpartition("/")
        kind = str(obj.get("kind", ""))
        self.ensure()
        res = self._by_gvk.get((group, version, kind))
        if res is None:
            self.refresh()
            res = self._by_gvk.get((group, version, kind))
        return res

    def api_versions(self) -> list[str]:
        self.ensure()
        return sorted({r.api_version for r in self._by_gvk.values()})

    def kube_version(self) -> str:
        """``major.minor.0`` as Argo CD gives tools (``KUBE_VERSION``)."""
        major = str(self.server_version.get("major", "")).rstrip("+")
        minor = str(self.server_version.get("minor", "")).rstrip("+")
        return f"{major}.{minor}.0" if major and minor else ""
