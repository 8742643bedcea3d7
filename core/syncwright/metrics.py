"""Prometheus metrics, created on first use so importing this module costs nothing.

A leaf module (it imports nothing from syncwright), so every layer — the
tool runner, the repo mirrors, the controller — can count what it does
without importing the server. ``prometheus_client`` is imported by the first
call, never at import time, so ``syncwright --help`` and the render path stay
lean. The metrics live in a private registry (not the process-global
default); ``server/metrics.py`` exposes them on ``/metrics``.

Names follow Argo CD's where one exists (``argocd_app_info`` →
``syncwright_app_info``, ``argocd_app_reconcile`` → ``syncwright_app_reconcile_seconds``,
``argocd_git_request_total`` → ``syncwright_git_requests_total``). Per-app
series are labelled by app name only where Argo CD does so; histograms are
not, to keep the series count independent of the number of apps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SYNC_STATUSES = ("Synced", "OutOfSync", "Unknown")
HEALTH_STATUSES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")
_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128)

_lock = threading.Lock()
_metrics: _Metrics | None = None


@dataclass
class _Metrics:
    registry: Any
    app_info: Any
    app_sync: Any
    app_health: Any
    app_sync_total: Any
    reconcile: Any
    operation: Any
    git: Any
    tool: Any
    queue: Any
    webhook: Any
    http: Any
    info_labels: dict[str, tuple[str, ...]]


def _get() -> _Metrics:
    global _metrics
    if _metrics is not None:
        return _metrics
    with _lock:
        if _metrics is None:
            from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

            r = CollectorRegistry()
            _metrics = _Metrics(
                registry=r,
                app_info=Gauge("syncwright_app_info", "Information about an Application (value is 1).",
                               ["name", "project", "dest_server", "dest_namespace", "repo", "sync_status",
                                "health_status"], registry=r),
                app_sync=Gauge("syncwright_app_sync_status", "1 for the app's current sync status, else 0.",
                               ["name", "status"], registry=r),
                app_health=Gauge("syncwright_app_health_status", "1 for the app's current health, else 0.",
                                 ["name", "status"], registry=r),
                app_sync_total=Counter("syncwright_app_sync", "Sync operations completed, by final phase.",
                                       ["name", "phase"], registry=r),
                reconcile=Histogram("syncwright_app_reconcile_seconds", "Time to compare one app (refresh).",
                                    ["dest_server"], buckets=_DURATION_BUCKETS, registry=r),
                operation=Histogram("syncwright_app_operation_seconds", "Duration of sync/rollback operations.",
                                    ["kind", "phase"], buckets=_DURATION_BUCKETS, registry=r),
                git=Counter("syncwright_git_requests", "Git requests (fetch, ls-remote) made.",
                            ["repo", "request_type", "failed"], registry=r),
                tool=Counter("syncwright_tool_runs", "Tool executions (helm, kustomize, plugins).",
                             ["tool", "failed"], registry=r),
                queue=Gauge("syncwright_queue_depth", "Items waiting in a work queue.", ["queue"], registry=r),
                webhook=Counter("syncwright_webhook_requests", "Webhook deliveries, by provider and result.",
                                ["provider", "result"], registry=r),
                http=Counter("syncwright_http_requests", "API requests, by route and status code.",
                             ["method", "route", "code"], registry=r),
                info_labels={},
            )
    assert _metrics is not None
    return _metrics


def registry() -> Any:
    """The registry ``/metrics`` exposes."""
    return _get().registry


def set_app_state(name: str, *, project: str, sync_status: str, health_status: str, dest_server: str = "",
                  dest_namespace: str = "", repo: str = "") -> None:
    """Record an app's current sync status and health (one-hot gauges plus the info series)."""
    m = _get()
    labels = (name, project, dest_server, dest_namespace, repo, sync_status, health_status)
    with _lock:
        old = m.info_labels.get(name)
        if old is not None and old != labels:
            m.app_info.remove(*old)
        m.info_labels[name] = labels
    m.app_info.labels(*labels).set(1)
    for s in set(SYNC_STATUSES) | {sync_status}:
        m.app_sync.labels(name, s).set(1 if s == sync_status else 0)
    for h in set(HEALTH_STATUSES) | {health_status}:
        m.app_health.labels(name, h).set(1 if h == health_status else 0)


def remove_app(name: str) -> None:
    """Forget a deleted app's series."""
    m = _get()
    with _lock:
        old = m.info_labels.pop(name, None)
    if old is not None:
        m.app_info.remove(*old)
    for gauge in (m.app_sync, m.app_health, m.app_sync_total):
        for labels in [s for s in _label_sets(gauge) if s[0] == name]:
            gauge.remove(*labels)


def _label_sets(metric: Any) -> list[tuple[str, ...]]:
    return [tuple(s.labels[n] for n in metric._labelnames) for fam in metric.collect() for s in fam.samples]


def observe_reconcile(seconds: float, dest_server: str = "") -> None:
    _get().reconcile.labels(dest_server).observe(seconds)


@contextmanager
def time_reconcile(dest_server: str = "") -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        observe_reconcile(time.monotonic() - start, dest_server)


def observe_operation(name: str, kind: str, phase: str, seconds: float) -> None:
    m = _get()
    m.operation.labels(kind, phase).observe(seconds)
    m.app_sync_total.labels(name, phase).inc()


def inc_git_request(repo: str, request_type: str = "fetch", failed: bool = False) -> None:
    _get().git.labels(repo, request_type, "true" if failed else "false").inc()


def inc_tool_run(tool: str, failed: bool = False) -> None:
    _get().tool.labels(tool, "true" if failed else "false").inc()


def set_queue_depth(queue: str, depth: int) -> None:
    _get().queue.labels(queue).set(depth)


def inc_webhook(provider: str, result: str) -> None:
    _get().webhook.labels(provider, result).inc()


def inc_http(method: str, route: str, code: int) -> None:
    _get().http.labels(method, route, str(code)).inc()


def exposition() -> tuple[bytes, str]:
    """The text exposition and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_get().registry), CONTENT_TYPE_LATEST


def value(name: str, labels: dict[str, str] | None = None) -> float:
    """A sample's current value (0 when absent): for tests and the benchmark, not for control flow."""
    got = _get().registry.get_sample_value(name, labels or {})
    return float(got) if got is not None else 0.0


_enabled = False


def enable() -> None:
    """Start recording the low-level counters (tool runs, git requests) in this process.

    The controller and the server call this; a plain ``syncwright render``
    never does, so the CLI's render path does not import ``prometheus_client``.
    """
    global _enabled
    _enabled = True


def enabled() -> bool:
    return _enabled or _metrics is not None


def tool_ran(tool: str, failed: bool = False) -> None:
    """``inc_tool_run`` when metrics are enabled (called by ``execution.run`` for every tool)."""
    if enabled():
        inc_tool_run(tool, failed)


def git_requested(repo: str, request_type: str, failed: bool = False) -> None:
    """``inc_git_request`` when metrics are enabled (called by the repo mirrors for network git calls)."""
    if enabled():
        inc_git_request(repo, request_type, failed)
