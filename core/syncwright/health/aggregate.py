"""One resource's health in Argo CD's evaluation order, and an application's health.

``assess`` is what the sync and controller layers call per live object;
``aggregate`` folds the per-resource results into the app's health the way
Argo CD's ``setApplicationHealth`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..api import HealthContext, HealthStatus
from ..manifests import ResourceKey, key_of
from .status import (
    HEALTHY,
    HOOK_FINALIZER,
    IGNORE_HEALTHCHECK_ANNOTATION,
    MISSING,
    PROGRESSING,
    SUSPENDED,
    UNKNOWN,
    annotations_of,
    is_hook,
    is_skip,
    is_worse,
)

if TYPE_CHECKING:
    from ..plugins import Hooks

PENDING_DELETION = "Pending deletion"
#: How many resources "Caused by ..." names before "and N more".
CAUSES_SHOWN = 3


def assess(obj: Mapping[str, Any], hooks: Hooks, ctx: HealthContext | None = None) -> HealthStatus | None:
    """The health of one live object, or None when nothing assesses its kind.

    Order (gitops-engine ``GetResourceHealth``): an object being deleted
    (``deletionTimestamp`` set, no hook finalizer) is ``Progressing "Pending
    deletion"``; otherwise the ``syncwright_health`` plugins decide (user Lua
    first, built-ins last). A plugin that raises makes the object ``Unknown``
    with the error as message; a customization that returns no status
    (``HealthStatus("")``) means "no health", i.e. None.
    """
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    finalizers = meta.get("finalizers")
    if meta.get("deletionTimestamp") and not (isinstance(finalizers, list) and HOOK_FINALIZER in finalizers):
        return HealthStatus(PROGRESSING, PENDING_DELETION)
    try:
        result = hooks.health(dict(obj), ctx or HealthContext())
    except Exception as e:  # noqa: BLE001 - any plugin failure is this object's Unknown health
        return HealthStatus(UNKNOWN, f"health check failed for {key_of(dict(obj))}: {e}")
    if result is None or not result.status:
        return None
    return result


@dataclass(frozen=True)
class ResourceHealth:
    """One resource of an application, as the aggregation sees it.

    ``live`` is None for a resource in Git that is not in the cluster;
    ``target`` is None for a live resource no longer in Git; ``health`` is the
    result of ``assess`` on ``live`` (None = no health check for its kind).
    """

    key: ResourceKey
    live: Mapping[str, Any] | None = None
    target: Mapping[str, Any] | None = None
    health: HealthStatus | None = None


def describe(key: ResourceKey) -> str:
    """``<group>/<Kind>:<namespace>/<name>`` (core: ``<Kind>:...``; cluster-scoped: ``...:<name>``)."""
    gk = f"{key.group}/{key.kind}" if key.group else key.kind
    return f"{gk}:{key.namespace}/{key.name}" if key.namespace else f"{gk}:{key.name}"


def _is_app(key: ResourceKey) -> bool:
    return key.group == "argoproj.io" and key.kind == "Application"


def _aggregate_as(res: ResourceHealth, health: HealthStatus) -> str:
    # gitops-engine's AggregateAs: a suspended Job does not make its app Suspended.
    if health.status == SUSPENDED and res.key.group == "batch" and res.key.kind == "Job":
        return HEALTHY
    return health.status


def caused_by(keys: list[ResourceKey]) -> str:
    if not keys:
        return ""
    shown = ", ".join(describe(k) for k in keys[:CAUSES_SHOWN])
    more = len(keys) - CAUSES_SHOWN
    return f"Caused by {shown}" + (f" and {more} more" if more > 0 else "")


#: ``(live, target, health)``: the tuple form ``aggregate`` also accepts.
HealthTriple = tuple["Mapping[str, Any] | None", "Mapping[str, Any] | None", "HealthStatus | None"]


def _as_resource(item: ResourceHealth | HealthTriple) -> ResourceHealth:
    if isinstance(item, ResourceHealth):
        return item
    live, target, health = item
    obj = live if live is not None else target
    key = key_of(dict(obj)) if obj is not None else ResourceKey("", "", "", "")
    return ResourceHealth(key, live, target, health)


def aggregate(
    resources: Iterable[ResourceHealth | HealthTriple],
    *,
    app_name: str | None = None,
    app_namespace: str | None = None,
) -> HealthStatus:
    """The application's health: the worst of its resources in Argo CD's order.

    Skipped, as Argo CD does: ``Skip`` targets, live hooks, resources annotated
    ``argocd.argoproj.io/ignore-healthcheck: "true"``, the app's own
    Application object (app of apps managing itself), resources without a
    health check, a missing resource (its ``Missing`` shows per resource and
    as OutOfSync, not in the app's health), and a child Application's
    ``Missing``/``Unknown``. When the app has resources but none is live, it
    is ``Missing``. The message names up to three resources with the app's
    status: ``Caused by apps/Deployment:ns/web, ... and N more``. Items are
    ``ResourceHealth`` or ``(live, target, health)`` tuples.
    """
    app_status = HEALTHY
    contains_resources = contains_live = False
    causes: dict[str, list[ResourceKey]] = {}
    missing: list[ResourceKey] = []
    for item in resources:
        res = _as_resource(item)
        if res.target is not None and is_skip(res.target):
            continue
        if res.live is not None and is_hook(res.live):
            continue
        contains_resources = True
        if res.live is None:
            missing.append(res.key)
            continue
        contains_live = True
        if annotations_of(res.live).get(IGNORE_HEALTHCHECK_ANNOTATION) == "true":
            continue
        if _is_app(res.key) and app_name is not None and res.key.name == app_name and (
            app_namespace is None or res.key.namespace == app_namespace
        ):
            continue
        health = res.health
        if health is None or not health.status:
            continue
        if _is_app(res.key) and health.status in (MISSING, UNKNOWN):
            continue
        code = _aggregate_as(res, health)
        causes.setdefault(code, []).append(res.key)
        if is_worse(app_status, code):
            app_status = code
    if contains_resources and not contains_live and is_worse(app_status, MISSING):
        return HealthStatus(MISSING, caused_by(missing))
    if app_status == HEALTHY:
        return HealthStatus(HEALTHY)
    return HealthStatus(app_status, caused_by(causes.get(app_status, [])))
