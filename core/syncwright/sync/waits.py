"""Health waits: when a wave's resources and hooks count as done (Argo CD's rules).

A hook is done when Healthy (Job Complete, Pod Succeeded) or when its kind
has no health check, and failed when Degraded or Unknown. A normal resource
is done when Healthy, Suspended or without a health check, and failed when
Degraded; anything else (Progressing, Missing) keeps the wave waiting until
the operation's timeout.
"""

from __future__ import annotations

from typing import Any

from ..api import HealthContext, HealthStatus
from ..health import assess
from ..plugins import Hooks
from .tasks import SyncTask


def health_of(obj: dict[str, Any], hooks: Hooks, app: str) -> HealthStatus | None:
    """The health of a live object through the health layer (plugins, Lua, built-ins)."""
    return assess(obj, hooks, HealthContext(app_name=app))


def verdict(task: SyncTask, health: HealthStatus | None) -> str:
    """``Succeeded``, ``Failed`` or ``Running`` for an applied task given its live health."""
    if health is None:
        return "Succeeded"
    code = health.status
    if task.is_hook:
        if code == "Healthy":
            return "Succeeded"
        if code in ("Degraded", "Unknown"):
            return "Failed"
        return "Running"
    if code in ("Healthy", "Suspended"):
        return "Succeeded"
    if code == "Degraded":
        return "Failed"
    return "Running"


def describe(health: HealthStatus | None) -> str:
    if health is None:
        return "no health check"
    return f"{health.status}: {health.message}" if health.message else health.status
