"""The commands: ``app rollback/terminate``, ``install-crds``, ``controller`` option errors."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
import yaml
from controller_harness import SW, Harness, configmaps, wait_for


def _sw(h: Harness, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SW, "app", *args, "--state", str(h.state)], capture_output=True, text=True, timeout=60)


def test_rollback_reapplies_a_history_entry(harness: Harness) -> None:
    h = harness
    h.files("rb", configmaps(1, value="one"))
    app = h.app("rb", "rb")
    h.start()
    wait_for(lambda: h.status(app), 15, "app seen")
    assert _sw(h, "sync", app).returncode == 0
    h.files("rb", configmaps(1, value="two"))
    h.app("rb", "rb", extra={"revisionHistoryLimit": 5})
    wait_for(lambda: h.sync_health(app)[0] == "OutOfSync", 10, "new content noticed")
    assert _sw(h, "sync", app).returncode == 0
    assert h.live("ConfigMap", "cm0")["data"] == {"k": "two0"}
    hist = json.loads(_sw(h, "history", app, "-o", "json").stdout)
    assert [e["id"] for e in hist] == [0, 1] and hist[0]["revision"].startswith("local:")
    res = _sw(h, "rollback", app, "0")
    assert res.returncode == 0, res.stdout + res.stderr
    assert h.live("ConfigMap", "cm0")["data"] == {"k": "one0"}
    bad = _sw(h, "rollback", app, "7")
    assert bad.returncode == 1 and "no history entry with id 7" in bad.stdout


def test_rollback_is_refused_under_auto_sync(harness: Harness) -> None:
    h = harness
    h.files("rba", configmaps(1))
    app = h.app("rba", "rba", auto={})
    h.start()
    wait_for(lambda: h.sync_health(app)[0] == "Synced", 15, "Synced")
    res = _sw(h, "rollback", app, "0")
    assert res.returncode == 1 and "auto-sync is enabled" in res.stderr


@pytest.mark.kubesim_only
def test_terminate_stops_a_running_operation(fresh_harness: Harness) -> None:
    h = fresh_harness
    h.files("slow", configmaps(8, wave=0))
    app = h.app("slow", "slow")
    h.start()
    wait_for(lambda: h.status(app), 15, "app seen")
    h.cluster.sim.faults.set(latency=0.2)
    assert _sw(h, "sync", app, "--async").returncode == 0
    wait_for(lambda: (op := h.store().load(app)) is not None and op.phase == "Running", 20, "operation running")
    res = _sw(h, "terminate", app)
    assert res.returncode == 0, res.stderr
    wait_for(lambda: h.store().load(app).phase in ("Failed", "Error"), 20, "operation stopped")
    h.cluster.sim.faults.clear()
    assert "terminated" in h.store().load(app).message
    assert _sw(h, "terminate", app).returncode == 1


def test_install_crds_prints_applyable_yaml() -> None:
    res = subprocess.run([SW, "install-crds"], capture_output=True, text=True, timeout=60)
    docs = list(yaml.safe_load_all(res.stdout))
    assert [d["metadata"]["name"] for d in docs] == ["applications.syncwright.dev", "appprojects.syncwright.dev"]


def test_controller_without_apps_is_a_clear_error(tmp_path: object) -> None:
    res = subprocess.run([SW, "controller", "--kubeconfig", "/nonexistent"], capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "--apps" in res.stderr and "Traceback" not in res.stderr


def test_controller_command_runs_and_stops_on_sigterm(harness: Harness) -> None:
    h = harness
    h.files("cmd", configmaps(1))
    app = h.app("cmd", "cmd", auto={})
    proc = h.spawn("--log-format", "json")
    wait_for(lambda: h.sync_health(app) == ("Synced", "Healthy"), 20, "synced by the command")
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any("started" in line["msg"] for line in lines) and any(line["msg"] == "stopping" for line in lines)


def test_app_commands_through_the_http_api(harness: Harness) -> None:
    """``--server URL --token T`` uses the routes of server/openapi.yaml (served by ``syncwright server``)."""
    import re

    h = harness
    h.files("api", configmaps(1))
    app = h.app("api", "api")
    token = h.tmp / "token"
    token.write_text("t0ken-0123456789abcdef\n")
    proc = subprocess.Popen([SW, "server", "--listen", "127.0.0.1:0", "--token-file", str(token), "--apps",
                             str(h.apps_dir), "--kubeconfig", str(h.cluster.kubeconfig)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        url = None
        for _ in range(20):
            m = re.search(r"serving on (http://127\.0\.0\.1:\d+)", proc.stdout.readline())
            if m:
                url = m.group(1)
                break
        assert url, "the API server did not start"

        def sw(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([SW, "app", *args, "--server", url, "--token", "t0ken-0123456789abcdef"],
                                  capture_output=True, text=True, timeout=60)

        listing = sw("list", "-o", "json")
        assert listing.returncode == 0, listing.stderr
        assert [v["sync"]["status"] for v in json.loads(listing.stdout) if v["name"] == app] == ["OutOfSync"]
        assert sw("sync", app, "--timeout", "30").returncode == 0
        assert h.live("ConfigMap", "cm0") is not None
        assert json.loads(sw("history", app, "-o", "json").stdout)[0]["id"] == 0
        denied = subprocess.run([SW, "app", "list", "--server", url, "--token", "wrong-token-0123456789"],
                                capture_output=True, text=True, timeout=60)
        assert denied.returncode == 1 and "HTTP 401" in denied.stderr
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
