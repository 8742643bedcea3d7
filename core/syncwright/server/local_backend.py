"""A standalone ``Backend``: apps from a directory, one cluster, state in the operation store.

So the API is usable without the controller: ``syncwright server --apps DIR``
serves the Applications in ``DIR`` against the kubeconfig's cluster. Git is
rendered on the first look at an app and again on ``refresh`` (a webhook's
refresh re-resolves the revision); live state comes from a watching cluster
cache, so every ``get`` compares against the current cluster without API
calls. Operations run the sync engine in a thread, one per app; their state
and the history live in the same store as the CLI's (``SYNCWRIGHT_STATE``).
Nothing here syncs automatically — that is the controller's job.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SpecError, SyncwrightError
from ..execution import redact_url
from ..model import Application
from . import metrics
from .backend import (
    AppDetail, AppDiff, AppSummary, BackendError, Condition, Conflict, HistoryItem, Invalid, NotFound,
    OperationInfo, PushEvent, ResourceDiffItem, ResourceStatus, SyncOptions, TreeNode,
)
from .webhooks import app_matches

log = logging.getLogger("syncwright.server")

APP_SUFFIXES = (".yaml", ".yml", ".json")


class Unavailable(BackendError):
    status = 503


class RenderFailed(BackendError):
    status = 502


@dataclass
class _Rendered:
    manifests: list[dict[str, Any]]
    revisions: list[str]
    local: bool
    at: float = field(default_factory=time.time)
    error: str = ""


@dataclass
class _Loaded:
    app: Application
    path: Path


def _now() -> str:
    from ..sync.operation import now

    return now()


def sync_policy(app: Application) -> str:
    policy = app.spec.sync_policy
    auto = policy.automated if policy else None
    if auto is None or auto.enabled is False:
        return "Manual"
    return "Automated (Prune)" if auto.prune else "Automated"


class LocalBackend:
    """The ``Backend`` protocol over files, the cluster cache and the sync engine; see the module docstring."""

    def __init__(self, apps: Path, *, kubeconfig: str | None = None, context: str | None = None,
                 hooks: Any = None, store: Any = None, watch: bool = True, cache_timeout: float = 60.0,
                 workers: int = 4) -> None:
        self.apps_path = Path(apps)
        self.kubeconfig, self.context = kubeconfig, context
        self._hooks = hooks
        self._store = store
        self.watch, self.cache_timeout = watch, cache_timeout
        self._lock = threading.RLock()
        self._files: dict[Path, tuple[float, list[Application] | str]] = {}
        self._rendered: dict[str, _Rendered] = {}
        self._pending: dict[str, Future[None]] = {}
        self._seq = 0
        self._rendered_seq: dict[str, int] = {}
        self._ops: dict[str, threading.Thread] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="syncwright-refresh")
        self._ready = threading.Event()
        self._ready_error = "cluster cache not started"
        self.client: Any = None
        self.cache: Any = None
        self.discovery: Any = None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def hooks(self) -> Any:
        if self._hooks is None:
            from ..plugins import Hooks

            self._hooks = Hooks.load(extra_plugins=[metrics.OperationMetricsPlugin()])
        return self._hooks

    @property
    def store(self) -> Any:
        if self._store is None:
            from ..sync import FileStore

            self._store = FileStore()
        return self._store

    def start(self, background: bool = True) -> LocalBackend:
        """Connect and fill the cluster cache (in a thread by default; ``/readyz`` says when it is done)."""
        from ..cluster.cache import ClusterCache, settings_from_env
        from ..cluster.client import Client, ClusterConfig

        self.client = Client(ClusterConfig(self.kubeconfig, self.context))
        self.cache = ClusterCache(self.client, watch=self.watch, **settings_from_env())
        self.discovery = self.cache.discovery

        def fill() -> None:
            try:
                self.cache.start(self.cache_timeout)
            except SyncwrightError as e:
                self._ready_error = f"cluster cache: {e}"
                log.error("cluster cache failed: %s", e)
                return
            self._ready_error = ""
            self._ready.set()

        if background:
            threading.Thread(target=fill, name="syncwright-cache", daemon=True).start()
        else:
            fill()
        return self

    def stop(self) -> None:
        if self.cache is not None:
            self.cache.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def ready(self) -> tuple[bool, str]:
        return self._ready.is_set(), self._ready_error

    def _require_cache(self) -> None:
        if not self._ready.wait(self.cache_timeout):
            raise Unavailable(self._ready_error or "cluster cache not ready")

    # -- apps ------------------------------------------------------------------------------------
    def _app_files(self) -> list[Path]:
        p = self.apps_path
        if p.is_file():
            return [p]
        if not p.is_dir():
            raise Unavailable(f"apps path {p} does not exist")
        return sorted(f for f in p.iterdir() if f.suffix in APP_SUFFIXES and f.is_file())

    def _load(self) -> dict[str, _Loaded]:
        """Every app of every file; a broken file is logged and skipped, the others still load."""
        from ..model import load_applications

        out: dict[str, _Loaded] = {}
        for f in self._app_files():
            mtime = f.stat().st_mtime
            with self._lock:
                cached = self._files.get(f)
            if cached is None or cached[0] != mtime:
                try:
                    result: list[Application] | str = load_applications(f)
                except SyncwrightError as e:
                    result = str(e)
                    log.warning("invalid application file: %s", e, extra={"file": str(f)})
                with self._lock:
                    self._files[f] = (mtime, result)
                cached = (mtime, result)
            if isinstance(cached[1], list):
                for app in cached[1]:
                    out.setdefault(app.name, _Loaded(app, f))
        return out

    def _get(self, name: str) -> _Loaded:
        loaded = self._load().get(name)
        if loaded is None:
            raise NotFound(f"application {name!r} not found in {self.apps_path}")
        return loaded

    # -- rendering and comparison ----------------------------------------------------------------
    def _info(self, app: Application) -> Any:
        from ..render import BuildInfo

        return BuildInfo(app.name, app.dest_namespace, app.spec.project,
                         kube_version=self.discovery.kube_version() or BuildInfo.kube_version,
                         api_versions=tuple(self.discovery.api_versions()) or BuildInfo.api_versions)

    def _render(self, loaded: _Loaded, hard: bool = False) -> _Rendered:
        from ..render import local_repo_path, render_application

        app, base = loaded.app, loaded.path.resolve().parent
        try:
            remote = any(s.chart or local_repo_path(s.repo_url, base) is None for s in app.spec.effective_sources())
            if not remote:
                return _Rendered(render_application(self.hooks, app, base, info=self._info(app)), [], True)
            from ..repo.creds import CredentialStore
            from ..repo.service import RepoService

            service = RepoService(self.hooks, credentials=CredentialStore.load(None), revision_ttl=0)
            result = service.render_app(app, self._info(app), base_dir=base, hard_refresh=hard)
            revisions = [s.revision for s in result.sources]
            return _Rendered(list(result.manifests), revisions, any(not r for r in revisions))
        except SyncwrightError as e:
            log.warning("render failed: %s", e, extra={"app": app.name})
            return _Rendered([], [], True, error=str(e))

    def _rendered_for(self, loaded: _Loaded) -> _Rendered:
        name = loaded.app.name
        with self._lock:
            pending = self._pending.get(name)
        if pending is not None:
            pending.result()
        with self._lock:
            current = self._rendered.get(name)
        if current is None:
            current = self._render(loaded)
            with self._lock:
                self._rendered.setdefault(name, current)
        return current

    def _state(self, loaded: _Loaded) -> tuple[_Rendered, Any]:
        """The rendered manifests and their comparison with the live cache (None when rendering failed)."""
        from ..sync.compare import compare_app_state

        self._require_cache()
        rendered = self._rendered_for(loaded)
        if rendered.error:
            return rendered, None
        with metrics.time_reconcile(loaded.app.spec.destination.server or ""):
            state = compare_app_state(loaded.app, rendered.manifests, self.cache, self.hooks,
                                      scopes=self.discovery)
        return rendered, state

    def _summary(self, loaded: _Loaded, rendered: _Rendered, state: Any) -> AppSummary:
        app = loaded.app
        src = app.spec.effective_sources()[0]
        conditions: tuple[Condition, ...]
        if state is None:
            sync, health = "Unknown", "Unknown"
            conditions = (Condition("ComparisonError", rendered.error, _now()),)
        else:
            sync, health = state.sync_status, state.health.status
            conditions = tuple(Condition("SharedResourceWarning", w) for w in state.conditions)
        dest = app.spec.destination
        summary = AppSummary(app.name, app.spec.project, dest.server or dest.name or "", app.dest_namespace,
                             redact_url(src.repo_url), src.path or src.chart or "", src.target_revision or "HEAD", sync, health,
                             sync_policy(app), ",".join(r for r in rendered.revisions if r), conditions)
        metrics.set_app_state(app.name, project=app.spec.project, sync_status=sync, health_status=health,
                              dest_server=summary.server, dest_namespace=summary.namespace, repo=redact_url(src.repo_url))
        return summary

    # -- Backend: reads --------------------------------------------------------------------------
    def list_apps(self) -> list[AppSummary]:
        out = []
        for loaded in self._load().values():
            rendered, state = self._state(loaded)
            out.append(self._summary(loaded, rendered, state))
        return out

    def get_app(self, name: str) -> AppDetail | None:
        loaded = self._load().get(name)
        if loaded is None:
            return None
        rendered, state = self._state(loaded)
        resources: list[ResourceStatus] = []
        tree: list[TreeNode] = []
        health_message = ""
        if state is not None:
            health_message = state.health.message
            for r in state.resources:
                live = r.comparison.live
                version = str((live or r.comparison.target or {}).get("apiVersion", "")).rpartition("/")[2]
                resources.append(ResourceStatus(
                    r.key.group, r.key.kind, r.key.namespace, r.key.name, version, r.status,
                    r.health.status if r.health else "", r.health.message if r.health else "", r.hook, r.wave,
                    r.comparison.requires_pruning, r.comparison.message))
                if live is not None:
                    tree.extend(self._tree(live, r.health))
        op = self._operation(name)
        history = tuple(HistoryItem(e.id, e.revision, e.deployed_at, e.started_at, tuple(e.sources), e.operation_id)
                        for e in self.store.history(name))
        sources = tuple(s.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
                        for s in loaded.app.spec.effective_sources())
        return AppDetail(self._summary(loaded, rendered, state), health_message, sources, tuple(resources),
                         tuple(tree), op, history, _now())

    def _tree(self, live: dict[str, Any], health: Any) -> list[TreeNode]:
        from ..api import HealthContext
        from ..health import assess

        def node(obj: dict[str, Any], h: Any) -> TreeNode:
            meta = obj.get("metadata") or {}
            group = str(obj.get("apiVersion", "")).rpartition("/")[0]
            parents = tuple(str(ref.get("uid", "")) for ref in meta.get("ownerReferences") or [] if ref.get("uid"))
            return TreeNode(group, str(obj.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", "")),
                            str(meta.get("uid", "")), parents, h.status if h else "", h.message if h else "")

        out = [node(live, health)]
        for _, child in self.cache.tree(live):
            out.append(node(child, assess(child, self.hooks, HealthContext(app_name=""))))
        return out

    def _operation(self, name: str) -> OperationInfo | None:
        op = self.store.load(name)
        if op is None:
            return None
        return OperationInfo(op.id, op.kind, op.phase, op.message, op.revision, op.started_at, op.finished_at,
                             op.dry_run, op.prune, op.retry_count, tuple(dict(r.__dict__) for r in op.resources))

    def diff(self, name: str) -> AppDiff:
        loaded = self._get(name)
        rendered, state = self._state(loaded)
        if state is None:
            raise RenderFailed(f"cannot compare app {name!r}: {rendered.error}")
        items = tuple(ResourceDiffItem(r.key.group, r.key.kind, r.key.namespace, r.key.name, r.status,
                                       r.comparison.diff.live, r.comparison.diff.predicted,
                                       r.comparison.requires_pruning, bool(r.hook))
                      for r in state.resources)
        return AppDiff(name, state.sync_status, items)

    def manifests(self, name: str, source: str = "git") -> list[dict[str, Any]]:
        loaded = self._get(name)
        rendered, state = self._state(loaded)
        if state is None:
            raise RenderFailed(f"cannot render app {name!r}: {rendered.error}")
        if source == "live":
            return [r.comparison.live for r in state.resources if r.comparison.live is not None]
        return list(state.targets)

    # -- Backend: actions ------------------------------------------------------------------------
    def refresh(self, name: str, hard: bool = False) -> None:
        """Re-render in the background; a later request's result is never replaced by an earlier one's."""
        loaded = self._get(name)
        with self._lock:
            queued = self._pending.get(name)
            if queued is not None and not queued.running() and not queued.done():
                return  # a refresh that has not started yet covers this request too
            self._seq += 1
            seq = self._seq

        def work() -> None:
            rendered = self._render(loaded, hard=hard)
            with self._lock:
                if seq >= self._rendered_seq.get(name, 0):
                    self._rendered[name] = rendered
                    self._rendered_seq[name] = seq
                if self._pending.get(name) is future:
                    del self._pending[name]
                metrics.set_queue_depth("refresh", len(self._pending))
            log.info("refreshed", extra={"app": name, "revision": ",".join(rendered.revisions)})

        with self._lock:
            future = self._pool.submit(work)
            self._pending[name] = future
            metrics.set_queue_depth("refresh", len(self._pending))

    def sync(self, name: str, options: SyncOptions) -> str:
        loaded = self._get(name)
        app = loaded.app
        if options.revision:
            app = self._at_revision(app, options.revision)
        return self._start(name, _Loaded(app, loaded.path), options, kind="sync")

    def rollback(self, name: str, history_id: int, *, prune: bool = False, dry_run: bool = False) -> str:
        from ..sync.history import find_entry, rollback_app

        loaded = self._get(name)
        try:
            entry = find_entry(self.store, loaded.app, history_id)
            target = rollback_app(loaded.app, entry)
        except SpecError as e:
            raise Invalid(str(e)) from None
        manifests = [dict(m) for m in entry.manifests] if entry.manifests else None
        return self._start(name, _Loaded(target, loaded.path), SyncOptions(prune=prune, dry_run=dry_run),
                           kind="rollback", manifests=manifests)

    def terminate(self, name: str) -> bool:
        from ..sync.operation import request_terminate

        self._get(name)
        return request_terminate(self.store, name) is not None

    def apps_for_push(self, push: PushEvent) -> list[str]:
        out = []
        for name, loaded in self._load().items():
            sources = [(s.repo_url, s.target_revision or "HEAD", s.chart) for s in loaded.app.spec.effective_sources()]
            if app_matches(sources, push):
                out.append(name)
        return out

    # -- operations ------------------------------------------------------------------------------
    @staticmethod
    def _at_revision(app: Application, revision: str) -> Application:
        from ..model import parse_application

        doc = app.model_dump(by_alias=True, exclude_none=True)
        spec = doc["spec"]
        if spec.get("sources"):
            raise Invalid("a revision can only be given for a single-source app")
        spec["source"]["targetRevision"] = revision
        return parse_application(doc, f"app {app.name!r} at revision {revision!r}")

    def _start(self, name: str, loaded: _Loaded, options: SyncOptions, *, kind: str,
               manifests: list[dict[str, Any]] | None = None) -> str:
        from ..sync import ResourceSelector, SyncEngine, SyncRequest
        from ..sync.history import pinned_sources

        self._require_cache()
        with self._lock:
            running = self._ops.get(name)
            if running is not None and running.is_alive():
                raise Conflict(f"an operation is already running for app {name!r}")
        try:
            selectors = tuple(ResourceSelector.parse(r) for r in options.resources)
        except SpecError as e:
            raise Invalid(str(e)) from None
        if manifests is None:
            rendered = self._render(loaded, hard=False)
            if rendered.error:
                raise RenderFailed(f"cannot render app {name!r}: {rendered.error}")
        else:
            rendered = _Rendered(manifests, [], True)
        app = loaded.app
        policy = app.spec.sync_policy
        request = SyncRequest(prune=options.prune or bool(policy and policy.automated and policy.automated.prune),
                              dry_run=options.dry_run, resources=selectors, sync_options=options.sync_options,
                              timeout=options.timeout, revision=",".join(r for r in rendered.revisions if r),
                              kind=kind, sources=tuple(pinned_sources(app, rendered.revisions)),
                              keep_manifests=rendered.local)
        started: dict[str, Any] = {}
        event = threading.Event()

        def on_event(e: Any) -> None:
            if e.kind == "start" and "id" not in started:
                started["id"] = e.operation_id
                event.set()

        def run() -> None:
            try:
                engine = SyncEngine(app, self.client, self.hooks, store=self.store, discovery=self.discovery,
                                    on_event=on_event)
                op = engine.run(rendered.manifests, request)
                started.setdefault("id", op.id)
                log.info("operation finished: %s", op.phase,
                         extra={"app": name, "operation": op.id, "revision": op.revision, "phase": op.phase})
            except SyncwrightError as e:
                started["error"] = e
            except Exception as e:  # noqa: BLE001 - reported to the caller, never a silent thread death
                started["error"] = e
                log.exception("operation crashed", extra={"app": name})
            finally:
                event.set()

        thread = threading.Thread(target=run, name=f"syncwright-op-{name}", daemon=True)
        with self._lock:
            self._ops[name] = thread
        thread.start()
        event.wait(60)
        if "id" in started:
            return str(started["id"])
        err = started.get("error")
        if isinstance(err, SyncwrightError) and "still running" in str(err):
            raise Conflict(str(err))
        raise BackendError(f"operation for app {name!r} did not start: {err or 'timed out'}")
