"""Running a sync: server-side dry-run of everything, then step by step (phase × wave) with health waits.

See the package docstring for the user-facing rules. The engine is
synchronous: one ``SyncEngine.run`` call is one operation (with its
retries); its state is saved to the store after every step so that another
process can watch it, terminate it or find it interrupted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..api import SyncEvent
from ..cluster.apply import ApplyOptions, Applier, parallel
from ..cluster.cache import ClusterCache, settings_from_env
from ..cluster.client import Client, ClusterError
from ..cluster.discovery import Discovery
from ..errors import OperationVetoed, SyncwrightError
from ..manifests import ResourceKey
from ..model import Application, Retry
from ..plugins import Hooks
from ..tracking import Tracking
from . import hooks as hookmod
from . import options as opts
from . import retry as retrymod
from .operation import FileStore, HistoryEntry, OperationState, OperationStore, ResourceResult, now, recover
from .plan import Plan, ResourceSelector, build_plan
from .tasks import FAILED, PRUNED, RUNNING, SUCCEEDED, SYNC_FAILED, SYNCED, SyncTask
from .waits import describe, health_of, verdict

EventSink = Callable[[SyncEvent], None]


@dataclass(frozen=True)
class SyncRequest:
    """What the user asked for (CLI flags / API call); the app spec supplies the rest."""

    prune: bool = False
    dry_run: bool = False
    resources: tuple[ResourceSelector, ...] = ()
    sync_options: tuple[str, ...] = ()
    timeout: float | None = None  # whole operation, seconds; None = no limit (as Argo CD)
    wave_delay: float = 0.0  # Argo CD sleeps 2 s between waves; the health wait makes it unnecessary
    workers: int = 16
    poll_interval: float = 0.02  # first health poll; grows 1.5x per poll up to 0.5 s
    retry: Retry | None = None  # None: the app's syncPolicy.retry
    revision: str = ""
    kind: str = "sync"
    sources: tuple[dict[str, Any], ...] = ()
    keep_manifests: bool = False  # store the manifests in the history (sources without a revision)


class _Stop(Exception):
    """Ends an attempt: ``phase`` and ``message`` become the operation's."""

    def __init__(self, phase: str, message: str) -> None:
        super().__init__(message)
        self.phase, self.message = phase, message


@dataclass
class _Attempt:
    op: OperationState
    request: SyncRequest
    plan: Plan | None = None
    deadline: float | None = None
    results: dict[int, ResourceResult] = field(default_factory=dict)


