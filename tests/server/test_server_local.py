"""The standalone backend end to end: real HTTP, kubesim, the sync engine, a webhook refresh."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from syncwright.server.api import build_app
from syncwright.server.backend import Backend
from syncwright.server.http import Server
from syncwright.server.local_backend import LocalBackend

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
PASSWORD = "s3cr3t-db-password"


def _write_repo(repo: Path, greeting: str) -> None:
    (repo / "app").mkdir(parents=True, exist_ok=True)
    (repo / "app" / "cm.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "greeting"}, "data": {"greeting": greeting}}))
    (repo / "app" / "secret.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "type": "Opaque",
         "data": {"password": base64.b64encode(PASSWORD.encode()).decode()}}))


class Env:
    def __init__(self, cluster: Any, tmp: Path) -> None:
        self.cluster = cluster
        self.ns = f"srv-{uuid.uuid4().hex[:8]}"
        self.name = f"demo-{self.ns}"
        self.repo = tmp / "repo"
        _write_repo(self.repo, "hello")
        self.apps = tmp / "apps"
        self.apps.mkdir()
        (self.apps / "demo.yaml").write_text(yaml.safe_dump({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": self.name},
            "spec": {"project": "default", "source": {"repoURL": str(self.repo), "path": "app"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": self.ns},
                     "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}}))
        (self.apps / "broken.yaml").write_text("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec: 3\n")
        self.token = secrets.token_hex(24)
        self.backend = LocalBackend(self.apps, kubeconfig=str(cluster.kubeconfig), context=cluster.context,
                                    cache_timeout=30).start(background=False)
        self.server = Server(build_app(self.backend, [self.token], {"github": "hook-secret"})).start()
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {self.token}"

    def get(self, path: str) -> Any:
        r = self.s.get(self.server.url + path, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r

    def wait_op(self, op_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            op = self.get(f"/api/v1/applications/{self.name}/operation").json()
            if op["id"] == op_id and op["phase"] not in ("Running", "Terminating"):
                return dict(op)
            time.sleep(0.05)
        raise AssertionError(f"operation {op_id} did not finish")

    def wait_app(self, pred: Any) -> dict[str, Any]:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            detail = self.get(f"/api/v1/applications/{self.name}").json()
            if pred(detail):
                return dict(detail)
            time.sleep(0.05)
        raise AssertionError(f"app never reached the state: {detail['summary']}")


@pytest.fixture
def env(kube_cluster: Any, tmp_path: Path) -> Iterator[Env]:
    e = Env(kube_cluster, tmp_path)
    try:
        yield e
    finally:
        e.server.stop()
        e.backend.stop()


def test_local_backend_serves_syncs_and_refreshes_on_webhook(env: Env) -> None:
    assert isinstance(env.backend, Backend)
    assert requests.get(env.server.url + "/readyz", timeout=5).status_code == 200
    items = env.get("/api/v1/applications").json()["items"]
    assert [a["name"] for a in items] == [env.name]  # the broken file does not take the others down
    assert items[0]["syncStatus"] == "OutOfSync" and items[0]["healthStatus"] == "Missing"

    diff = env.get(f"/api/v1/applications/{env.name}/diff").text
    assert PASSWORD not in diff and base64.b64encode(PASSWORD.encode()).decode() not in diff
    assert "greeting" in diff

    r = env.s.post(env.server.url + f"/api/v1/applications/{env.name}/sync", json={"prune": True}, timeout=30)
    assert r.status_code == 202, r.text
    op = env.wait_op(r.json()["operationId"])
    assert op["phase"] == "Succeeded", op
    detail = env.wait_app(lambda d: d["summary"]["syncStatus"] == "Synced")
    assert detail["summary"]["healthStatus"] == "Healthy"
    assert {r["kind"] for r in detail["resources"]} == {"ConfigMap", "Secret"}
    assert [h["id"] for h in detail["history"]] == [0]  # Argo CD numbers from 0
    assert {n["kind"] for n in env.get(f"/api/v1/applications/{env.name}/resource-tree").json()["nodes"]} == {
        "ConfigMap", "Secret"}
    live = env.get(f"/api/v1/applications/{env.name}/manifests?source=live").text
    assert "db" in live and PASSWORD not in live and base64.b64encode(PASSWORD.encode()).decode() not in live
    git = env.get(f"/api/v1/applications/{env.name}/manifests").json()["items"]
    assert {o["kind"] for o in git} == {"ConfigMap", "Secret"}

    # a push to the repo: the webhook refreshes the app, which now sees the new commit's content
    _write_repo(env.repo, "changed")
    body = json.dumps({"ref": "refs/heads/main", "after": "f" * 40,
                       "repository": {"clone_url": f"file://{env.repo}", "default_branch": "main"}}).encode()
    bad = requests.post(env.server.url + "/api/webhook", data=body, timeout=10, headers={
        "X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert bad.status_code == 401
    time.sleep(0.2)
    assert env.get(f"/api/v1/applications/{env.name}").json()["summary"]["syncStatus"] == "Synced"  # nothing refreshed
    sig = hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    good = requests.post(env.server.url + "/api/webhook", data=body, timeout=10, headers={
        "X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sig})
    assert good.status_code == 200 and good.json()["refreshed"] == [env.name]
    env.wait_app(lambda d: d["summary"]["syncStatus"] == "OutOfSync")

    # nothing runs now: terminate is refused; rollback of entry 0 re-applies the recorded manifests
    assert env.s.delete(env.server.url + f"/api/v1/applications/{env.name}/operation", timeout=10).status_code == 409
    r = env.s.post(env.server.url + f"/api/v1/applications/{env.name}/rollback", json={"id": 0}, timeout=30)
    assert r.status_code == 202, r.text
    assert env.wait_op(r.json()["operationId"])["kind"] == "rollback"
    assert env.s.post(env.server.url + f"/api/v1/applications/{env.name}/rollback", json={"id": 9},
                      timeout=30).status_code == 400
    assert env.s.post(env.server.url + f"/api/v1/applications/{env.name}/sync", json={"resources": ["bad"]},
                      timeout=30).status_code == 400
    assert env.s.get(env.server.url + "/api/v1/applications/nope", timeout=10).status_code == 404


def _start_cli(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([str(BIN / "syncwright"), "server", "--listen", "127.0.0.1:0", *args],
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        rec = json.loads(line)
        if rec.get("url"):
            return proc, str(rec["url"])
    proc.kill()
    raise AssertionError("syncwright server did not start")


def test_server_command(kube_cluster: Any, tmp_path: Path) -> None:
    apps = tmp_path / "apps"
    apps.mkdir()
    token = secrets.token_hex(20)
    (tmp_path / "token").write_text(token + "\n")
    run_env = {**os.environ, "SYNCWRIGHT_API_TOKEN": ""}
    proc, url = _start_cli(["--apps", str(apps), "--token-file", str(tmp_path / "token"),
                            "--kubeconfig", str(kube_cluster.kubeconfig), "--context", kube_cluster.context or ""],
                           run_env)
    try:
        assert requests.get(url + "/healthz", timeout=5).json() == {"status": "ok"}
        assert requests.get(url + "/api/v1/applications", timeout=5).status_code == 401
        deadline = time.monotonic() + 30
        while requests.get(url + "/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        r = requests.get(url + "/api/v1/applications", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200 and r.json() == {"items": []}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


@pytest.mark.parametrize("args,message", [
    ([], "no API token"),
    (["--token-file", "TOKEN"], "too short"),
    (["--listen", "nope"], "must be HOST:PORT"),
])
def test_server_command_errors(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "TOKEN").write_text("short\n")
    args = [a.replace("TOKEN", str(tmp_path / "TOKEN")) for a in args]
    if "--listen" in args:
        args += ["--token-file", str(tmp_path / "TOKEN")]
    res = subprocess.run([str(BIN / "syncwright"), "server", "--apps", str(tmp_path), *args], capture_output=True,
                         text=True, timeout=30, env={**os.environ, "SYNCWRIGHT_API_TOKEN": ""})
    assert res.returncode == 1 and message in res.stderr and "Traceback" not in res.stderr
