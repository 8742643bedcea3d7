"""The CLI: ``syncwright sync`` / ``history`` / ``rollback`` against kubesim, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncwright.sync import FileStore
from syncwright.sync.operation import recover

SW = str(Path(sys.executable).parent / "syncwright")


class CliApp:
    def __init__(self, senv: Any, tmp: Path, objs: list[dict[str, Any]], path: str = "app", **spec: Any) -> None:
        self.senv, self.tmp = senv, tmp
        self.repo = tmp / "repo"
        self.dir = self.repo / path
        self.state = tmp / "cli-state"
        self.write(objs)
        doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": senv.name},
               "spec": {"project": "default", "source": {"repoURL": str(self.repo), "path": path},
                        "destination": {"server": "https://kubernetes.default.svc", "namespace": senv.ns}, **spec}}
        self.file = tmp / "app.yaml"
        self.file.write_text(yaml.safe_dump(doc))

    def write(self, objs: list[dict[str, Any]]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.yaml"):
            old.unlink()
        for i, o in enumerate(objs):
            (self.dir / f"{i:02d}.yaml").write_text(yaml.safe_dump(o))

    def argv(self, *args: str) -> list[str]:
        c = self.senv.cluster
        kc = ["--kubeconfig", str(c.kubeconfig)] + (["--context", c.context] if c.context else [])
        return [SW, *args, "-f", str(self.file), *kc]

    def env(self) -> dict[str, str]:
        return {**os.environ, "SYNCWRIGHT_STATE": str(self.state)}

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout, env=self.env())

    def history(self) -> list[dict[str, Any]]:
        res = subprocess.run([SW, "history", "-f", str(self.file), "-o", "json"], capture_output=True, text=True,
                             env=self.env())
        assert res.returncode == 0, res.stderr
        return list(json.loads(res.stdout))


pytestmark = [pytest.mark.kubesim_only, pytest.mark.slow]


def test_sync_json_progress_and_exit_status(senv: Any, make: Any, tmp_path: Path) -> None:
    senv.create_ns()
    app = CliApp(senv, tmp_path, [make.job("pre", "PreSync"), make.configmap("cfg", wave=1)])
    res = app.run("sync", "-o", "json")
    assert res.returncode == 0, res.stderr
    op = json.loads(res.stdout)
    assert op["phase"] == "Succeeded"
    assert [(r["kind"], r["name"], r["status"]) for r in op["resources"]] == [("Job", "pre", "Synced"),
                                                                           ("ConfigMap", "cfg", "Synced")]
    state = app.run("get", "-o", "json")
    assert state.returncode == 0, state.stderr
    assert json.loads(state.stdout)["sync"]["status"] == "Synced"  # what was applied compares equal
    plain = app.run("sync")
    assert plain.returncode == 0
    assert "phase PreSync" in plain.stderr and "wave 1" in plain.stderr and "Succeeded:" in plain.stderr
    assert "Phase:" in plain.stdout and "Succeeded" in plain.stdout
    app.write([make.job("pre", "PreSync", fail=True), make.configmap("cfg")])
    failed = app.run("sync", "-o", "json")
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["phase"] == "Failed"


def test_dry_run_resource_and_bad_option(senv: Any, make: Any, tmp_path: Path) -> None:
    senv.create_ns()
    app = CliApp(senv, tmp_path, [make.configmap("a"), make.configmap("b")])
    res = app.run("sync", "--dry-run", "-o", "json")
    assert res.returncode == 0, res.stderr
    assert senv.get(f"/api/v1/namespaces/{senv.ns}/configmaps/a") is None
    res = app.run("sync", "--resource", f":ConfigMap:{senv.ns}/b", "-o", "json")
    assert res.returncode == 0, res.stderr
    assert [r["name"] for r in json.loads(res.stdout)["resources"]] == ["b"]
    assert senv.get(f"/api/v1/namespaces/{senv.ns}/configmaps/a") is None
    bad = app.run("sync", "--sync-option", "Prunne=false")
    assert bad.returncode == 1 and "unknown sync option 'Prunne'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_history_and_rollback(senv: Any, make: Any, tmp_path: Path) -> None:
    senv.create_ns()
    v1 = make.configmap("cfg")
    v1["data"] = {"version": "1"}
    app = CliApp(senv, tmp_path, [v1])
    assert app.run("sync").returncode == 0
    v2 = make.configmap("cfg")
    v2["data"] = {"version": "2"}
    app.write([v2])
    assert app.run("sync").returncode == 0
    entries = app.history()
    assert [e["id"] for e in entries] == [0, 1]
    table = subprocess.run([SW, "history", "-f", str(app.file)], capture_output=True, text=True, env=app.env())
    assert "ID" in table.stdout and "REVISION" in table.stdout
    res = app.run("rollback", "0", "-o", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["kind"] == "rollback"
    assert senv.get(f"/api/v1/namespaces/{senv.ns}/configmaps/cfg")["data"] == {"version": "1"}
    missing = app.run("rollback", "7")
    assert missing.returncode == 1 and "no history entry with id 7" in missing.stderr
    doc = yaml.safe_load(app.file.read_text())
    doc["spec"]["syncPolicy"] = {"automated": {"prune": False}}
    app.file.write_text(yaml.safe_dump(doc))
    auto = app.run("rollback", "0")
    assert auto.returncode == 1 and "auto-sync is enabled" in auto.stderr


def test_history_is_bounded_by_revision_history_limit(senv: Any, make: Any, tmp_path: Path) -> None:
    senv.create_ns()
    app = CliApp(senv, tmp_path, [make.configmap("a")], revisionHistoryLimit=2)
    for _ in range(3):
        assert app.run("sync").returncode == 0
    assert [e["id"] for e in app.history()] == [1, 2]


def test_killed_mid_operation_is_marked_interrupted_and_next_sync_converges(senv: Any, make: Any,
                                                                         tmp_path: Path) -> None:
    senv.create_ns()
    app = CliApp(senv, tmp_path, [make.job("long", "PreSync", duration="60s"), make.configmap("cfg")])
    proc = subprocess.Popen(app.argv("sync"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=app.env())
    store = FileStore(app.state)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            op = store.load(senv.name)
            if op is not None and op.resources:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the sync never started its hook")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert store.load(senv.name).phase == "Running"
    marked = recover(store, senv.name)
    assert marked is not None and marked.phase == "Error" and "interrupted" in marked.message
    store.save(op)  # as the dead process left it: the next sync must recover it by itself
    app.write([make.job("long", "PreSync"), make.configmap("cfg")])
    res = app.run("sync", "-o", "json")
    assert res.returncode == 0, res.stderr
    assert senv.get(f"/api/v1/namespaces/{senv.ns}/configmaps/cfg") is not None


CHART_HOOK = """apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: hook-succeeded
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
"""
CHART_TEST = """apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
spec:
  containers: [{name: c, image: busybox}]