class SyncEngine:
    """Syncs one Application to a cluster; see the package docstring for the rules."""

    def __init__(self, app: Application, client: Client, hooks: Hooks, *, store: OperationStore | None = None,
                 discovery: Discovery | None = None, tracking: Tracking | None = None, manager: str = "syncwright",
                 on_event: EventSink | None = None) -> None:
        self.app, self.client, self.hooks = app, client, hooks
        self.store: OperationStore = store if store is not None else FileStore()
        self.discovery = discovery or Discovery(client)
        self.applier = Applier(client, self.discovery, manager=manager)
        self.tracking, self.manager = tracking or Tracking(), manager
        self.on_event = on_event

    # -- events --------------------------------------------------------------------------
    def _emit(self, op: OperationState, kind: str, **kw: Any) -> None:
        event = SyncEvent(kind=kind, app=self.app.name, operation_id=op.id, revision=op.revision,
                          dry_run=op.dry_run, **kw)
        if self.on_event is not None:
            self.on_event(event)
        self.hooks.sync_event(event)

    def _save(self, op: OperationState) -> None:
        if not op.dry_run:
            self.store.save(op)

    # -- the operation -------------------------------------------------------------------
    def run(self, manifests: list[dict[str, Any]], request: SyncRequest = SyncRequest()) -> OperationState:
        """One operation (with its retries) to completion; the final state is returned and stored."""
        if not request.dry_run:
            recover(self.store, self.app.name)
            current = self.store.load(self.app.name)
            if current is not None and current.phase in ("Running", "Terminating"):
                raise SyncwrightError(f"another operation ({current.id}, pid {current.pid}) is still running",
                                      context=f"app {self.app.name!r}")
        op = OperationState(self.app.name, kind=request.kind, revision=request.revision, dry_run=request.dry_run,
                            prune=request.prune, sources=list(request.sources))
        self._save(op)
        try:
            self._emit(op, "start")
        except OperationVetoed as e:
            return self._finish(op, "Failed", f"operation vetoed by a plugin: {e}")
        except Exception as e:  # noqa: BLE001 - a broken plugin at start refuses the operation too
            return self._finish(op, "Failed", f"operation refused by a plugin: {type(e).__name__}: {e}")
        policy = self.app.spec.sync_policy
        retry = request.retry if request.retry is not None else (policy.retry if policy else None)
        deadline = time.monotonic() + request.timeout if request.timeout else None
        while True:
            phase, message = self._attempt(_Attempt(op, request, deadline=deadline), manifests)
            if phase == "Succeeded" or op.phase == "Terminating" or self._terminating(op):
                break
            if phase == "Failed" and message.startswith("operation terminated"):
                break
            try:
                more = retrymod.allowed(retry, op.retry_count)
            except SyncwrightError:
                more = False
            if not more or retry is None:
                break
            wait = retrymod.delay(retry, op.retry_count)
            if deadline is not None and time.monotonic() + wait > deadline:
                break
            op.retry_count += 1
            op.message = f"retrying attempt #{op.retry_count} in {wait:g}s: {message}"
            self._save(op)
            if self._sleep(op, wait):
                phase, message = "Failed", "operation terminated"
                break
        result = self._finish(op, phase, message)
        if result.succeeded and not request.dry_run and not request.resources:
            self._record_history(result, manifests if request.keep_manifests else [])
        return result

    def _finish(self, op: OperationState, phase: str, message: str) -> OperationState:
        op.phase, op.message, op.finished_at = phase, message, now()
        self._save(op)
        self._emit(op, "end", status=phase, message=message)
        return op

    def _record_history(self, op: OperationState, manifests: list[dict[str, Any]]) -> None:
        entries = self.store.history(self.app.name)
        next_id = (entries[-1].id + 1) if entries else 0
        entry = HistoryEntry(next_id, op.revision, op.finished_at, op.started_at, tuple(op.sources), op.id,
                             tuple(manifests))
        self.store.add_history(self.app.name, entry, self.app.spec.revision_history_limit)

    def _terminating(self, op: OperationState) -> bool:
        if op.dry_run:
            return False
        stored = self.store.load(self.app.name)
        return stored is not None and stored.id == op.id and stored.phase == "Terminating"

    def _sleep(self, op: OperationState, seconds: float) -> bool:
        """Sleep, waking to check for termination; True when terminated."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self._terminating(op):
                return True
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))
        return False

    # -- one attempt ---------------------------------------------------------------------
    def _attempt(self, at: _Attempt, manifests: list[dict[str, Any]]) -> tuple[str, str]:
        at.op.resources = []
        try:
            self._run_attempt(at, manifests)
        except _Stop as stop:
            if at.plan is not None and stop.phase == "Failed" and not at.op.dry_run:
                self._on_failure(at)
            self._save(at.op)
            return stop.phase, stop.message
        except SyncwrightError as e:
            self._save(at.op)
            return "Failed", str(e)
        if at.plan is not None:
            self._delete_finished_hooks(at, succeeded=True)
        return "Succeeded", "successfully synced (all tasks run)" if not at.op.dry_run else "dry run succeeded"

    def _run_attempt(self, at: _Attempt, manifests: list[dict[str, Any]]) -> None:
        req, op = at.request, at.op
        cache = ClusterCache(self.client, discovery=self.discovery, watch=False, tracking=self.tracking,
                             **settings_from_env())
        try:
            cache.start()
        except ClusterError as e:
            raise _Stop("Failed", f"cannot read the live state: {e}") from None
        if cache.stats.errors:  # a type that failed to list could hide prune candidates or live objects
            raise _Stop("Failed", f"cannot read the live state: {cache.stats.errors[0]}")
        started = int(datetime.fromisoformat(op.started_at.replace("Z", "+00:00")).timestamp())
        plan = build_plan(self.app, manifests, cache, scopes=self.discovery,
                          served=lambda g, k: self.discovery.for_kind(g, k) is not None, tracking=self.tracking,
                          prune=req.prune, extra_options=req.sync_options, resources=req.resources,
                          revision=op.revision, started_unix=started, manager=self.manager)
        at.plan = plan
        for t in plan.skipped:
            self._result(at, t)
        if plan.errors:
            raise _Stop("Failed", "; ".join(plan.errors))
        created_ns = self._namespaces_created(plan)
        if opts.is_true(plan.app_options, "CreateNamespace") and self.app.dest_namespace and not op.dry_run:
            self._create_namespace(at)
        self._dry_run(at, created_ns)
        if op.dry_run:
            for t in plan.tasks:
                t.status = PRUNED if t.prune else SYNCED
                t.message = "pruned (dry run)" if t.prune else "would be applied (dry run)"
                self._result(at, t)
            return
        phase = ""
        steps = plan.steps()
        for i, step in enumerate(steps):
            first = step[0]
            if first.phase != phase or first.late:
                phase = first.phase
                self._emit(op, "phase", phase="PruneLast" if first.late else phase, wave=first.wave)
            self._emit(op, "wave", phase=first.phase, wave=first.wave)
            self._check(at)
            self._run_step(at, step, wait=plan.multi_step)
            self._save(op)
            if req.wave_delay and i < len(steps) - 1:
                self._sleep(op, req.wave_delay)

    def _check(self, at: _Attempt) -> None:
        if self._terminating(at.op):
            raise _Stop("Failed", "operation terminated")
        if at.deadline is not None and time.monotonic() > at.deadline:
            raise _Stop("Failed", f"operation timed out after {at.request.timeout:g}s")

    # -- results -------------------------------------------------------------------------
    def _result(self, at: _Attempt, t: SyncTask, final: bool = True) -> None:
        """Record (or update) ``t``'s result in execution order and tell the plugins."""
        k = t.key
        r = at.results.get(id(t))
        if r is None:
            r = ResourceResult(k.group, k.kind, k.namespace, k.name, t.phase, t.wave, t.hook_type, t.status,
                               t.hook_phase, t.message, t.started_at or now(), t.finished_at)
            at.results[id(t)] = r
            at.op.resources.append(r)
        else:
            r.status, r.hook_phase, r.message, r.finished_at = t.status, t.hook_phase, t.message, t.finished_at
        if final and t.status and t.hook_phase != RUNNING:
            self._emit(at.op, "resource", phase=t.phase, wave=t.wave, resource=k,
                       status=t.hook_phase if t.hook_phase == FAILED else t.status, message=t.message)

    def _fail(self, at: _Attempt, t: SyncTask, message: str) -> None:
        t.status, t.message, t.finished_at = SYNC_FAILED, message, now()
        if t.is_hook:
            t.hook_phase = FAILED
        self._result(at, t)

    # -- namespace and dry run -----------------------------------------------------------
    def _namespaces_created(self, plan: Plan) -> set[str]:
        out = {t.name for t in plan.tasks if t.kind == "Namespace" and t.key.group == "" and not t.prune}
        if opts.is_true(plan.app_options, "CreateNamespace") and self.app.dest_namespace:
            out.add(self.app.dest_namespace)
        return out

    def _create_namespace(self, at: _Attempt) -> None:
        ns = self.app.dest_namespace
        meta: dict[str, Any] = {"name": ns}
        mnm = self.app.spec.sync_policy.managed_namespace_metadata if self.app.spec.sync_policy else None
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
        live = self.applier.get(obj)
        if live is not None and mnm is None:
            return
        if mnm is not None:
            meta["labels"], meta["annotations"] = dict(mnm.labels), dict(mnm.annotations)
        t = SyncTask("PreSync", 0, ResourceKey("", "Namespace", "", ns), obj, live, started_at=now())
        try:
            self.applier.apply(obj)
        except SyncwrightError as e:
            self._fail(at, t, f"cannot create namespace {ns}: {e.message if hasattr(e, 'message') else e}")
            raise _Stop("Failed", f"cannot create namespace {ns}: {e}") from None
        t.status, t.message, t.finished_at = SYNCED, f"namespace/{ns} {'created' if live is None else 'configured'}", now()
        self._result(at, t)

    def _dry_run(self, at: _Attempt, created_ns: set[str]) -> None:
        """Server-side dry-run of every task; any failure fails the operation before the first write."""
        plan = at.plan
        assert plan is not None
        todo = [t for t in plan.tasks if not t.skip_dry_run and not hookmod.delete_before_creation(t)]

        def one(t: SyncTask) -> None:
            if t.prune:
                prop = t.options.get("PrunePropagationPolicy", "foreground")
                self.applier.delete(t.obj, propagation=prop, dry_run=True)
                return
            try:
                self.applier.apply(t.obj, self._apply_options(t, dry_run=True))
            except ClusterError as e:
                if e.status == 404 and t.key.namespace in created_ns:
                    return  # its namespace is created by this sync
                if e.status == 404 and self._kind_from_this_sync(plan, t):
                    return  # its CRD is applied by this sync
                raise

        failures = []
        for t, res in zip(todo, parallel(one, todo, at.request.workers)):
            if isinstance(res, BaseException):
                msg = res.message if isinstance(res, SyncwrightError) else f"{type(res).__name__}: {res}"
                t.started_at = now()
                self._fail(at, t, f"dry run failed: {msg}")
                failures.append(f"{t.key}: {msg}")
        if failures:
            raise _Stop("Failed", f"dry run failed for {len(failures)} resource(s), nothing was applied: "
                        + "; ".join(failures))

    @staticmethod
    def _kind_from_this_sync(plan: Plan, t: SyncTask) -> bool:
        for other in plan.tasks:
            spec = other.obj.get("spec") or {}
            if other.kind == "CustomResourceDefinition" and (spec.get("names") or {}).get("kind") == t.kind:
                return True
        return False

    def _apply_options(self, t: SyncTask, *, dry_run: bool = False) -> ApplyOptions:
        o = t.options
        return ApplyOptions(server_side=o.get("ServerSideApply", "true") != "false",
                            replace=opts.is_true(o, "Replace"), force=opts.is_true(o, "Force"),
                            validate=o.get("Validate", "true") != "false", dry_run=dry_run)

    # -- one step ------------------------------------------------------------------------
    def _run_step(self, at: _Attempt, step: list[SyncTask], *, wait: bool) -> None:
        workers = at.request.workers
        prunes = [t for t in step if t.prune]
        applies = [t for t in step if not t.prune]
        for own_wave in sorted({t.own_wave for t in prunes}, reverse=True):
            group = [t for t in prunes if t.own_wave == own_wave]
            self._prune(at, group, wait=wait)
        replace_hooks = [t for t in applies if hookmod.delete_before_creation(t)]
        for t, res in zip(replace_hooks, parallel(lambda t: self.applier.delete(t.live or t.obj, wait=60.0),
                                                  replace_hooks, workers)):
            if isinstance(res, BaseException):
                t.started_at = now()
                self._fail(at, t, f"cannot delete the previous hook object: {res}")
                raise _Stop("Failed", f"{t}: cannot delete the previous hook object: {res}")
        groups: list[list[SyncTask]] = []
        for t in applies:
            if groups and groups[-1][0].kind == t.kind:
                groups[-1].append(t)
            else:
                groups.append([t])
        failed: list[str] = []
        waiting = wait or any(t.is_hook for t in applies)
        for group in groups:
            for t in group:
                t.started_at = now()
            for t, outcome in zip(group, parallel(self._apply, group, workers)):
                if isinstance(outcome, BaseException):
                    msg = outcome.message if isinstance(outcome, SyncwrightError) else f"{type(outcome).__name__}: {outcome}"
                    self._fail(at, t, msg)
                    failed.append(f"{t.key}: {msg}")
                else:
                    self._result(at, t, final=not waiting)
            if any(t.kind == "CustomResourceDefinition" and t.status == SYNCED for t in group):
                self.discovery.refresh()
            if failed:
                raise _Stop("Failed", "one or more objects failed to apply: " + "; ".join(failed))
        if waiting:
            self._save(at.op)  # watchers see what is applied while the step waits
            self._wait_health(at, applies)

    def _apply(self, t: SyncTask) -> None:
        before = (t.live or {}).get("metadata", {}).get("resourceVersion") if t.live else None
        out = self.applier.apply(t.obj, self._apply_options(t), kind_wait=10.0 if t.skip_dry_run else 0.0)
        t.applied = out
        after = (out.get("metadata") or {}).get("resourceVersion") if isinstance(out, dict) else None
        verb = "created" if t.live is None or hookmod.delete_before_creation(t) else (
            "unchanged" if before and before == after else "configured")
        t.status, t.message, t.finished_at = SYNCED, f"{t.kind.lower()}/{t.name} {verb}", now()
        if t.is_hook:
            t.hook_phase = RUNNING

    def _prune(self, at: _Attempt, group: list[SyncTask], *, wait: bool) -> None:
        def one(t: SyncTask) -> None:
            prop = t.options.get("PrunePropagationPolicy", "foreground")
            self.applier.delete(t.obj, propagation=prop)

        for t in group:
            t.started_at = now()
        failed = []
        for t, res in zip(group, parallel(one, group, at.request.workers)):
            if isinstance(res, BaseException):
                self._fail(at, t, f"prune failed: {res}")
                failed.append(f"{t.key}: {res}")
            else:
                t.status, t.message, t.finished_at = PRUNED, "pruned", now()
                self._result(at, t)
        if failed:
            raise _Stop("Failed", "one or more objects failed to prune: " + "; ".join(failed))
        if wait:
            for t in group:
                while self.applier.get(t.obj) is not None:
                    self._check(at)
                    time.sleep(at.request.poll_interval)

    def _wait_health(self, at: _Attempt, tasks: list[SyncTask]) -> None:
        """Wait until every task of the step is done (see ``waits``); fail on Degraded or timeout."""
        pending = [t for t in tasks if t.status == SYNCED]
        seen: dict[int, str] = {}
        interval = at.request.poll_interval
        while pending:
            still: list[SyncTask] = []
            for t in pending:
                try:
                    live = self.applier.get(t.obj)
                except ClusterError:
                    still.append(t)  # transient: ask again
                    continue
                health = health_of(live, self.hooks, self.app.name) if live is not None else None
                state = verdict(t, health) if live is not None else RUNNING
                if state == RUNNING:
                    seen[id(t)] = describe(health) if live is not None else "Missing"
                    still.append(t)
                    continue
                t.finished_at = now()
                if state == FAILED:
                    if t.is_hook:
                        t.hook_phase = FAILED
                    else:
                        t.status = SYNC_FAILED
                    t.message = describe(health)
                    self._result(at, t)
                    raise _Stop("Failed", f"{t}: {describe(health)}")
                if t.is_hook:
                    t.hook_phase, t.message = SUCCEEDED, describe(health) if health else "completed"
                self._result(at, t)
            pending = still
            if not pending:
                return
            try:
                self._check(at)
            except _Stop as stop:
                if stop.message.startswith("operation timed out"):
                    waiting = "; ".join(f"{t.key} ({seen.get(id(t), 'unknown')})" for t in pending[:5])
                    for t in pending:
                        self._fail(at, t, f"timed out waiting for health ({seen.get(id(t), 'unknown')})")
                    raise _Stop("Failed", f"{stop.message} waiting for {len(pending)} resource(s) to become "
                                f"healthy: {waiting}") from None
                raise
            time.sleep(interval)
            interval = min(interval * 1.5, 0.5)

    # -- the end -------------------------------------------------------------------------
    def _on_failure(self, at: _Attempt) -> None:
        """Run the SyncFail hooks, then delete the hooks whose policy is HookFailed."""
        assert at.plan is not None
        if at.plan.syncfail:
            self._emit(at.op, "phase", phase="SyncFail", wave=at.plan.syncfail[0].wave)
            for step_wave in sorted({t.wave for t in at.plan.syncfail}):
                step = [t for t in at.plan.syncfail if t.wave == step_wave]
                self._emit(at.op, "wave", phase="SyncFail", wave=step_wave)
                try:
                    at.deadline = max(at.deadline or 0, time.monotonic() + 60) if at.deadline else None
                    self._run_step(at, step, wait=True)
                except _Stop:
                    break
        self._delete_finished_hooks(at, succeeded=False)

    def _delete_finished_hooks(self, at: _Attempt, *, succeeded: bool) -> None:
        assert at.plan is not None
        for t in [*at.plan.tasks, *at.plan.syncfail]:
            if not t.is_hook or t.status != SYNCED:
                continue
            ok = t.hook_phase == SUCCEEDED
            if t.hook_phase in (SUCCEEDED, FAILED) and hookmod.delete_after(t, ok):
                try:
                    self.applier.delete(t.applied or t.obj, propagation="background")
                except SyncwrightError:
                    pass  # a hook left behind is reported by the next sync's BeforeHookCreation
