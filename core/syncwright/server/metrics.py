"""Metrics exposition for ``/metrics``; the metrics themselves live in the leaf ``syncwright.metrics``.

Re-exports the recording functions so server code (and older callers) keep
``from . import metrics``; adds the sync-hook plugin that times operations,
which needs the plugin API and so cannot live in the leaf module.
"""

from __future__ import annotations

import time
from typing import Any

from ..api import hookimpl
from ..metrics import (
    HEALTH_STATUSES, SYNC_STATUSES, exposition, inc_git_request, inc_http, inc_tool_run, inc_webhook,
    observe_operation, observe_reconcile, registry, remove_app, set_app_state, set_queue_depth, time_reconcile,
    value,
)

__all__ = ["HEALTH_STATUSES", "SYNC_STATUSES", "OperationMetricsPlugin", "exposition", "inc_git_request",
           "inc_http", "inc_tool_run", "inc_webhook", "observe_operation", "observe_reconcile", "registry",
           "remove_app", "set_app_state", "set_queue_depth", "time_reconcile", "value"]


class OperationMetricsPlugin:
    """A ``syncwright_sync_hook`` plugin: times every operation from ``start`` to ``end``.

    Register it with ``Hooks.load(extra_plugins=[OperationMetricsPlugin()])``;
    this is how the sync layer feeds metrics without importing this module.
    """

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    @hookimpl
    def syncwright_sync_hook(self, event: Any) -> None:
        if event.dry_run:
            return
        if event.kind == "start":
            self._started[event.operation_id] = time.monotonic()
        elif event.kind == "end":
            start = self._started.pop(event.operation_id, None)
            if start is not None:
                observe_operation(event.app, "sync", event.status or "Unknown", time.monotonic() - start)
