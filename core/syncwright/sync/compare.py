"""One app's state: rendered manifests against the live cache, with sync status and health.

Argo CD's ``CompareAppState`` in miniature: targets get the destination
namespace when namespaced and unset, and this app's tracking; they are
compared with the live objects (from the cluster cache — no API calls);
each live resource gets a health, and the app's health is the aggregate.
Lives in ``sync`` (below ``controller``) because the sync planner needs it;
``syncwright.controller.compare`` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..api import HealthContext, HealthStatus
from ..diff import AppComparison, IgnoreRule, ResourceComparison, compare_app, compile_rules
from ..health import aggregate, assess
from ..manifests import ResourceKey
from ..model import Application
from ..plugins import Hooks
from ..tracking import Tracking


class LiveState(Protocol):
    """What the comparison reads: the cluster cache satisfies it."""

    def find(self, group: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...
    def tracked(self, app: str) -> list[dict[str, Any]]: ...
    def children(self, obj: dict[str, Any]) -> list[dict[str, Any]]: ...


class Scopes(Protocol):
    def for_object(self, obj: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class ResourceState:
    key: ResourceKey
    status: str
    health: HealthStatus | None
    comparison: ResourceComparison

    @property
    def hook(self) -> str:
        return self.comparison.hook

    @property
    def wave(self) -> int:
        return self.comparison.wave


@dataclass(frozen=True)
class AppState:
    name: str
    sync_status: str
    health: HealthStatus
    resources: tuple[ResourceState, ...]
    comparison: AppComparison
    targets: tuple[dict[str, Any], ...]
    conditions: tuple[str, ...] = field(default=())


def default_namespaces(targets: list[dict[str, Any]], namespace: str, scopes: Scopes | None) -> list[dict[str, Any]]:
    """Give namespaced targets without a namespace the destination namespace (Argo CD rule)."""
    if not namespace:
        return targets
    out = []
    for obj in targets:
        meta = obj.get("metadata") or {}
        if not meta.get("namespace"):
            res = scopes.for_object(obj) if scopes is not None else None
            if res is None or getattr(res, "namespaced", True):
                obj = {**obj, "metadata": {**meta, "namespace": namespace}}
        out.append(obj)
    return out


def compare_app_state(
    app: Application,
    manifests: list[dict[str, Any]],
    live: LiveState,
    hooks: Hooks,
    *,
    scopes: Scopes | None = None,
    tracking: Tracking | None = None,
    manager: str = "syncwright",
    system_rules: tuple[IgnoreRule, ...] = (),
) -> AppState:
    """Sync status and health of ``app`` given its rendered ``manifests`` and live state."""
    tracking = tracking or Tracking()
    rules = compile_rules(app.spec.ignore_differences, f"app {app.name!r}") + system_rules
    targets = default_namespaces(manifests, app.dest_namespace, scopes)
    targets = [tracking.stamp(t, app.name, app.dest_namespace) for t in targets]
    comparison = compare_app(
        app.name, targets,
        lambda k: live.find(k.group, k.kind, k.namespace, k.name),
        live.tracked(app.name), tracking=tracking, rules=rules, manager=manager,
    )
    states = []
    for r in comparison.resources:
        if r.live is None:
            health: HealthStatus | None = HealthStatus("Missing", "")
        else:
            health = assess(r.live, hooks, HealthContext(app_name=app.name, children=tuple(live.children(r.live))))
        states.append(ResourceState(r.key, r.status, health, r))
    app_health = aggregate([(s.comparison.live, s.comparison.target, s.health) for s in states])
    return AppState(app.name, comparison.status, app_health, tuple(states), comparison, tuple(targets),
                    comparison.warnings)