"""
CHART_CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  annotations:
    helm.sh/hook-weight: "3"
data:
  k: v
"""
CHART_POST = CHART_HOOK.replace("-migrate", "-notify").replace("pre-install,pre-upgrade", "post-install")


def test_helm_hook_annotations_from_a_chart(senv: Any, tmp_path: Path) -> None:
    senv.create_ns()
    app = CliApp(senv, tmp_path, [], path="chart")
    (app.dir / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (app.dir / "templates").mkdir()
    for name, text in (("hook", CHART_HOOK), ("test", CHART_TEST), ("cm", CHART_CM), ("post", CHART_POST)):
        (app.dir / "templates" / f"{name}.yaml").write_text(text)
    res = app.run("sync", "-o", "json")
    assert res.returncode == 0, res.stderr
    op = json.loads(res.stdout)
    release = senv.name
    assert [(r["phase"], r["wave"], r["name"]) for r in op["resources"]] == [
        ("PreSync", -5, f"{release}-migrate"), ("Sync", 3, f"{release}-config"),
        ("PostSync", -5, f"{release}-notify")]
    rec = senv.recorder
    assert rec.completed("Job", f"{release}-migrate") < rec.first("ConfigMap", f"{release}-config")
    assert senv.get(f"/apis/batch/v1/namespaces/{senv.ns}/jobs/{release}-migrate") is None  # hook-succeeded
    assert senv.get(f"/api/v1/namespaces/{senv.ns}/pods/{release}-test") is None  # helm test hooks are not run


def test_terminate_op_stops_a_running_cli_sync(senv: Any, make: Any, tmp_path: Path) -> None:
    senv.create_ns()
    app = CliApp(senv, tmp_path, [make.job("long", "PreSync", duration="60s"), make.configmap("cfg")])
    none = subprocess.run([SW, "terminate-op", "-f", str(app.file)], capture_output=True, text=True, env=app.env())
    assert none.returncode == 1 and "has no running operation" in none.stderr
    proc = subprocess.Popen(app.argv("sync", "-o", "json"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=app.env(), text=True)
    store = FileStore(app.state)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        op = store.load(senv.name)
        if op is not None and op.resources:
            break
        time.sleep(0.05)
    res = subprocess.run([SW, "terminate-op", "-f", str(app.file)], capture_output=True, text=True, env=app.env())
    assert res.returncode == 0, res.stderr
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert json.loads(out)["message"] == "operation terminated"
    assert senv.get(f"/api/v1/namespaces/{senv.ns}/configmaps/cfg") is None
