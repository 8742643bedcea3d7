"""The API's routes: apps (list/get/tree/diff/manifests/history/operation), actions, webhooks, probes.

Every route is listed in ``openapi.yaml`` (a test keeps the two in step).
Every object that leaves through the API goes through :func:`scrub`, which
masks the values of any Kubernetes Secret found anywhere in the response
(Argo CD leaked Secret data through diff and last-applied annotations:
GHSA-3v3m-wc6v-x4x3, CVE-2023-40029); diffs are rendered here from masked
objects, so the backend cannot leak through the diff text either.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from ..diff import mask_secrets
from ..diff.mask import is_secret
from . import metrics, webhooks
from .backend import Backend, BackendError, PushEvent, SyncOptions
from .http import App, Auth, HTTPError, Request, Response, Router, json_response

log = logging.getLogger("syncwright.server")

WEBHOOK_MAX_BODY = 1024 * 1024  # GitHub caps payloads at 25 MB; pushes are far smaller
APPS = "/api/v1/applications"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def to_json(obj: Any) -> Any:
    """Dataclasses → dicts with camelCase keys; objects (dicts from the cluster) are kept as they are."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {camel(f.name): to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    return obj


def scrub(obj: Any) -> Any:
    """``obj`` with every Secret (at any depth) masked, Argo CD style."""
    if isinstance(obj, dict):
        if is_secret(obj):
            return obj if _already_masked(obj) else mask_secrets(obj)[0]
        return {k: scrub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [scrub(v) for v in obj]
    return obj


def _already_masked(obj: dict[str, Any]) -> bool:
    """Masked by a joint ``mask_secrets`` call already: every value, the last-applied copy's too, is ``+``s."""
    def plus_only(o: Any) -> bool:
        values = [v for f in ("data", "stringData") for v in ((o or {}).get(f) or {}).values()]
        return all(isinstance(v, str) and v and not v.strip("+") for v in values)

    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    last = annotations.get("kubectl.kubernetes.io/last-applied-configuration")
    if isinstance(last, str) and last.strip("+"):
        try:
            parsed = json.loads(last)
        except ValueError:
            return False
        if not isinstance(parsed, dict) or not plus_only(parsed):
            return False
    return plus_only(obj)


def _dump(obj: dict[str, Any] | None) -> str:
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=True) if obj is not None else ""


def unified(key: str, live: dict[str, Any] | None, target: dict[str, Any] | None) -> str:
    lines = difflib.unified_diff(_dump(live).splitlines(True), _dump(target).splitlines(True),
                                 f"live/{key}", f"desired/{key}", n=3)
    return "".join(lines)


def openapi_text() -> str:
    return resources.files(__package__).joinpath("openapi.yaml").read_text(encoding="utf-8")


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no", ""):
        return value.lower() in ("true", "1", "yes")
    raise HTTPError(400, f"{what} must be a boolean, got {value!r}")


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise HTTPError(400, f"{what} must be a list of strings")
    return tuple(value)


