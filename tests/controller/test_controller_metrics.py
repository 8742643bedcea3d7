"""Metrics from every layer: tool runs (execution), git requests (repo), reconciles and operations (controller)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from controller_harness import Harness, configmaps, git, git_daemon, stop_daemon, wait_for, served_repo

from syncwright import metrics
from syncwright.execution import run
from syncwright.errors import ToolError


def total(sample: str) -> float:
    """The sum of ``sample`` over all label sets."""
    return float(sum(s.value for fam in metrics.registry().collect() for s in fam.samples if s.name == sample))


def test_tool_runs_are_counted_by_tool_and_outcome() -> None:
    metrics.enable()
    ok, bad = {"tool": "true", "failed": "false"}, {"tool": "false", "failed": "true"}
    before_ok, before_bad = metrics.value("syncwright_tool_runs_total", ok), metrics.value("syncwright_tool_runs_total", bad)
    run(["true"], what="app demo: a check")  # ``what`` is not a label: it may name an app
    with pytest.raises(ToolError):
        run(["false"])
    assert metrics.value("syncwright_tool_runs_total", ok) == before_ok + 1
    assert metrics.value("syncwright_tool_runs_total", bad) == before_bad + 1


def test_cli_paths_do_not_import_prometheus() -> None:
    code = ("import sys; import syncwright.cli, syncwright.metrics; from syncwright.execution import run; "
            "run(['true']); assert 'prometheus_client' not in sys.modules, 'imported'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([str(Path(sys.executable).parent / "syncwright"), "--help"], capture_output=True, text=True,
                         timeout=60, env={"PYTHONVERBOSE": "1"} | dict(__import__("os").environ))
    assert res.returncode == 0 and "prometheus_client" not in res.stderr


@pytest.mark.slow
def test_reconcile_operation_and_git_metrics_move(harness: Harness, tmp_path: Path) -> None:
    h = harness
    work, daemon, port = served_repo(tmp_path, "m", configmaps(2))
    try:
        url = f"git://127.0.0.1:{port}/m.git"
        app = h.app("met", "app", repo_url=url, auto={"prune": True},
                    extra={"source": {"repoURL": url, "path": "app", "targetRevision": "main"}})
        metrics.enable()
        reconciles = total("syncwright_app_reconcile_seconds_count")
        ops = metrics.value("syncwright_app_operation_seconds_count", {"kind": "sync", "phase": "Succeeded"})
        ls = metrics.value("syncwright_git_requests_total", {"repo": url, "request_type": "ls-remote", "failed": "false"})
        h.start()
        wait_for(lambda: h.sync_health(app) == ("Synced", "Healthy"), 20, "synced")
        assert total("syncwright_app_reconcile_seconds_count") > reconciles
        assert metrics.value("syncwright_app_operation_seconds_count", {"kind": "sync", "phase": "Succeeded"}) == ops + 1
        assert metrics.value("syncwright_git_requests_total",
                             {"repo": url, "request_type": "ls-remote", "failed": "false"}) > ls
        assert metrics.value("syncwright_app_sync_status", {"name": app, "status": "Synced"}) == 1
        wait_for(lambda: metrics.value("syncwright_app_health_status", {"name": app, "status": "Healthy"}) == 1, 5,
                 "health gauge")
        assert metrics.value("syncwright_app_sync_status", {"name": app, "status": "OutOfSync"}) == 0
        body, _ = metrics.exposition()
        assert b'syncwright_queue_depth{queue="refresh"}' in body and b'queue="operation"' in body
        (h.apps_dir / f"{app}.yaml").unlink()  # a deleted app's series go away
        wait_for(lambda: f'name="{app}"' not in metrics.exposition()[0].decode(), 10, "series removed")
    finally:
        stop_daemon(daemon)
