"""Probes, the metrics exposition, and JSON log lines."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from syncwright.server import metrics
from syncwright.server.logging import JsonFormatter, setup


def test_probes(api: Any) -> None:
    assert api.get("/healthz", auth=False).json() == {"status": "ok"}
    assert api.get("/readyz", auth=False).status_code == 200
    api.backend.is_ready = False
    r = api.get("/readyz", auth=False)
    assert r.status_code == 503 and r.json()["reason"] == "cluster cache not synced"
    assert api.get("/healthz", auth=False).status_code == 200  # liveness does not depend on the backend


def test_metrics_exposition_parses(api: Any) -> None:
    metrics.set_app_state("guestbook", project="default", sync_status="OutOfSync", health_status="Degraded",
                          dest_server="https://kubernetes.default.svc", dest_namespace="demo", repo="https://x/y")
    metrics.set_app_state("guestbook", project="default", sync_status="Synced", health_status="Healthy",
                          dest_server="https://kubernetes.default.svc", dest_namespace="demo", repo="https://x/y")
    metrics.observe_reconcile(0.2)
    with metrics.time_reconcile("https://kubernetes.default.svc"):
        pass
    metrics.observe_operation("guestbook", "sync", "Succeeded", 3.5)
    metrics.inc_git_request("https://x/y", "fetch")
    metrics.inc_git_request("https://x/y", "ls-remote", failed=True)
    metrics.inc_tool_run("helm")
    metrics.set_queue_depth("compare", 7)
    api.get("/api/v1/applications")
    r = api.get("/metrics", auth=False)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    info = [s for s in fams["syncwright_app_info"].samples if s.labels["name"] == "guestbook"]
    assert len(info) == 1 and info[0].labels["sync_status"] == "Synced"  # the old label set is gone
    sync = {s.labels["status"]: s.value for s in fams["syncwright_app_sync_status"].samples
            if s.labels["name"] == "guestbook"}
    assert sync["Synced"] == 1 and sync["OutOfSync"] == 0
    health = {s.labels["status"]: s.value for s in fams["syncwright_app_health_status"].samples
              if s.labels["name"] == "guestbook"}
    assert health["Healthy"] == 1 and health["Degraded"] == 0
    assert sum(s.value for s in fams["syncwright_app_reconcile_seconds"].samples if s.name.endswith("_count")) >= 2
    assert any(s.name.endswith("_count") for s in fams["syncwright_app_operation_seconds"].samples)
    git = {(s.labels["request_type"], s.labels["failed"]): s.value for s in fams["syncwright_git_requests"].samples
           if s.name.endswith("_total")}
    assert git[("ls-remote", "true")] >= 1
    assert any(s.labels["tool"] == "helm" for s in fams["syncwright_tool_runs"].samples)
    assert [s.value for s in fams["syncwright_queue_depth"].samples if s.labels["queue"] == "compare"] == [7]
    assert any(s.labels["route"] == "/api/v1/applications" and s.labels["code"] == "200"
               for s in fams["syncwright_http_requests"].samples)
    metrics.remove_app("guestbook")
    after = {f.name: f for f in text_string_to_metric_families(api.get("/metrics", auth=False).text)}
    for name in ("syncwright_app_info", "syncwright_app_sync_status", "syncwright_app_health_status"):
        assert not [s for s in after[name].samples if s.labels.get("name") == "guestbook"], name


def test_operation_metrics_plugin_times_operations() -> None:
    from syncwright.api import SyncEvent

    plugin = metrics.OperationMetricsPlugin()
    before = _count("Failed")
    plugin.syncwright_sync_hook(SyncEvent(kind="start", app="a", operation_id="op1"))
    plugin.syncwright_sync_hook(SyncEvent(kind="end", app="a", operation_id="op1", status="Failed"))
    plugin.syncwright_sync_hook(SyncEvent(kind="end", app="a", operation_id="unknown", status="Failed"))
    assert _count("Failed") == before + 1


def _count(phase: str) -> float:
    from prometheus_client import generate_latest

    for fam in text_string_to_metric_families(generate_latest(metrics.registry()).decode()):
        if fam.name == "syncwright_app_operation_seconds":
            return sum(s.value for s in fam.samples if s.name.endswith("_count") and s.labels["phase"] == phase)
    return 0.0


def _restore(handler: logging.Handler) -> None:
    """Undo setup(): other tests in this process rely on propagation to pytest's capture."""
    logger = logging.getLogger("syncwright")
    logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def test_json_logs_carry_app_revision_and_operation() -> None:
    stream = io.StringIO()
    handler = setup("debug", stream)
    try:
        log = logging.getLogger("syncwright.controller")
        log.info("synced %s", "guestbook", extra={"app": "guestbook", "revision": "abc123", "operation": "op-9"})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("failed", extra={"app": "x"})
    finally:
        _restore(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["msg"] == "synced guestbook" and lines[0]["level"] == "info"
    assert lines[0]["app"] == "guestbook" and lines[0]["revision"] == "abc123" and lines[0]["operation_id"] == "op-9"
    assert lines[0]["logger"] == "syncwright.controller" and lines[0]["time"].endswith("Z")
    assert lines[1]["error"] == "RuntimeError: boom" and lines[1]["level"] == "error"


def test_api_requests_are_logged_as_json(api: Any) -> None:
    stream = io.StringIO()
    handler = setup("info", stream)
    try:
        api.post("/api/v1/applications/guestbook/sync", json={})
    finally:
        _restore(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    sync = next(r for r in records if r["msg"] == "sync requested")
    assert sync["app"] == "guestbook" and sync["operation_id"] == "op-1"
    access = next(r for r in records if r.get("route") == "/api/v1/applications/{name}/sync")
    assert access["status"] == 202 and access["method"] == "POST" and "duration_ms" in access
    assert api.token not in stream.getvalue()


def test_formatter_stringifies_unusual_extras() -> None:
    rec = logging.LogRecord("syncwright", logging.INFO, "f", 1, "m", None, None)
    rec.obj = {"a": 1}
    assert json.loads(JsonFormatter().format(rec))["obj"] == "{'a': 1}"


def test_metrics_module_does_not_import_prometheus_until_used() -> None:
    import subprocess
    import sys

    code = ("import sys, syncwright.server.metrics as m; assert 'prometheus_client' not in sys.modules; "
            "m.inc_tool_run('helm'); assert 'prometheus_client' in sys.modules")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
