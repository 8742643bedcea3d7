"""Helpers for the controller tests: a namespace of our own in kubesim, an apps dir, a local repo.

``Harness`` writes Applications (plain-YAML directory sources in a local
repo), starts a controller in-process (``controller.runner.build``) or as a
``syncwright controller`` subprocess, and reads live objects and recorded
status. Every test gets its own namespace, state database and directories.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from syncwright.cluster.client import Client, ClusterConfig, ClusterError
from syncwright.controller.reconcile import Settings
from syncwright.controller.runner import Options, Running, build
from syncwright.controller.store import SqliteStore
from syncwright.plugins import Hooks

SW = str(Path(sys.executable).parent / "syncwright")


def wait_for(pred: Any, timeout: float = 10.0, what: str = "condition", interval: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True).stdout.strip()


def git_daemon(base: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``git daemon`` over ``base`` on a free port; stop it with ``stop_daemon``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}",
                             "--listen=127.0.0.1", f"--port={port}", str(base)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    stop_daemon(proc)
    raise RuntimeError("git daemon did not start")


def served_repo(tmp: Path, name: str, files: dict[str, str]) -> tuple[Path, subprocess.Popen[bytes], int]:
    """A work tree with ``files`` under ``app/``, pushed to ``<tmp>/served/<name>.git`` and served by
    ``git daemon``: returns (work tree, daemon, port); the repo is ``git://127.0.0.1:<port>/<name>.git``."""
    served = tmp / "served"
    served.mkdir(exist_ok=True)
    git("init", "-q", "--bare", "-b", "main", str(served / f"{name}.git"))
    work = tmp / "work"
    git("init", "-q", "-b", "main", str(work))
    (work / "app").mkdir()
    for fname, text in files.items():
        (work / "app" / fname).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "one", cwd=work)
    git("push", "-q", str(served / f"{name}.git"), "HEAD:refs/heads/main", cwd=work)
    daemon, port = git_daemon(served)
    return work, daemon, port


def stop_daemon(proc: subprocess.Popen[bytes]) -> None:
    """``git daemon`` forks ``git-daemon``: end the whole process group, or the port stays open."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def configmaps(n: int, prefix: str = "cm", value: str = "v", wave: int | None = None) -> dict[str, str]:
    out = {}
    for i in range(n):
        meta: dict[str, Any] = {"name": f"{prefix}{i}"}
        if wave is not None:
            meta["annotations"] = {"argocd.argoproj.io/sync-wave": str(wave + i)}
        out[f"{prefix}{i}.yaml"] = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                                                    "data": {"k": f"{value}{i}"}})
    return out


class Harness:
    def __init__(self, cluster: Any, tmp: Path) -> None:
        self.cluster = cluster
        self.tmp = tmp
        self.ns = f"c-{uuid.uuid4().hex[:8]}"
        self.apps_dir = tmp / "apps"
        self.apps_dir.mkdir()
        self.repo = tmp / "repo"
        self.repo.mkdir()
        self.state = tmp / "state.db"
        self.client = Client(ClusterConfig(str(cluster.kubeconfig), cluster.context, qps=0))
        self.client.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace",
                                                                 "metadata": {"name": self.ns}})
        self.events: list[tuple[float, str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.running: list[Running] = []
        self.procs: list[subprocess.Popen[str]] = []

    # -- apps --------------------------------------------------------------------------------
    def files(self, path: str, files: dict[str, str | None]) -> None:
        d = self.repo / path
        d.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            if text is None:
                (d / name).unlink(missing_ok=True)
            else:
                (d / name).write_text(text)

    def app(self, name: str, path: str | None = None, *, auto: dict[str, Any] | None = None, project: str = "default",
            repo_url: str | None = None, namespace: str | None = None, extra: dict[str, Any] | None = None,
            dest: dict[str, Any] | None = None, file: str | None = None) -> str:
        """Write an Application; returns its name (suffixed with the namespace to stay unique)."""
        full = f"{name}-{self.ns}"
        spec: dict[str, Any] = {
            "project": project,
            "source": {"repoURL": repo_url or str(self.repo), "path": path or name},
            "destination": dest or {"server": "https://kubernetes.default.svc", "namespace": namespace or self.ns},
        }
        if auto is not None:
            spec["syncPolicy"] = {"automated": auto}
        spec.update(extra or {})
        doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": full}, "spec": spec}
        (self.apps_dir / (file or f"{full}.yaml")).write_text(yaml.safe_dump(doc))
        return full

    def raw(self, filename: str, text: str) -> None:
        (self.apps_dir / filename).write_text(text)

    # -- running -----------------------------------------------------------------------------
    def on_event(self, what: str, app: str, details: dict[str, Any]) -> None:
        with self._lock:
            self.events.append((time.monotonic(), what, app, details))

    def start(self, *, leases: str = "", identity: str = "", lease_duration: float = 15.0, kubeconfig: str | None = None,
              state: Path | None = None, **settings: Any) -> Running:
        s = Settings(poll_interval=0.2, **settings)
        if identity:
            s.identity = identity
        opts = Options([self.apps_dir], kubeconfig or str(self.cluster.kubeconfig), self.cluster.context,
                       state=state or self.state, lease_namespace=leases, lease_duration=lease_duration, settings=s)
        running = build(opts, Hooks.load(), on_event=self.on_event)
        self.running.append(running)
        return running

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        cmd = [SW, "controller", "--apps", str(self.apps_dir), "--kubeconfig", str(self.cluster.kubeconfig),
               "--state", str(self.state), *args]
        if self.cluster.context:
            cmd += ["--context", self.cluster.context]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **(env or {})})
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for r in self.running:
            try:
                r.stop()
            except Exception:  # noqa: BLE001
                pass
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(10)
            if p.stdout:
                p.stdout.close()
            if p.stderr:
                p.stderr.close()

    # -- reading -----------------------------------------------------------------------------
    def store(self) -> SqliteStore:
        return SqliteStore(self.state)

    def status(self, app: str) -> dict[str, Any]:
        return self.store().comparison(app) or {}

    def sync_health(self, app: str) -> tuple[str, str]:
        st = self.status(app)
        return (st.get("sync") or {}).get("status", ""), (st.get("health") or {}).get("status", "")

    def condition_types(self, app: str) -> set[str]:
        return {c["type"] for c in self.status(app).get("conditions") or []}

    def live(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        plural = {"ConfigMap": "configmaps", "Secret": "secrets", "Service": "services"}[kind]
        try:
            obj: dict[str, Any] = self.client.request("GET", f"/api/v1/namespaces/{namespace or self.ns}/{plural}/{name}")
            return obj
        except ClusterError as e:
            if e.status == 404:
                return None
            raise

    def patch_cm(self, name: str, data: dict[str, str]) -> None:
        self.client.request("PATCH", f"/api/v1/namespaces/{self.ns}/configmaps/{name}", body={"data": data},
                            content_type="application/merge-patch+json")

    def seen(self, what: str, app: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [d for _t, w, a, d in self.events if w == what and (app is None or a == app)]
