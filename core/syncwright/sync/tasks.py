"""Sync tasks: one per resource to apply, hook to run or object to prune, and their order.

The order is gitops-engine's (``pkg/sync/sync_tasks.go``): phase, then wave,
then the Helm/Argo CD kind order, then name; afterwards a Namespace or CRD
that sorts after its first dependent is moved in front of it (``adjustDeps``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..manifests import ResourceKey, group_of, key_of

PHASES = ("PreSync", "Sync", "PostSync", "SyncFail")
PHASE_ORDER = {"PreSync": -1, "Sync": 0, "PostSync": 1, "SyncFail": 2}

#: Helm's install order, as gitops-engine uses it (unknown kinds after all of these).
KIND_ORDER = (
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
    "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
    "IngressClass", "Ingress", "APIService",
)
_KIND_RANK = {k: i for i, k in enumerate(KIND_ORDER)}

# Result codes (gitops-engine ``common.ResultCode``) and hook/operation phases.
SYNCED, SYNC_FAILED, PRUNED, PRUNE_SKIPPED = "Synced", "SyncFailed", "Pruned", "PruneSkipped"
RUNNING, SUCCEEDED, FAILED, TERMINATING, ERROR = "Running", "Succeeded", "Failed", "Terminating", "Error"


def kind_rank(kind: str) -> int:
    return _KIND_RANK.get(kind, len(KIND_ORDER))


@dataclass
class SyncTask:
    """One unit of work. ``target`` is what to apply (None for a prune); ``live`` what exists."""

    phase: str
    wave: int
    key: ResourceKey
    target: dict[str, Any] | None
    live: dict[str, Any] | None
    hook_type: str = ""  # the hook phase when this task is a hook, else ""
    prune: bool = False
    options: dict[str, str] = field(default_factory=dict)  # effective sync options (app + resource)
    out_of_sync: bool = True
    skip_dry_run: bool = False
    own_wave: int = 0  # a prune task's wave from its live annotation (prunes run highest first)
    late: bool = False  # PruneLast: after every phase and wave
    # results
    status: str = ""  # Synced | SyncFailed | Pruned | PruneSkipped
    hook_phase: str = ""  # Running | Succeeded | Failed (hooks and health waits)
    message: str = ""
    started_at: str = ""
    finished_at: str = ""
    applied: dict[str, Any] | None = None  # the object as the API server returned it

    @property
    def is_hook(self) -> bool:
        return bool(self.hook_type)

    @property
    def obj(self) -> dict[str, Any]:
        obj = self.target if self.target is not None else self.live
        assert obj is not None
        return obj

    @property
    def kind(self) -> str:
        return self.key.kind

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def step(self) -> tuple[bool, int, int]:
        """The (late, phase, wave) this task runs in; the engine runs one step at a time."""
        return (self.late, PHASE_ORDER[self.phase], self.wave)

    def sort_key(self) -> tuple[Any, ...]:
        if self.prune:  # prunes first within their step, highest own wave first, reverse kind order
            return (*self.step, 0, -self.own_wave, -kind_rank(self.kind), self.key.namespace, self.name)
        return (*self.step, 1, 0, kind_rank(self.kind), self.key.namespace, self.name)

    @property
    def done(self) -> bool:
        return self.status in (SYNC_FAILED, PRUNED, PRUNE_SKIPPED) or (
            self.status == SYNCED and self.hook_phase not in (RUNNING,))

    @property
    def failed(self) -> bool:
        return self.status == SYNC_FAILED or self.hook_phase == FAILED

    def __str__(self) -> str:
        what = f"{self.hook_type} hook " if self.hook_type else ("prune " if self.prune else "")
        return f"{what}{self.key}"


def task_for(obj: dict[str, Any], phase: str, *, live: dict[str, Any] | None = None, hook_type: str = "",
             wave: int = 0) -> SyncTask:
    return SyncTask(phase, wave, key_of(obj), obj, live, hook_type)


def _is_namespace(t: SyncTask) -> bool:
    return t.key.group == "" and t.kind == "Namespace"


def _is_crd(t: SyncTask) -> bool:
    return t.key.group == "apiextensions.k8s.io" and t.kind == "CustomResourceDefinition"


def _crd_target(t: SyncTask) -> tuple[str, str] | None:
    spec = (t.obj.get("spec") or {})
    names = spec.get("names") or {}
    if spec.get("group") and names.get("kind"):
        return str(spec["group"]), str(names["kind"])
    return None


def sort_tasks(tasks: list[SyncTask]) -> list[SyncTask]:
    """Sort, then move each Namespace/CRD before its first dependent (gitops-engine ``adjustDeps``)."""
    out = sorted(tasks, key=SyncTask.sort_key)
    moved = True
    guard = 0
    while moved and guard < len(out) + 1:
        moved, guard = False, guard + 1
        for i, dep in enumerate(out):
            if dep.prune or not (_is_namespace(dep) or _is_crd(dep)):
                continue
            crd = _crd_target(dep) if _is_crd(dep) else None
            for j in range(i):
                other = out[j]
                if other.prune:
                    continue
                needs = (other.key.namespace == dep.name) if _is_namespace(dep) else (
                    crd is not None and (group_of(str(other.obj.get("apiVersion", ""))), other.kind) == crd)
                if needs:
                    dep.phase, dep.wave = other.phase, other.wave
                    out.insert(j, out.pop(i))
                    moved = True
                    break
            if moved:
                break
    return out


def place_prunes(tasks: list[SyncTask]) -> None:
    """Put prune tasks in the last wave of the Sync phase, or after everything with PruneLast.

    Inside that step they run by their own wave, highest first (Argo CD's
    reversed prune waves), each own-wave group after the previous one.
    """
    sync_waves = [t.wave for t in tasks if not t.prune and t.phase == "Sync"]
    last = max(sync_waves) if sync_waves else 0
    for t in tasks:
        if t.prune:
            t.phase, t.wave = "Sync", last
            if t.options.get("PruneLast") == "true":
                t.late = True