class Api:
    """The handlers, bound to one backend and one set of webhook secrets."""

    def __init__(self, backend: Backend, webhook_secrets: Mapping[str, str] | None = None,
                 webhook_max_body: int = WEBHOOK_MAX_BODY) -> None:
        self.backend = backend
        self.webhook_secrets = dict(webhook_secrets or {})
        self.webhook_max_body = webhook_max_body

    def router(self) -> Router:
        r = Router()
        r.add("GET", "/healthz", self.healthz, public=True)
        r.add("GET", "/readyz", self.readyz, public=True)
        r.add("GET", "/metrics", self.metrics, public=True)
        r.add("GET", "/openapi.yaml", self.openapi, public=True)
        r.add("POST", "/api/webhook", self.webhook, public=True, max_body=self.webhook_max_body)
        r.add("GET", APPS, self.list_apps)
        r.add("GET", APPS + "/{name}", self.get_app)
        r.add("GET", APPS + "/{name}/resource-tree", self.resource_tree)
        r.add("GET", APPS + "/{name}/diff", self.diff)
        r.add("GET", APPS + "/{name}/manifests", self.manifests)
        r.add("GET", APPS + "/{name}/history", self.history)
        r.add("GET", APPS + "/{name}/operation", self.operation)
        r.add("DELETE", APPS + "/{name}/operation", self.terminate)
        r.add("POST", APPS + "/{name}/sync", self.sync)
        r.add("POST", APPS + "/{name}/refresh", self.refresh)
        r.add("POST", APPS + "/{name}/rollback", self.rollback)
        return r

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BackendError as e:
            raise HTTPError(e.status, str(e)) from None

    def _detail(self, name: str) -> Any:
        detail = self._call(self.backend.get_app, name)
        if detail is None:
            raise HTTPError(404, f"application {name!r} not found")
        return detail

    # -- probes, metrics, spec -------------------------------------------------------------
    def healthz(self, req: Request) -> Response:
        return json_response({"status": "ok"})

    def readyz(self, req: Request) -> Response:
        try:
            ready, reason = self.backend.ready()
        except Exception as e:  # noqa: BLE001 - a failing readiness check means not ready
            ready, reason = False, f"{type(e).__name__}: {e}"
        return json_response({"status": "ready" if ready else "not ready", "reason": reason}, 200 if ready else 503)

    def metrics(self, req: Request) -> Response:
        body, ctype = metrics.exposition()
        return Response(200, body, ctype)

    def openapi(self, req: Request) -> Response:
        return Response(200, openapi_text().encode(), "application/yaml")

    # -- reads -------------------------------------------------------------------------------
    def list_apps(self, req: Request) -> Response:
        apps = self._call(self.backend.list_apps)
        selector = req.query.get("name")
        if selector:
            apps = [a for a in apps if a.name == selector]
        project = req.query.get("project")
        if project:
            apps = [a for a in apps if a.project == project]
        return json_response({"items": scrub(to_json(sorted(apps, key=lambda a: a.name)))})

    def get_app(self, req: Request) -> Response:
        name = req.params["name"]
        refresh = req.query.get("refresh", "")
        if refresh:
            if refresh not in ("normal", "hard"):
                raise HTTPError(400, f"refresh must be 'normal' or 'hard', got {refresh!r}")
            self._call(self.backend.refresh, name, refresh == "hard")
        return json_response(scrub(to_json(self._detail(name))))

    def resource_tree(self, req: Request) -> Response:
        detail = self._detail(req.params["name"])
        return json_response({"nodes": scrub(to_json(detail.tree))})

    def history(self, req: Request) -> Response:
        detail = self._detail(req.params["name"])
        return json_response({"items": scrub(to_json(detail.history))})

    def operation(self, req: Request) -> Response:
        detail = self._detail(req.params["name"])
        if detail.operation is None:
            raise HTTPError(404, f"application {req.params['name']!r} has no operation")
        return json_response(scrub(to_json(detail.operation)))

    def diff(self, req: Request) -> Response:
        result = self._call(self.backend.diff, req.params["name"])
        items = []
        for r in result.resources:
            live, target = mask_secrets(r.live, r.target)  # together: equal values stay equal
            key = "/".join(p for p in (r.group, r.kind, r.namespace, r.name) if p)
            items.append({"group": r.group, "kind": r.kind, "namespace": r.namespace, "name": r.name,
                          "status": r.status, "requiresPruning": r.requires_pruning, "hook": r.hook,
                          "live": scrub(live), "target": scrub(target),
                          "diff": unified(key, scrub(live), scrub(target)) if r.status == "OutOfSync" else ""})
        return json_response({"name": result.name, "syncStatus": result.sync_status, "resources": items})

    def manifests(self, req: Request) -> Response:
        source = req.query.get("source", "git")
        if source not in ("git", "live"):
            raise HTTPError(400, f"source must be 'git' or 'live', got {source!r}")
        objs = self._call(self.backend.manifests, req.params["name"], source)
        return json_response({"source": source, "items": scrub(list(objs))})

    # -- actions -----------------------------------------------------------------------------
    def sync(self, req: Request) -> Response:
        body = req.json()
        timeout = body.get("timeout")
        if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0):
            raise HTTPError(400, "timeout must be a positive number of seconds")
        revision = body.get("revision", "")
        if not isinstance(revision, str):
            raise HTTPError(400, "revision must be a string")
        options = SyncOptions(prune=_bool(body.get("prune", False), "prune"),
                              dry_run=_bool(body.get("dryRun", False), "dryRun"), revision=revision,
                              resources=_strings(body.get("resources"), "resources"),
                              sync_options=_strings(body.get("syncOptions"), "syncOptions"),
                              timeout=float(timeout) if timeout is not None else None)
        op_id = self._call(self.backend.sync, req.params["name"], options)
        log.info("sync requested", extra={"app": req.params["name"], "operation": op_id})
        return json_response({"operationId": op_id}, 202)

    def refresh(self, req: Request) -> Response:
        body = req.json()
        hard = _bool(body.get("hard", req.query.get("hard", False)), "hard")
        self._call(self.backend.refresh, req.params["name"], hard)
        return json_response({"refreshed": req.params["name"], "hard": hard}, 202)

    def rollback(self, req: Request) -> Response:
        body = req.json()
        hid = body.get("id")
        if not isinstance(hid, int) or isinstance(hid, bool):
            raise HTTPError(400, "rollback needs the history id as an integer: {\"id\": N}")
        op_id = self._call(self.backend.rollback, req.params["name"], hid,
                           prune=_bool(body.get("prune", False), "prune"),
                           dry_run=_bool(body.get("dryRun", False), "dryRun"))
        log.info("rollback requested", extra={"app": req.params["name"], "operation": op_id})
        return json_response({"operationId": op_id}, 202)

    def terminate(self, req: Request) -> Response:
        if not self._call(self.backend.terminate, req.params["name"]):
            raise HTTPError(409, f"application {req.params['name']!r} has no running operation")
        return json_response({"terminating": req.params["name"]}, 202)

    # -- webhooks ----------------------------------------------------------------------------
    def webhook(self, req: Request) -> Response:
        delivery = webhooks.Delivery(req.headers, req.body, req.query)
        provider = "unknown"
        try:
            provider = webhooks.detect_provider(delivery)
            provider, pushes = webhooks.handle(delivery, self.webhook_secrets)
        except webhooks.WebhookError as e:
            metrics.inc_webhook(provider, "unauthorized" if e.status == 401 else "rejected")
            log.warning("webhook refused: %s", e, extra={"provider": provider, "client": req.client})
            raise HTTPError(e.status, str(e)) from None
        refreshed: list[str] = []
        for push in pushes:
            for name in self._apps_for(push):
                if name in refreshed:
                    continue
                try:
                    self.backend.refresh(name, False)
                except BackendError as e:
                    log.warning("webhook refresh failed: %s", e, extra={"app": name})
                    continue
                refreshed.append(name)
                log.info("refresh by webhook", extra={"app": name, "revision": push.sha, "provider": provider,
                                                     "ref": push.ref})
        metrics.inc_webhook(provider, "ok" if pushes else "ignored")
        return json_response({"provider": provider, "pushes": len(pushes), "refreshed": refreshed})

    def _apps_for(self, push: PushEvent) -> list[str]:
        return list(self._call(self.backend.apps_for_push, push))


def build_app(backend: Backend, tokens: list[str], webhook_secrets: Mapping[str, str] | None = None,
              webhook_max_body: int = WEBHOOK_MAX_BODY) -> App:
    """The routed, authenticated application; serve it with ``http.Server``."""
    return App(Api(backend, webhook_secrets, webhook_max_body).router(), Auth(tokens))
