"""Planning: rendered manifests + live state → the ordered task list of one sync.

Pure (no API calls): the caller passes the live state (the cluster cache or
a snapshot) and a predicate telling which kinds the cluster serves.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..annotations import sync_wave
from ..diff import compare_app, compile_rules
from ..diff.settings import system_rules
from ..diff.ignore import IgnoreRule
from ..errors import SpecError
from ..manifests import ResourceKey, group_of
from ..model import Application
from ..tracking import Tracking
from . import options as opts
from .compare import LiveState, Scopes, default_namespaces
from .hooks import hook_tasks
from .tasks import PRUNE_SKIPPED, SyncTask, place_prunes, sort_tasks


#: Application annotation that confirms ``Prune=confirm`` prunes (Argo CD's, an RFC 3339 time).
DELETION_APPROVED = "argocd.argoproj.io/deletion-approved"


@dataclass(frozen=True)
class ResourceSelector:
    """``GROUP:KIND:[NAMESPACE/]NAME`` as ``--resource`` and Argo CD's ``sync --resource`` take it."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str) -> ResourceSelector:
        parts = text.split(":")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise SpecError(f"--resource {text!r} must be GROUP:KIND:[NAMESPACE/]NAME (GROUP may be empty)")
        ns, _, name = parts[2].rpartition("/")
        return cls(parts[0], parts[1], ns, name)

    def matches(self, key: ResourceKey) -> bool:
        return (self.group, self.kind, self.name) == (key.group, key.kind, key.name) and (
            not self.namespace or self.namespace == key.namespace)

    def __str__(self) -> str:
        return f"{self.group}:{self.kind}:{self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass
class Plan:
    """What one sync will do, in order; ``errors`` stop it before any write."""

    tasks: list[SyncTask]
    syncfail: list[SyncTask]
    skipped: list[SyncTask]  # results recorded without an action (PruneSkipped)
    app_options: dict[str, str]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def multi_step(self) -> bool:
        """Argo CD waits for health only when the sync has several steps or any hook."""
        if not self.tasks:
            return False
        return self.tasks[0].step != self.tasks[-1].step or any(t.is_hook for t in self.tasks)

    def steps(self) -> list[list[SyncTask]]:
        out: list[list[SyncTask]] = []
        for t in self.tasks:
            if out and out[-1][0].step == t.step:
                out[-1].append(t)
            else:
                out.append([t])
        return out


def _respect_ignored(target: dict[str, Any], live: dict[str, Any] | None, rules: tuple[IgnoreRule, ...]) -> dict[str, Any]:
    """RespectIgnoreDifferences: keep the live value of every ignored JSON-pointer field."""
    if live is None:
        return target
    out = target
    for rule in rules:
        if not rule.matches(target):
            continue
        for path in rule.pointers:
            if not path:
                continue
            src: Any = live
            for token in path:
                src = src.get(token) if isinstance(src, dict) else None
            if out is target:
                out = copy.deepcopy(target)
            parent: Any = out
            for token in path[:-1]:
                if not isinstance(parent, dict):
                    parent = None
                    break
                parent = parent.setdefault(token, {})
            if isinstance(parent, dict):
                if src is None:
                    parent.pop(path[-1], None)
                else:
                    parent[path[-1]] = copy.deepcopy(src)
    return out


def build_plan(
    app: Application,
    manifests: list[dict[str, Any]],
    live: LiveState,
    *,
    scopes: Scopes | None = None,
    served: Callable[[str, str], bool] = lambda group, kind: True,
    tracking: Tracking | None = None,
    prune: bool = False,
    extra_options: Iterable[str] = (),
    resources: Iterable[ResourceSelector] = (),
    revision: str = "",
    started_unix: int = 0,
    manager: str = "syncwright",
) -> Plan:
    """Every desired resource, hook and prune candidate as tasks, in execution order."""
    tracking = tracking or Tracking()
    policy = app.spec.sync_policy
    app_options = opts.parse(policy.sync_options if policy else (), f"app {app.name!r} syncPolicy.syncOptions")
    app_options.update(opts.parse(extra_options, "--sync-option"))
    selectors = list(resources)
    rules = compile_rules(app.spec.ignore_differences, f"app {app.name!r}") + system_rules()
    targets = default_namespaces(manifests, app.dest_namespace, scopes)
    targets = [tracking.stamp(t, app.name, app.dest_namespace) for t in targets]
    comparison = compare_app(app.name, targets, lambda k: live.find(k.group, k.kind, k.namespace, k.name),
                             live.tracked(app.name), tracking=tracking, rules=rules, manager=manager)
    tasks: list[SyncTask] = []
    skipped: list[SyncTask] = []
    errors: list[str] = []
    crd_kinds = {(str((t.get("spec") or {}).get("group", "")), str(((t.get("spec") or {}).get("names") or {}).get("kind", "")))
                 for t in targets if t.get("kind") == "CustomResourceDefinition"}
    for r in comparison.resources:
        if selectors and not any(s.matches(r.key) for s in selectors):
            continue
        if r.requires_pruning:
            if r.status == "Synced":  # IgnoreExtraneous
                continue
            assert r.live is not None
            task = SyncTask("Sync", 0, r.key, None, r.live, prune=True, own_wave=sync_wave(r.live),
                            options=opts.effective(app_options, None, r.live))
            if not prune:
                task.status, task.message = PRUNE_SKIPPED, "ignored (requires pruning)"
                skipped.append(task)
            elif task.options.get("Prune") == "false":
                task.status, task.message = PRUNE_SKIPPED, "ignored (no prune)"
                skipped.append(task)
            elif task.options.get("Prune") == "confirm" and DELETION_APPROVED not in app.metadata.annotations:
                task.status = PRUNE_SKIPPED
                task.message = f"ignored (Prune=confirm: annotate the Application with {DELETION_APPROVED})"
                skipped.append(task)
            else:
                tasks.append(task)
            continue
        assert r.target is not None
        options = opts.effective(app_options, r.target, r.live)
        if r.tracked_by and r.tracked_by != app.name and opts.is_true(options, "FailOnSharedResource"):
            errors.append(f"{r.key} is part of applications {app.name} and {r.tracked_by}")
        target = _respect_ignored(r.target, r.live, rules) if opts.is_true(options, "RespectIgnoreDifferences") else r.target
        task = SyncTask("Sync", sync_wave(r.target), r.key, target, r.live, options=options,
                        out_of_sync=r.status == "OutOfSync")
        gk = (group_of(str(r.target.get("apiVersion", ""))), r.key.kind)
        if not served(*gk) and (gk in crd_kinds or opts.is_true(options, "SkipDryRunOnMissingResource")):
            task.skip_dry_run = True
        tasks.append(task)
    if opts.is_true(app_options, "ApplyOutOfSyncOnly"):
        tasks = [t for t in tasks if t.prune or t.out_of_sync]
    syncfail: list[SyncTask] = []
    if not selectors:  # hooks are skipped for a selective sync, as in Argo CD
        for hook in comparison.hooks:
            for t in hook_tasks(hook, revision=revision, started_unix=started_unix):
                t.live = live.find(t.key.group, t.key.kind, t.key.namespace, t.key.name)
                t.options = opts.effective(app_options, t.target, t.live)
                (syncfail if t.phase == "SyncFail" else tasks).append(t)
    place_prunes(tasks)
    ordered = sort_tasks(tasks)
    return Plan(ordered, sort_tasks(syncfail), skipped, app_options, errors, list(comparison.warnings))
