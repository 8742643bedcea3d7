"""The reconcile loop: refresh apps, report their state, and sync them automatically.

Refreshes (comparisons) and operations (syncs) have separate work queues and
worker pools, so a long sync never delays the status of other apps. An app
is refreshed

- on a jittered period (``resync``, default 180 s, plus up to ``jitter`` of it),
- when its spec changes (a file or custom resource),
- when a live resource tracked to it changes (the cluster cache's watch,
  mapped to the app through tracking),
- on demand (``syncwright app refresh [--hard]``, the API, a webhook).

A refresh checks the AppProject (before rendering), renders through the repo
service (manifest cache: an unchanged revision runs no tool), compares with
the live cache (no API calls), checks the project again on the targets, and
records the status. A failed render or an unreachable repo or cluster keeps
the last comparison and adds a ``ComparisonError`` condition; it never leads
to a sync, so nothing is pruned because of it. Auto-sync follows Argo CD
(``auto_sync.md``); see ``autosync.py``. At most one operation per app runs;
every write is vetoed when the project forbids it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, cast

from .. import metrics
from ..cluster.client import ClusterError
from ..cluster.discovery import Discovery
from ..errors import OperationVetoed, SyncwrightError
from ..plugins import Hooks
from ..render import BuildInfo, local_repo_path
from ..repo.service import RepoService
from ..repo.urls import safe as safe_url
from ..sync import SyncEngine, SyncRequest
from ..sync.compare import compare_app_state, default_namespaces
from ..sync.history import find_entry, pinned_sources, rollback_app
from ..sync.operation import OperationState, now, recover
from ..tracking import Tracking
from . import autosync
from .clusters import Cluster, Clusters, ClusterNotFound
from .projects import Projects
from .queue import Item, WorkQueue
from .runtime import STALE_WARNING, AppRuntime, OpRequest, Rendered, Settings
from .scoped import ScopedDiscovery, namespaced_of
from .sources import AppEntry, Snapshot, digest
from .status import COMPARISON_ERROR, INVALID_SPEC, SHARED_RESOURCE, SYNC_ERROR, resource_rows, spec_facts

log = logging.getLogger("syncwright.controller")


class Controller:
    """Keeps apps reconciled; see the module docstring."""

    def __init__(self, source: Any, clusters: Clusters, backend: Any, hooks: Hooks, *,
                 settings: Settings | None = None, repo: RepoService | None = None,
                 shards: Any = None, on_event: Callable[[str, str, dict[str, Any]], None] | None = None) -> None:
        self.source = source  # .poll() -> Snapshot | None
        self.clusters = clusters
        self.backend = backend  # OperationStore + save_comparison/comparison/take_requests
        self.hooks = hooks
        self.settings = settings or Settings()
        self.repo = repo or RepoService(hooks)
        self.shards = shards  # .owns(cluster_name) -> bool, or None: everything is ours
        self.on_event = on_event  # (what, app, details): tests and metrics
        self.projects = Projects({}, self.settings.control_namespace)
        self.tracking = Tracking()
        self.apps: dict[str, AppRuntime] = {}
        self.source_errors: list[str] = []
        self.refreshes = WorkQueue("refresh")
        self.operations = WorkQueue("operation", base_delay=1.0)
        self._op_requests: dict[str, OpRequest] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stats = {"refreshes": 0, "operations": 0, "renders_failed": 0}
        metrics.enable()  # tool runs and git requests of this process are counted from now on

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._poll_sources()
        loops = [("sw-poll", self._poll_loop)]
        loops += [(f"sw-refresh-{i}", self._refresh_worker) for i in range(self.settings.status_workers)]
        loops += [(f"sw-operate-{i}", self._operate_worker) for i in range(self.settings.operation_workers)]
        for name, fn in loops:
            t = threading.Thread(target=fn, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.refreshes.close()
        self.operations.close()
        for t in self._threads:
            t.join(timeout)
        self.clusters.stop()

    @property
    def running(self) -> bool:
        """Started and not stopping (the API's ``/readyz``)."""
        return bool(self._threads) and not self._stop.is_set()

    def _emit(self, what: str, app: str, details: dict[str, Any]) -> None:
        if self.on_event is not None:
            try:
                self.on_event(what, app, details)
            except Exception:  # noqa: BLE001 - an observer never breaks the loop
                log.exception("event observer failed")

    # -- triggers --------------------------------------------------------------------------
    def refresh(self, app: str, *, hard: bool = False, reason: str = "requested") -> None:
        self.refreshes.add(app, hard=hard, reason=reason)

    def notify_push(self, repo_url: str, branch: str = "", only: Collection[str] | None = None) -> list[str]:
        """A push to ``repo_url`` (a Git webhook): re-resolve and refresh the apps that follow it.

        Apps match when a source names the repository (URLs normalized as for
        mirrors) and, when ``branch`` is given, the source tracks that branch
        (or HEAD, which is the default branch). The revision cache of the
        matching revisions is bypassed once, so the new commit is seen at once;
        rendered manifests stay cached by commit, so only the new commit renders.
        ``only`` limits the apps considered (the API matched them already, tags included).
        """
        from ..repo.urls import normalize

        target = normalize(repo_url)
        matched: list[str] = []
        resolved: set[tuple[str, str]] = set()
        with self._lock:
            entries = [(n, rt.entry) for n, rt in self.apps.items()
                       if rt.entry.app is not None and (only is None or n in only)]
        for name, entry in entries:
            assert entry.app is not None
            for source in entry.app.spec.effective_sources():
                if source.chart or normalize(source.repo_url) != target:
                    continue
                rev = source.target_revision.strip()
                if branch and rev not in ("", "HEAD", branch, f"refs/heads/{branch}"):
                    continue
                key = (source.repo_url, rev)
                if key not in resolved:
                    resolved.add(key)
                    try:
                        self.repo.resolve(source.repo_url, rev, tag_prefix=source.tag_prefix, refresh=True)
                    except SyncwrightError as e:
                        log.warning("app %s: push notification: %s", name, e)
                matched.append(name)
                self.refreshes.add(name, reason="git push")
                break
        return matched

    def sync(self, app: str, request: OpRequest = OpRequest()) -> None:
        with self._lock:
            self._op_requests.setdefault(app, request)
        self.operations.add(app, reason=request.reason or request.kind)

    def owns(self, cluster: str) -> bool:
        return self.shards is None or bool(self.shards.owns(cluster))

    def owns_app(self, app: str) -> bool:
        rt = self.apps.get(app)
        if rt is None:
            return False
        return self.owns(rt.cluster or self._cluster_name(rt.entry))

    def _cluster_name(self, entry: AppEntry) -> str:
        if entry.app is None:
            return ""
        dest = entry.app.spec.destination
        try:
            return self.clusters.resolve(dest.server, dest.name).name
        except ClusterNotFound:
            return dest.name or dest.server

    def busy(self, cluster: str) -> bool:
        """Is an operation of an app on ``cluster`` queued or running here? (a shard is not handed over then)"""
        with self._lock:
            names = [n for n, rt in self.apps.items() if rt.cluster == cluster]
        return any(self.operations.active(n) for n in names)

    def destination_clusters(self) -> list[str]:
        """The clusters the apps deploy to (what the replicas shard)."""
        with self._lock:
            entries = [rt.entry for rt in self.apps.values()]
        return sorted({n for n in (self._cluster_name(e) for e in entries) if n})

    def shards_changed(self, gained: set[str], lost: set[str]) -> None:
        """A replica took over clusters: refresh their apps now (lost ones simply stop)."""
        with self._lock:
            names = [n for n, rt in self.apps.items() if self._cluster_name(rt.entry) in gained]
        for name in names:
            self.refreshes.add(name, reason="shard acquired")
        self._emit("shards", "", {"gained": sorted(gained), "lost": sorted(lost)})

    def _live_listener(self, cluster: str) -> Callable[[str, dict[str, Any]], None]:
        def on_change(_etype: str, obj: dict[str, Any]) -> None:
            app = self.tracking.app_of(obj)
            if app is not None and app in self.apps:
                self.refreshes.add(app, reason="live change")
        return on_change

    def _poll_loop(self) -> None:
        while not self._stop.wait(min(self.settings.poll_interval, 0.5)):
            try:
                self._poll_sources()
                self._poll_requests()
                self._schedule_periodic()
                metrics.set_queue_depth("refresh", len(self.refreshes))
                metrics.set_queue_depth("operation", len(self.operations))
            except Exception:  # noqa: BLE001 - the loop must survive anything
                log.exception("controller poll failed")

    def _poll_sources(self) -> None:
        snap: Snapshot | None = self.source.poll()
        if snap is None:
            return
        with self._lock:
            projects_changed = snap.projects != self.projects.projects
            self.projects = Projects(snap.projects, self.settings.control_namespace)
            self.source_errors = list(snap.errors)
            for err in snap.errors:
                log.warning("%s", err)
            for name in set(self.apps) - set(snap.apps):
                del self.apps[name]
                self._forget(name)
            for name, entry in snap.apps.items():
                rt = self.apps.get(name)
                if rt is None:
                    self.apps[name] = AppRuntime(entry, next_refresh=self._next_period())
                    self.refreshes.add(name, reason="new app")
                elif rt.entry.digest != entry.digest or projects_changed:
                    rt.entry = entry
                    self.refreshes.add(name, reason="spec change")

    def _forget(self, name: str) -> None:
        metrics.remove_app(name)
        forget = getattr(self.backend, "forget", None)
        if forget is not None:
            try:
                forget(name)
            except SyncwrightError as e:
                log.warning("app %s: %s", name, e)

    def _poll_requests(self) -> None:
        take = getattr(self.backend, "take_requests", None)
        if take is None:
            return
        for _seq, app, kind, data in take(self.owns_app):
            if kind in ("refresh", "hard-refresh"):
                self.refresh(app, hard=kind == "hard-refresh", reason=f"{kind} requested")
            elif kind in ("sync", "rollback"):
                self.sync(app, OpRequest(kind, prune=bool(data.get("prune")), dry_run=bool(data.get("dryRun")),
                                         history_id=data.get("id"), reason=f"{kind} requested"))

    def _next_period(self) -> float:
        s = self.settings
        return time.monotonic() + s.resync * (1 + random.random() * s.jitter)

    def _schedule_periodic(self) -> None:
        t = time.monotonic()
        with self._lock:
            for name, rt in self.apps.items():
                if rt.next_refresh <= t:
                    rt.next_refresh = self._next_period()
                    self.refreshes.add(name, reason="periodic")

    # -- refresh ---------------------------------------------------------------------------
    def _refresh_worker(self) -> None:
        while not self._stop.is_set():
            item = self.refreshes.get(timeout=0.5)
            if item is None:
                continue
            started = time.monotonic()
            try:
                ok = self.reconcile(item)
            except Exception as e:  # noqa: BLE001 - one app's bug must not stop the others
                log.exception("app %s: refresh failed", item.app)
                ok = False
                rt = self.apps.get(item.app)
                if rt is not None:
                    rt.conditions.set(COMPARISON_ERROR, f"internal error: {type(e).__name__}: {e}")
            finally:
                self.refreshes.done(item)
                rt = self.apps.get(item.app)
                metrics.observe_reconcile(time.monotonic() - started, self._server_of(rt.cluster) if rt else "")
            if ok:
                self.refreshes.forget(item.app)
            elif not self._stop.is_set() and item.app in self.apps:
                self.refreshes.retry(item)

    def reconcile(self, item: Item) -> bool:
        """Refresh one app; True unless it should be retried with back-off."""
        rt = self.apps.get(item.app)
        if rt is None:
            return True
        entry = rt.entry
        rt.next_refresh = self._next_period()
        if entry.app is None:
            rt.conditions.clear(COMPARISON_ERROR)
            rt.conditions.set(INVALID_SPEC, entry.error)
            self._record(rt, sync="Unknown", health="Unknown")
            return True
        app = entry.app
        dest = app.spec.destination
        try:
            cluster = self.clusters.resolve(dest.server, dest.name)
        except ClusterNotFound as e:
            rt.conditions.set(INVALID_SPEC, str(e))
            self._record(rt, sync="Unknown", health="Unknown")
            return True
        rt.cluster = cluster.name
        if not self.owns(cluster.name):
            return True
        problems = self.projects.check_app(app, cluster.server, cluster.name)
        if problems:
            rt.conditions.clear(COMPARISON_ERROR)
            rt.conditions.set(INVALID_SPEC, "; ".join(problems))
            self._record(rt, sync="Unknown", health="Unknown")
            return True
        rt.conditions.clear(INVALID_SPEC)
        if not rt.recovered and not self.operations.active(app.name):
            self._recover(rt)
        try:
            cache = cluster.cache(self._live_listener(cluster.name), timeout=self.settings.cache_timeout)
        except ClusterError as e:
            rt.conditions.set(COMPARISON_ERROR, f"cluster {cluster.name} ({cluster.server}) is unreachable: {e}")
            self._record(rt)
            return False
        self.stats["refreshes"] += 1
        try:
            rendered = self._render(app, entry, cluster, hard=item.hard)
        except SyncwrightError as e:
            self.stats["renders_failed"] += 1
            rt.conditions.set(COMPARISON_ERROR, f"failed to render the manifests: {e}")
            log.warning("app %s: failed to render the manifests: %s", app.name, e, extra={"app": app.name})
            self._record(rt)  # the last comparison stays; no sync follows a failed render
            self._emit("comparison-error", app.name, {"message": str(e)})
            return False
        stale = [w for w in rendered.warnings if STALE_WARNING.search(w)]
        if stale:  # the repo is unreachable: compared with the last known revision, no automation
            rt.conditions.set(COMPARISON_ERROR, "; ".join(stale))
        if cache.stats.errors:
            rt.conditions.set(COMPARISON_ERROR, f"the live state is incomplete: {cache.stats.errors[-1]}")
        state = compare_app_state(app, rendered.manifests, cache, self.hooks, scopes=cache.discovery,
                                  tracking=self.tracking)
        rt.rendered = rendered  # the comparison itself is not kept: 20k predicted objects cost memory
        if not cache.stats.errors and not stale:
            rt.conditions.clear(COMPARISON_ERROR)
        violations = self.projects.check_resources(app, list(state.targets), namespaced_of(cache.discovery),
                                                   server=cluster.server, cluster_name=cluster.name)
        if violations:
            rt.conditions.set(INVALID_SPEC, "; ".join(violations))
        if state.conditions:
            rt.conditions.set(SHARED_RESOURCE, "; ".join(state.conditions))
        else:
            rt.conditions.clear(SHARED_RESOURCE)
        sync_status = state.sync_status if not cache.stats.errors else "Unknown"
        self._record(rt, sync=sync_status, health=state.health.status, health_message=state.health.message,
                     revisions=rendered.revisions, resources=resource_rows(state))
        self._emit("refreshed", app.name, {"sync": sync_status, "health": state.health.status,
                                           "reason": item.reason, "cached": rendered.cached})
        log.debug("app %s: refreshed (%s): %s, %s", app.name, item.reason, sync_status, state.health.status,
                  extra={"app": app.name, "revision": ",".join(r for r in rendered.revisions if r)})
        if not violations and not rt.conditions.has(COMPARISON_ERROR):
            self._consider_auto_sync(rt, state, rendered)
        return True

    def _recover(self, rt: AppRuntime) -> None:
        """Mark an operation left Running by a dead controller ``Error`` (once, when we first own the app)."""
        try:
            op = recover(self.backend, rt.entry.name)
        except SyncwrightError as e:
            log.warning("app %s: cannot check for an interrupted operation: %s", rt.entry.name, e)
            return
        rt.recovered = True
        if op is not None:
            log.warning("app %s: %s", rt.entry.name, op.message)
            self._emit("recovered", rt.entry.name, {"message": op.message})

    def _render(self, app: Any, entry: AppEntry, cluster: Cluster, *, hard: bool) -> Rendered:
        disc = cluster.cache().discovery
        info = BuildInfo(app.name, app.dest_namespace, app.spec.project,
                         kube_version=disc.kube_version() or BuildInfo.kube_version,
                         api_versions=tuple(disc.api_versions()) or BuildInfo.api_versions)
        result = self.repo.render_app(app, info, base_dir=entry.base_dir, hard_refresh=hard)
        # A local directory has no commit; its content digest stands in for the revision, so a
        # change on disk is a "new revision" for auto-sync as a new commit is.
        revisions = [s.revision or f"local:{digest(list(s.manifests))[:12]}" for s in result.sources]
        local = any(not s.chart and local_repo_path(s.repo_url, entry.base_dir or Path.cwd()) is not None
                    for s in app.spec.effective_sources())
        return Rendered(list(result.manifests), revisions, local, tuple(result.warnings),
                        all(s.cached for s in result.sources))

    def _record(self, rt: AppRuntime, *, sync: str | None = None, health: str | None = None,
                health_message: str = "", revisions: list[str] | None = None,
                resources: list[dict[str, Any]] | None = None) -> None:
        """Update and persist the app's status; fields not given keep their last values."""
        st = dict(rt.status) or {"sync": {"status": "Unknown", "revision": "", "revisions": []},
                                 "health": {"status": "Unknown", "message": ""}, "resources": []}
        st.update(spec_facts(rt.entry.app, rt.entry.raw, rt.cluster, self._server_of(rt.cluster)))
        st["name"], st["source"], st["specDigest"] = rt.entry.name, rt.entry.source, rt.entry.digest
        if sync is not None:
            revs = revisions if revisions is not None else st["sync"].get("revisions", [])
            st["sync"] = {"status": sync, "revision": ",".join(r for r in revs if r), "revisions": revs}
        if health is not None:
            st["health"] = {"status": health, "message": health_message}
        if resources is not None:
            st["resources"] = resources
        st["conditions"] = rt.conditions.to_list()
        st["reconciledAt"] = now()
        st["controller"] = self.settings.identity
        rt.status = st
        srcs = st.get("sources") or [{}]
        if rt.entry.name in self.apps:  # not for an app deleted while its refresh ran (its series are gone)
            metrics.set_app_state(rt.entry.name, project=str(st.get("project", "")),
                                  sync_status=st["sync"]["status"],
                                  health_status=st["health"]["status"], dest_server=str(st.get("server", "")),
                                  dest_namespace=str(st.get("namespace", "")),
                                  repo=safe_url(str((srcs[0] if isinstance(srcs[0], dict) else {}).get("repoURL", ""))))
        try:
            self.backend.save_comparison(rt.entry.name, st)
        except SyncwrightError as e:
            log.warning("app %s: cannot record status: %s", rt.entry.name, e)

    def _server_of(self, cluster: str) -> str:
        c = self.clusters.by_name.get(cluster)
        return c.server if c is not None else ""

    # -- automation ------------------------------------------------------------------------
    def _consider_auto_sync(self, rt: AppRuntime, state: Any, rendered: Rendered) -> None:
        app = rt.entry.app
        assert app is not None
        if self.operations.active(app.name):
            return
        last = self.backend.load(app.name)
        decision = autosync.decide(app, state.sync_status, len(state.targets), rendered.revisions,
                                   pinned_sources(app, rendered.revisions), last, rt.heal, self.settings)
        if decision.condition:
            rt.conditions.set(SYNC_ERROR, decision.condition)
            self._record(rt)
        elif rt.conditions.has(SYNC_ERROR) and state.sync_status == "Synced":
            rt.conditions.clear(SYNC_ERROR)
            self._record(rt)
        if decision.retry_in is not None:
            self.refreshes.add(app.name, reason="self-heal back-off", delay=decision.retry_in)
        if decision.sync:
            if decision.self_heal:
                rt.heal.attempted(time.monotonic())
            self._emit("auto-sync", app.name, {"selfHeal": decision.self_heal, "revision": ",".join(rendered.revisions)})
            log.info("app %s: %s", app.name, "self-heal" if decision.self_heal else "auto-sync",
                     extra={"app": app.name, "revision": ",".join(rendered.revisions)})
            self.sync(app.name, OpRequest("sync", prune=decision.prune, auto=True,
                                          reason="self-heal" if decision.self_heal else "auto-sync"))

    # -- operations ------------------------------------------------------------------------
    def _operate_worker(self) -> None:
        while not self._stop.is_set():
            item = self.operations.get(timeout=0.5)
            if item is None:
                continue
            with self._lock:
                req = self._op_requests.pop(item.app, OpRequest())
            try:
                self.operate(item.app, req)
            except Exception:  # noqa: BLE001
                log.exception("app %s: operation failed", item.app)
            finally:
                self.operations.done(item)
            self.refreshes.add(item.app, reason="operation finished")

    def operate(self, name: str, req: OpRequest) -> OperationState | None:
        """Run one sync/rollback of ``name`` if this replica owns it and the project allows it."""
        rt = self.apps.get(name)
        if rt is None or rt.entry.app is None:
            return None
        app = rt.entry.app
        dest = app.spec.destination
        try:
            cluster = self.clusters.resolve(dest.server, dest.name)
        except ClusterNotFound:
            return None
        if not self.owns(cluster.name):
            return None
        problems = self.projects.check_app(app, cluster.server, cluster.name)
        rendered = rt.rendered if req.auto and req.kind == "sync" else None
        sources = None
        if req.kind == "rollback":
            try:
                entry = find_entry(self.backend, app, int(req.history_id or 0))
                app = rollback_app(app, entry)
            except SyncwrightError as e:
                return self._refuse(app.name, req, str(e))
            sources = tuple(entry.sources)
            if entry.manifests:  # a local source: re-apply what was applied then
                rendered = Rendered(list(entry.manifests), [entry.revision], True)
        try:
            cache = cluster.cache(self._live_listener(cluster.name), timeout=self.settings.cache_timeout)
            if rendered is None:
                rendered = self._render(app, rt.entry, cluster, hard=False)
        except SyncwrightError as e:
            return self._refuse(app.name, req, f"cannot render the manifests: {e}")
        targets = default_namespaces(rendered.manifests, app.dest_namespace, cache.discovery)
        policy = app.spec.sync_policy
        prune = req.prune or (req.auto and bool(policy and policy.automated and policy.automated.prune))
        # deleting is a write too: with prune, the objects tracked to the app must be permitted as well
        writes = [*targets, *cache.tracked(app.name)] if prune else targets
        problems += self.projects.check_resources(app, writes, namespaced_of(cache.discovery),
                                                  server=cluster.server, cluster_name=cluster.name)
        if problems:
            return self._refuse(app.name, req, "operation refused by the project: " + "; ".join(problems))
        guard = self._write_guard(app, cluster, cache)
        engine = SyncEngine(app, cluster.client, self.hooks, store=self.backend, tracking=self.tracking,
                            discovery=cast(Discovery, ScopedDiscovery(cache.discovery, [*targets, *cache.tracked(app.name)])),
                            on_event=guard)
        request = SyncRequest(prune=prune, dry_run=req.dry_run,
                              revision=",".join(r for r in rendered.revisions if r), kind=req.kind,
                              sources=sources or tuple(pinned_sources(app, rendered.revisions)),
                              keep_manifests=rendered.local)
        self.stats["operations"] += 1
        self._emit("operation-start", app.name, {"kind": req.kind, "auto": req.auto, "reason": req.reason,
                                                 "replica": self.settings.identity})
        log.info("app %s: %s started (%s)", app.name, req.kind, req.reason or "requested",
                 extra={"app": app.name, "revision": request.revision, "kind": req.kind})
        started = time.monotonic()
        try:
            op = engine.run(rendered.manifests, request)
        except SyncwrightError as e:
            log.warning("app %s: %s", app.name, e, extra={"app": app.name, "revision": request.revision})
            return None
        if not req.dry_run:
            metrics.observe_operation(app.name, req.kind, op.phase, time.monotonic() - started)
        log.info("app %s: %s %s: %s", app.name, req.kind, op.phase, op.message,
                 extra={"app": app.name, "revision": op.revision, "operation": op.id, "phase": op.phase})
        self._emit("operation-end", app.name, {"phase": op.phase, "message": op.message, "id": op.id})
        return op

    def _refuse(self, app: str, req: OpRequest, message: str) -> OperationState:
        """Record an operation that failed before any write (project veto, render failure)."""
        op = OperationState(app, kind=req.kind, phase="Failed", message=message, finished_at=now())
        self.backend.save(op)
        log.warning("app %s: %s refused: %s", app, req.kind, message, extra={"app": app, "operation": op.id})
        rt = self.apps.get(app)
        if rt is not None:
            rt.conditions.set(SYNC_ERROR, message)
            self._record(rt)
        self._emit("operation-refused", app, {"message": message})
        return op

    def _write_guard(self, app: Any, cluster: Cluster, cache: Any) -> Callable[[Any], None]:
        """The engine's ``on_event``: before the first and every later step, re-check project and lease."""
        def guard(event: Any) -> None:
            if event.kind not in ("start", "wave"):
                return
            if not self.owns(cluster.name):
                raise OperationVetoed(f"this controller ({self.settings.identity}) no longer owns cluster "
                                      f"{cluster.name}")
            problems = self.projects.check_app(app, cluster.server, cluster.name)
            if problems:
                raise OperationVetoed("; ".join(problems))
        return guard

    # -- reading ---------------------------------------------------------------------------
    def status(self, app: str) -> dict[str, Any]:
        rt = self.apps.get(app)
        return dict(rt.status) if rt is not None else {}

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once both queues are empty and no worker is busy (tests, benchmarks)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not any(self.refreshes.active(a) or self.operations.active(a) for a in list(self.apps)):
                return True
            time.sleep(0.02)
        return False


__all__ = ["Controller", "OpRequest", "Settings", "digest"]
