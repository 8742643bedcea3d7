"""What ``syncwright app ...`` reads and asks, from wherever the controller keeps its state.

Three readers give the same normalized view of an app (``name, project,
cluster, server, namespace, sources, syncPolicy, sync, health, conditions,
resources, reconciledAt, operation, history``):

- ``LocalReader``: the SQLite store of a local-mode controller (requests are
  rows the controller picks up within its poll interval);
- ``CrdReader``: the Application resources of an in-cluster controller
  (requests are the ``operation`` field and the refresh annotation, as Argo CD);
- ``RemoteReader``: the HTTP API (``server/openapi.yaml``) with a bearer token.
"""

from __future__ import annotations

from typing import Any

from ..errors import SyncwrightError
from ..sync.operation import request_terminate


class NotFoundError(SyncwrightError):
    """No such application."""


def _history_dicts(entries: list[Any]) -> list[dict[str, Any]]:
    return [{"id": e.id, "revision": e.revision, "deployedAt": e.deployed_at, "startedAt": e.started_at,
             "sources": list(e.sources), "operationId": e.operation_id} for e in entries]


class LocalReader:
    def __init__(self, store: Any) -> None:
        self.store = store

    def apps(self) -> list[dict[str, Any]]:
        return [self._view(name, data) for name, data in self.store.comparisons().items()]

    def app(self, name: str) -> dict[str, Any]:
        data = self.store.comparison(name)
        if data is None:
            raise NotFoundError(f"application {name!r} not found in {self.store.path} (is the controller running "
                                "with this state file, and has it seen the app?)")
        view = self._view(name, data)
        view["history"] = self.history(name)
        return view

    def _view(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        op = self.store.load(name)
        return {**data, "name": name, "operation": op.to_dict() if op is not None else None}

    def history(self, name: str) -> list[dict[str, Any]]:
        return _history_dicts(self.store.history(name))

    def operation(self, name: str) -> dict[str, Any] | None:
        op = self.store.load(name)
        return op.to_dict() if op is not None else None

    def request(self, name: str, kind: str, data: dict[str, Any] | None = None) -> None:
        self.app(name)
        self.store.request(name, kind, data)

    def terminate(self, name: str) -> bool:
        return request_terminate(self.store, name) is not None


class CrdReader:
    """Application custom resources of one namespace (in-cluster mode)."""

    def __init__(self, client: Any, namespace: str) -> None:
        from .crds import GROUP, VERSION

        self.client, self.namespace = client, namespace
        self.base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/applications"

    def _get(self, name: str) -> dict[str, Any]:
        from ..cluster.client import ClusterError

        try:
            obj: dict[str, Any] = self.client.request("GET", f"{self.base}/{name}", what=f"get application {name}")
            return obj
        except ClusterError as e:
            if e.status == 404:
                raise NotFoundError(f"application {name!r} not found in namespace {self.namespace}") from None
            raise

    @staticmethod
    def _view(obj: dict[str, Any]) -> dict[str, Any]:
        from .status import spec_facts

        status = obj.get("status") or {}
        spec = obj.get("spec") or {}
        dest = spec.get("destination") or {}
        facts = spec_facts(None, obj, dest.get("name", ""), dest.get("server", ""))
        auto = (spec.get("syncPolicy") or {}).get("automated")
        if isinstance(auto, dict) and auto.get("enabled") is not False:
            extras = [x for x, k in (("Prune", "prune"), ("SelfHeal", "selfHeal")) if auto.get(k)]
            facts["syncPolicy"] = f"Automated ({', '.join(extras)})" if extras else "Automated"
        facts["project"] = spec.get("project") or "default"
        return {**facts, "name": obj["metadata"]["name"],
                "sync": status.get("sync") or {"status": "Unknown", "revision": ""},
                "health": status.get("health") or {"status": "Unknown", "message": ""},
                "conditions": status.get("conditions") or [], "resources": status.get("resources") or [],
                "reconciledAt": status.get("reconciledAt", ""), "operation": status.get("operationState"),
                "history": status.get("history") or []}

    def apps(self) -> list[dict[str, Any]]:
        data = self.client.request("GET", self.base, what="list applications")
        return sorted((self._view(o) for o in data.get("items") or []), key=lambda v: v["name"])

    def app(self, name: str) -> dict[str, Any]:
        view = self._view(self._get(name))
        view["history"] = self.history(name)
        return view

    def history(self, name: str) -> list[dict[str, Any]]:
        items = (self._get(name).get("status") or {}).get("history") or []
        return [{"id": h.get("id"), "revision": h.get("revision", ""), "deployedAt": h.get("deployed_at", ""),
                 "startedAt": h.get("started_at", ""), "sources": h.get("sources") or [],
                 "operationId": h.get("operation_id", "")} for h in items]

    def operation(self, name: str) -> dict[str, Any] | None:
        op = (self._get(name).get("status") or {}).get("operationState")
        return dict(op) if isinstance(op, dict) else None

    def _patch(self, name: str, body: dict[str, Any], sub: str = "") -> None:
        path = f"{self.base}/{name}" + (f"/{sub}" if sub else "")
        self.client.request("PATCH", path, body=body, content_type="application/merge-patch+json",
                            what=f"update application {name}")

    def request(self, name: str, kind: str, data: dict[str, Any] | None = None) -> None:
        from .incluster import REFRESH_ANNOTATION

        self._get(name)
        data = data or {}
        if kind in ("refresh", "hard-refresh"):
            value = "hard" if kind == "hard-refresh" else "normal"
            self._patch(name, {"metadata": {"annotations": {REFRESH_ANNOTATION: value}}})
        elif kind == "sync":
            self._patch(name, {"operation": {"sync": {"prune": bool(data.get("prune")),
                                                      "dryRun": bool(data.get("dryRun"))},
                                             "initiatedBy": {"username": "syncwright-cli"}}})
        elif kind == "rollback":
            self._patch(name, {"operation": {"rollback": {"id": data.get("id")},
                                             "sync": {"prune": bool(data.get("prune"))}}})

    def terminate(self, name: str) -> bool:
        op = self.operation(name)
        if not op or op.get("phase") != "Running":
            return False
        self._patch(name, {"status": {"operationState": {"phase": "Terminating"}}}, "status")
        return True


class RemoteReader:
    """The controller's HTTP API (routes of ``server/openapi.yaml``)."""

    def __init__(self, url: str, token: str | None, timeout: float = 30.0) -> None:
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
              ok: tuple[int, ...] = (200, 202)) -> Any:
        import requests

        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            resp = requests.request(method, self.url + path, json=body, params=params, headers=headers,
                                    timeout=self.timeout)
        except requests.RequestException as e:
            raise SyncwrightError(f"cannot reach the syncwright API: {e}", context=self.url) from None
        if resp.status_code == 404:
            raise NotFoundError(_error_text(resp), context=self.url)
        if resp.status_code not in ok:
            raise SyncwrightError(f"{method} {path}: HTTP {resp.status_code}: {_error_text(resp)}", context=self.url)
        return resp.json() if resp.content else None

    @staticmethod
    def _summary(s: dict[str, Any]) -> dict[str, Any]:
        return {"name": s.get("name", ""), "project": s.get("project", ""), "server": s.get("server", ""),
                "cluster": s.get("server", ""), "namespace": s.get("namespace", ""),
                "sources": [{"repoURL": s.get("repoUrl", ""), "path": s.get("path", ""),
                             "targetRevision": s.get("targetRevision", "")}],
                "syncPolicy": s.get("syncPolicy", ""),
                "sync": {"status": s.get("syncStatus", "Unknown"), "revision": s.get("revision", "")},
                "health": {"status": s.get("healthStatus", "Unknown"), "message": ""},
                "conditions": [{"type": c.get("type"), "message": c.get("message"),
                                "lastTransitionTime": c.get("lastTransition", "")} for c in s.get("conditions") or []]}

    def apps(self) -> list[dict[str, Any]]:
        return [self._summary(s) for s in (self._call("GET", "/api/v1/applications") or {}).get("items") or []]

    def app(self, name: str) -> dict[str, Any]:
        d = self._call("GET", f"/api/v1/applications/{name}")
        view = self._summary(d.get("summary") or {})
        view["health"]["message"] = d.get("healthMessage", "")
        view.update(sources=d.get("sources") or view["sources"], resources=d.get("resources") or [],
                    operation=d.get("operation"), history=d.get("history") or [],
                    reconciledAt=d.get("reconciledAt", ""))
        return view

    def history(self, name: str) -> list[dict[str, Any]]:
        return list((self._call("GET", f"/api/v1/applications/{name}/history") or {}).get("items") or [])

    def operation(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self._call("GET", f"/api/v1/applications/{name}/operation"))
        except NotFoundError:
            return None

    def diff(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/api/v1/applications/{name}/diff"))

    def request(self, name: str, kind: str, data: dict[str, Any] | None = None) -> None:
        data = data or {}
        if kind in ("refresh", "hard-refresh"):
            self._call("POST", f"/api/v1/applications/{name}/refresh", {"hard": kind == "hard-refresh"})
        elif kind == "sync":
            self._call("POST", f"/api/v1/applications/{name}/sync", {k: v for k, v in data.items() if v is not None})
        elif kind == "rollback":
            self._call("POST", f"/api/v1/applications/{name}/rollback", data)

    def terminate(self, name: str) -> bool:
        try:
            self._call("DELETE", f"/api/v1/applications/{name}/operation", ok=(200, 202))
        except SyncwrightError as e:
            if "HTTP 409" in str(e):
                return False
            raise
        return True


def _error_text(resp: Any) -> str:
    try:
        return str(resp.json().get("error") or resp.text)
    except (ValueError, AttributeError):
        return str(resp.text)[:300]


__all__ = ["LocalReader", "CrdReader", "RemoteReader", "NotFoundError"]
