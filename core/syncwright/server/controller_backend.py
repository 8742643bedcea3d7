"""The ``Backend`` over a running ``Controller``: what ``syncwright controller --listen`` serves.

Reads come from the controller's memory (the status each refresh records)
and its live cluster caches, so a ``get`` or ``list`` makes no API call and
runs no tool; ``diff`` and ``manifests`` compare the last rendered manifests
with the cache. Actions go through the controller's queues, so the API,
auto-sync and the CLI's requests share the one-operation-per-app rule. A Git
webhook refreshes the matching apps through ``Controller.notify_push``, which
bypasses the revision cache once so the new commit is seen at once.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import SpecError, SyncwrightError
from ..execution import redact_url
from .backend import (
    AppDetail, AppDiff, AppSummary, BackendError, Condition, Conflict, HistoryItem, Invalid, NotFound,
    OperationInfo, PushEvent, ResourceDiffItem, ResourceStatus, SyncOptions, TreeNode,
)
from .webhooks import app_matches, repo_identity


class Unavailable(BackendError):
    """The app has not been compared yet, or its cluster is unreachable."""

    status = 503


class ControllerBackend:
    """The ``Backend`` protocol over ``controller.reconcile.Controller``; see the module docstring."""

    def __init__(self, controller: Any, *, op_start_timeout: float = 10.0) -> None:
        self.controller = controller
        self.op_start_timeout = op_start_timeout

    # -- helpers ---------------------------------------------------------------------------------
    def _rt(self, name: str) -> Any:
        rt = self.controller.apps.get(name)
        if rt is None:
            raise NotFound(f"application {name!r} not found")
        return rt

    def _cache(self, rt: Any) -> Any:
        cluster = self.controller.clusters.by_name.get(rt.cluster) if rt.cluster else None
        if cluster is None:
            raise Unavailable(f"application {rt.entry.name!r} has no resolved destination cluster yet")
        try:
            return cluster.cache(timeout=self.controller.settings.cache_timeout)
        except SyncwrightError as e:
            raise Unavailable(f"cluster {cluster.name} ({cluster.server}) is unreachable: {e}") from None

    def _state(self, name: str) -> Any:
        """A fresh comparison of the last rendered manifests with the live cache (no API call, no tool run)."""
        from ..sync.compare import compare_app_state

        rt = self._rt(name)
        if rt.entry.app is None:
            raise Invalid(f"application {name!r} is invalid: {rt.entry.error}")
        rendered = rt.rendered
        if rendered is None:
            raise Unavailable(f"application {name!r} has not been compared yet (see its conditions)")
        cache = self._cache(rt)
        return compare_app_state(rt.entry.app, rendered.manifests, cache, self.controller.hooks,
                                 scopes=cache.discovery, tracking=self.controller.tracking)

    def _summary(self, rt: Any) -> AppSummary:
        st = rt.status or {}
        app = rt.entry.app
        sources = st.get("sources") or []
        src = sources[0] if sources and isinstance(sources[0], dict) else {}
        sync = st.get("sync") or {}
        health = st.get("health") or {}
        conditions = tuple(Condition(str(c.get("type", "")), str(c.get("message", "")),
                                     str(c.get("lastTransitionTime", "")))
                           for c in rt.conditions.to_list())
        dest = app.spec.destination if app is not None else None
        return AppSummary(
            name=rt.entry.name, project=str(st.get("project") or (app.spec.project if app else "default")),
            server=str(st.get("server") or (dest.server or dest.name if dest else "") or ""),
            namespace=str(st.get("namespace") or (app.dest_namespace if app else "")),
            repo_url=redact_url(str(src.get("repoURL", ""))), path=str(src.get("path") or src.get("chart") or ""),
            target_revision=str(src.get("targetRevision") or "HEAD"),
            sync_status=str(sync.get("status") or "Unknown"), health_status=str(health.get("status") or "Unknown"),
            sync_policy=str(st.get("syncPolicy") or "Manual"), revision=str(sync.get("revision") or ""),
            conditions=conditions)

    def _operation(self, name: str) -> OperationInfo | None:
        op = self.controller.backend.load(name)
        if op is None:
            return None
        return OperationInfo(op.id, op.kind, op.phase, op.message, op.revision, op.started_at, op.finished_at,
                             op.dry_run, op.prune, op.retry_count, tuple(dict(r.__dict__) for r in op.resources))

    def _tree(self, rt: Any) -> tuple[TreeNode, ...]:
        from ..api import HealthContext
        from ..health import assess

        try:
            cache = self._cache(rt)
        except Unavailable:
            return ()

        def node(obj: dict[str, Any], status: str, message: str) -> TreeNode:
            meta = obj.get("metadata") or {}
            group = str(obj.get("apiVersion", "")).rpartition("/")[0]
            parents = tuple(str(ref.get("uid", "")) for ref in meta.get("ownerReferences") or [] if ref.get("uid"))
            return TreeNode(group, str(obj.get("kind", "")), str(meta.get("namespace", "")),
                            str(meta.get("name", "")), str(meta.get("uid", "")), parents, status, message)

        out: list[TreeNode] = []
        for r in (rt.status or {}).get("resources") or []:
            live = cache.find(r.get("group", ""), r.get("kind", ""), r.get("namespace", ""), r.get("name", ""))
            if live is None:
                continue
            out.append(node(live, str(r.get("health", "")), str(r.get("healthMessage", ""))))
            for _, child in cache.tree(live):
                h = assess(child, self.controller.hooks, HealthContext(app_name=rt.entry.name))
                out.append(node(child, h.status if h else "", h.message if h else ""))
        return tuple(out)

    # -- Backend: reads --------------------------------------------------------------------------
    def ready(self) -> tuple[bool, str]:
        c = self.controller
        if not c.running:
            return False, "the controller is not running (starting or stopping)"
        probe = getattr(c.backend, "schema_version", None)  # SQLite (local mode); CRD status needs no probe
        if probe is not None:
            try:
                probe()
            except (SyncwrightError, OSError) as e:
                return False, f"state store: {e}"
        return True, ""

    def list_apps(self) -> list[AppSummary]:
        return [self._summary(rt) for rt in list(self.controller.apps.values())]

    def get_app(self, name: str) -> AppDetail | None:
        rt = self.controller.apps.get(name)
        if rt is None:
            return None
        st = rt.status or {}
        resources = tuple(
            ResourceStatus(str(r.get("group", "")), str(r.get("kind", "")), str(r.get("namespace", "")),
                           str(r.get("name", "")), "", str(r.get("status", "")), str(r.get("health", "")),
                           str(r.get("healthMessage", "")), "hook" if r.get("hook") else "", 0,
                           bool(r.get("requiresPruning")), "")
            for r in st.get("resources") or [])
        history = tuple(HistoryItem(e.id, e.revision, e.deployed_at, e.started_at, tuple(e.sources), e.operation_id)
                        for e in self.controller.backend.history(name))
        sources = tuple(s for s in st.get("sources") or [] if isinstance(s, dict))
        return AppDetail(self._summary(rt), str((st.get("health") or {}).get("message", "")), sources, resources,
                         self._tree(rt), self._operation(name), history, str(st.get("reconciledAt", "")))

    def diff(self, name: str) -> AppDiff:
        state = self._state(name)
        items = tuple(ResourceDiffItem(r.key.group, r.key.kind, r.key.namespace, r.key.name, r.status,
                                       r.comparison.diff.live, r.comparison.diff.predicted,
                                       r.comparison.requires_pruning, bool(r.hook))
                      for r in state.resources)
        return AppDiff(name, state.sync_status, items)

    def manifests(self, name: str, source: str = "git") -> list[dict[str, Any]]:
        """Rendered or live objects; the API masks Secrets in whatever this returns."""
        state = self._state(name)
        if source == "live":
            return [r.comparison.live for r in state.resources if r.comparison.live is not None]
        return list(state.targets)

    # -- Backend: actions ------------------------------------------------------------------------
    def _queue(self, name: str, req: Any) -> str:
        """Queue an operation and wait (briefly) for its id; Conflict when one is queued or running."""
        c = self.controller
        if c.operations.active(name):
            raise Conflict(f"an operation is already queued or running for app {name!r}")
        before = c.backend.load(name)
        before_id = before.id if before is not None else None
        c.sync(name, req)
        end = time.monotonic() + self.op_start_timeout
        while time.monotonic() < end:
            op = c.backend.load(name)
            if op is not None and op.id != before_id:
                return str(op.id)
            time.sleep(0.02)
        return ""  # queued; the operation record appears when a worker picks it up

    def sync(self, name: str, options: SyncOptions) -> str:
        from ..controller.runtime import OpRequest

        rt = self._rt(name)
        if rt.entry.app is None:
            raise Invalid(f"application {name!r} is invalid: {rt.entry.error}")
        unsupported = [f for f, v in (("revision", options.revision), ("resources", options.resources),
                                      ("syncOptions", options.sync_options), ("timeout", options.timeout)) if v]
        if unsupported:
            raise Invalid(f"the controller syncs whole apps at their target revision; "
                          f"not supported here: {', '.join(unsupported)}")
        return self._queue(name, OpRequest("sync", prune=options.prune, dry_run=options.dry_run,
                                           reason="sync requested (API)"))

    def refresh(self, name: str, hard: bool = False) -> None:
        self._rt(name)
        self.controller.refresh(name, hard=hard, reason="refresh requested (API)")

    def rollback(self, name: str, history_id: int, *, prune: bool = False, dry_run: bool = False) -> str:
        from ..controller.runtime import OpRequest
        from ..sync.history import find_entry, rollback_app

        rt = self._rt(name)
        app = rt.entry.app
        if app is None:
            raise Invalid(f"application {name!r} is invalid: {rt.entry.error}")
        try:
            rollback_app(app, find_entry(self.controller.backend, app, history_id))
        except SpecError as e:
            raise Invalid(str(e)) from None
        return self._queue(name, OpRequest("rollback", prune=prune, dry_run=dry_run, history_id=history_id,
                                           reason="rollback requested (API)"))

    def terminate(self, name: str) -> bool:
        from ..sync.operation import request_terminate

        self._rt(name)
        return request_terminate(self.controller.backend, name) is not None

    def apps_for_push(self, push: PushEvent) -> list[str]:
        """The apps the push touches; their revisions are re-resolved and a refresh is queued at once.

        Matching is the webhook module's (host/path identity, Argo CD's revision
        rules); the controller is then notified with each matched app's own
        source URL, since a payload's https URL may name an app's ssh or git:// one.
        """
        pushed = {repo_identity(u) for u in push.repo_urls}
        names: list[str] = []
        urls: set[str] = set()
        for name, rt in list(self.controller.apps.items()):
            app = rt.entry.app
            if app is None:
                continue
            sources = [(s.repo_url, s.target_revision or "HEAD", s.chart) for s in app.spec.effective_sources()]
            if app_matches(sources, push):
                names.append(name)
                urls.update(url for url, _rev, chart in sources if not chart and repo_identity(url) in pushed)
        for url in sorted(urls):
            self.controller.notify_push(url, "", only=set(names))
        return names
