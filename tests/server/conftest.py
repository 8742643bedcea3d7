"""Fixtures for the server tests: an in-memory backend and a real HTTP server on an ephemeral port."""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from syncwright.server.api import build_app
from syncwright.server.backend import (
    AppDetail, AppDiff, AppSummary, Condition, Conflict, HistoryItem, Invalid, NotFound, OperationInfo, PushEvent,
    ResourceDiffItem, ResourceStatus, SyncOptions, TreeNode,
)
from syncwright.server.http import Server
from syncwright.server.webhooks import app_matches

SECRET_VALUE = base64.b64encode(b"hunter2-very-secret").decode()
LIVE_SECRET_VALUE = base64.b64encode(b"old-password-leak").decode()


def secret(value: str, annotated: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "db", "namespace": "demo"}
    if annotated:
        import json

        last = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"password": value}}
        meta["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(last)}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {"password": value}}


@dataclass
class FakeApp:
    name: str
    repo: str
    revision: str = "HEAD"
    sync: str = "OutOfSync"
    health: str = "Healthy"
    history: list[HistoryItem] = field(default_factory=list)
    operation: OperationInfo | None = None


class FakeBackend:
    """The Backend protocol over a dict; records every call so tests can assert on effects."""

    def __init__(self) -> None:
        self.apps = {
            "guestbook": FakeApp("guestbook", "https://github.com/example/guestbook.git",
                                 history=[HistoryItem(1, "a" * 40, "2026-01-01T00:00:00Z")]),
            "helm-app": FakeApp("helm-app", "git@gitlab.com:Example/Charts.git", revision="main", sync="Synced"),
            "tagged": FakeApp("tagged", "https://bitbucket.org/example/infra", revision="v1.*"),
        }
        self.refreshed: list[tuple[str, bool]] = []
        self.synced: list[tuple[str, SyncOptions]] = []
        self.terminated: list[str] = []
        self.is_ready = True
        self.lock = threading.Lock()

    def _app(self, name: str) -> FakeApp:
        if name not in self.apps:
            raise NotFound(f"application {name!r} not found")
        return self.apps[name]

    def ready(self) -> tuple[bool, str]:
        return self.is_ready, "" if self.is_ready else "cluster cache not synced"

    def _summary(self, a: FakeApp) -> AppSummary:
        return AppSummary(a.name, "default", "https://kubernetes.default.svc", "demo", a.repo, "guestbook",
                          a.revision, a.sync, a.health, "Manual", "a" * 40,
                          (Condition("SharedResourceWarning", "shared"),) if a.name == "tagged" else ())

    def list_apps(self) -> list[AppSummary]:
        return [self._summary(a) for a in self.apps.values()]

    def get_app(self, name: str) -> AppDetail | None:
        a = self.apps.get(name)
        if a is None:
            return None
        return AppDetail(
            self._summary(a), "", ({"repoURL": a.repo, "targetRevision": a.revision},),
            (ResourceStatus("", "Secret", "demo", "db", "v1", "OutOfSync", "Healthy"),
             ResourceStatus("apps", "Deployment", "demo", "web", "v1", "Synced", "Healthy")),
            (TreeNode("apps", "Deployment", "demo", "web", "u1"), TreeNode("apps", "ReplicaSet", "demo", "web-1", "u2", ("u1",))),
            a.operation, tuple(a.history), "2026-01-01T00:00:00Z")

    def diff(self, name: str) -> AppDiff:
        a = self._app(name)
        return AppDiff(a.name, a.sync, (
            ResourceDiffItem("", "Secret", "demo", "db", "OutOfSync", secret(LIVE_SECRET_VALUE, True), secret(SECRET_VALUE)),
            ResourceDiffItem("apps", "Deployment", "demo", "web", "Synced", {"kind": "Deployment"}, {"kind": "Deployment"}),
        ))

    def manifests(self, name: str, source: str = "git") -> list[dict[str, Any]]:
        self._app(name)
        obj = secret(SECRET_VALUE if source == "git" else LIVE_SECRET_VALUE, annotated=source == "live")
        return [obj, {"apiVersion": "v1", "kind": "List", "items": [secret(SECRET_VALUE)]},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "visible"}}]

    def sync(self, name: str, options: SyncOptions) -> str:
        a = self._app(name)
        if a.operation is not None and a.operation.phase == "Running":
            raise Conflict("another operation is running")
        with self.lock:
            self.synced.append((name, options))
        a.operation = OperationInfo(f"op-{len(self.synced)}", "sync", "Running", revision=options.revision)
        return a.operation.id

    def refresh(self, name: str, hard: bool = False) -> None:
        self._app(name)
        with self.lock:
            self.refreshed.append((name, hard))

    def rollback(self, name: str, history_id: int, *, prune: bool = False, dry_run: bool = False) -> str:
        a = self._app(name)
        if not any(h.id == history_id for h in a.history):
            raise Invalid(f"no history entry with id {history_id}")
        return self.sync(name, SyncOptions(prune=prune, dry_run=dry_run))

    def terminate(self, name: str) -> bool:
        a = self._app(name)
        if a.operation is None or a.operation.phase != "Running":
            return False
        self.terminated.append(name)
        return True

    def apps_for_push(self, push: PushEvent) -> list[str]:
        return [a.name for a in self.apps.values() if app_matches([(a.repo, a.revision, None)], push)]


WEBHOOK_SECRETS = {"github": "gh-secret", "gitlab": "gl-secret", "gitea": "gitea-secret",
                   "bitbucket": "bb-secret", "bitbucket-server": "bbs-secret"}


@dataclass
class Running:
    url: str
    token: str
    backend: FakeBackend
    session: requests.Session
    server_app: Any = None
    SECRET_VALUE: str = SECRET_VALUE
    LIVE_SECRET_VALUE: str = LIVE_SECRET_VALUE
    WEBHOOK_SECRETS: dict[str, str] = field(default_factory=lambda: dict(WEBHOOK_SECRETS))

    def get(self, path: str, auth: bool = True, **kw: Any) -> requests.Response:
        return self.session.get(self.url + path, headers=self._h(auth, kw), timeout=10, **kw)

    def post(self, path: str, auth: bool = True, **kw: Any) -> requests.Response:
        return self.session.post(self.url + path, headers=self._h(auth, kw), timeout=10, **kw)

    def delete(self, path: str, auth: bool = True, **kw: Any) -> requests.Response:
        return self.session.delete(self.url + path, headers=self._h(auth, kw), timeout=10, **kw)

    def _h(self, auth: bool, kw: dict[str, Any]) -> dict[str, str]:
        headers = dict(kw.pop("headers", None) or {})
        if auth:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers


@pytest.fixture
def api() -> Iterator[Running]:
    backend = FakeBackend()
    token = secrets.token_hex(24)
    app = build_app(backend, [token], WEBHOOK_SECRETS, webhook_max_body=64 * 1024)
    server = Server(app).start()
    with requests.Session() as s:
        try:
            yield Running(server.url, token, backend, s, server_app=app)
        finally:
            server.stop()
