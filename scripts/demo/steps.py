"""The demo's steps, one method each, over the processes and the repository it owns."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .gitside import APPS, GitRepo, start_git_daemon, write_apps
from .narrate import Narrator
from .procs import Children, DemoError, port_open, wait_for

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent
#: generous: the demo must also pass on a loaded 2-core CI machine
START_TIMEOUT = 30.0
#: how long apps get to converge or heal; SYNCWRIGHT_DEMO_TIMEOUT overrides it (the failure test uses a short one)
CONVERGE_TIMEOUT = float(os.environ.get("SYNCWRIGHT_DEMO_TIMEOUT") or 60.0)
CHANGED_APP = "directory-app"
DRIFT_DEPLOYMENT = "web"
SERVING = re.compile(r"serving on (http://127\.0\.0\.1:(\d+))")


class Demo:
    def __init__(self, tmp: Path, say: Narrator) -> None:
        self.tmp = tmp
        self.n = say
        self.kubeconfig = tmp / "kubeconfig"
        self.env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                    "KUBECONFIG": str(self.kubeconfig), "SYNCWRIGHT_STATE": str(tmp / "state.db"),
                    "SYNCWRIGHT_CACHE": str(tmp / "cache"), "SYNCWRIGHT_CMP_DIR": str(EXAMPLES / "cmp-plugins"),
                    "PYTHONUNBUFFERED": "1"}
        (tmp / "logs").mkdir()
        self.children = Children(tmp / "logs", self.env)
        self.api = ""
        self.webhook_secret = secrets.token_hex(16)
        self.api_token = secrets.token_hex(16)

    # -- helpers ------------------------------------------------------------------------------
    def run(self, *argv: str, check: bool = True, timeout: float = 60.0, env: dict[str, str] | None = None) -> str:
        try:
            out = subprocess.run(list(argv), env={**self.env, **(env or {})}, capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DemoError(f"`{' '.join(argv)}` did not finish within {timeout:.0f} s") from None
        if check and out.returncode != 0:
            raise DemoError(f"`{' '.join(argv)}` failed (exit {out.returncode}): {out.stderr.strip() or out.stdout}")
        return out.stdout

    def kubectl(self, *args: str) -> str:
        return self.run(str(BIN / "kubectl"), *args)

    def apps(self) -> list[dict[str, Any]]:
        """The apps as the controller reports them (`syncwright app list -o json`)."""
        self.children.check_alive()
        out = self.run(str(BIN / "syncwright"), "app", "list", "-o", "json", check=False)
        try:
            data = json.loads(out)
        except ValueError:
            return []
        return data if isinstance(data, list) else []

    def describe(self) -> str:
        lines = ["    app states when it gave up:"]
        try:
            views = self.apps()
        except DemoError as e:
            views, lines = [], [f"    cannot read the app states: {e}"]
        for v in views:
            conds = "; ".join(str(c.get("message", "")) for c in v.get("conditions") or [])
            lines.append(f"      {v.get('name')}: {(v.get('sync') or {}).get('status')} / "
                         f"{(v.get('health') or {}).get('status')} {conds}")
        for child in self.children.started:
            if child.name == "controller":
                lines.append(child.tail(20))
        return "\n".join(lines)

    def controller_log(self, app: str, since: int) -> list[str]:
        """The controller's log lines about ``app`` after byte offset ``since`` (JSON or text logs)."""
        child = next(c for c in self.children.started if c.name == "controller")
        with open(child.log, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
        out = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict):
                    continue
                when, msg = str(entry.get("time", ""))[11:23], str(entry.get("msg", ""))
                line = f"{when} {msg}" + (f" ({entry['revision'][:12]})" if entry.get("revision") else "")
                mentions = entry.get("app") == app or app in msg
            except ValueError:
                mentions = app in line
            if mentions:
                out.append(line)
        return out

    def log_size(self) -> int:
        child = next(c for c in self.children.started if c.name == "controller")
        return child.log.stat().st_size

    # -- steps --------------------------------------------------------------------------------
    def start_kubesim(self) -> None:
        child = self.children.start("kubesim", [sys.executable, "-m", "kubesim", "serve", "--port", "0",
                                                "--kubeconfig-out", str(self.kubeconfig),
                                                "--token", secrets.token_hex(12)])

        def ready() -> str | None:
            self.children.check_alive()
            text = child.log.read_text(errors="replace") if child.log.exists() else ""
            url = next((w for w in text.split() if w.startswith("https://")), None)
            return url if url and self.kubeconfig.exists() else None

        url = wait_for("kubesim to write its kubeconfig", ready, START_TIMEOUT, detail=child.tail)
        self.n.say(f"kubesim serving {url} (pid {child.pid}), kubeconfig {self.kubeconfig}")
        version = self.kubectl("version", "-o", "json")
        server = json.loads(version).get("serverVersion", {}).get("gitVersion", "?")
        self.n.say(f"kubectl talks to it: server version {server}")

    def start_git(self) -> str:
        self.repo = GitRepo(self.tmp, EXAMPLES)
        child, port = start_git_daemon(self.children, self.repo, START_TIMEOUT)
        url = f"git://127.0.0.1:{port}/examples.git"
        head = self.repo.git("rev-parse", "--short", "HEAD", cwd=self.repo.work)
        self.n.say(f"git daemon serving {url} (pid {child.pid}), main at {head}")
        ls = self.run("git", "ls-remote", url, "refs/heads/main")
        self.n.say(f"git ls-remote over git://: {ls.split()[0][:12]} refs/heads/main")
        return url

    def start_controller(self, repo_url: str) -> None:
        apps_dir = self.tmp / "apps"
        names = write_apps(EXAMPLES, apps_dir, repo_url)
        for (name, kind) in APPS:
            self.n.say(f"app {name:<14} source type {kind}")
        token_file, secrets_file = self.tmp / "api-token", self.tmp / "webhook-secrets.yaml"
        token_file.write_text(self.api_token + "\n")
        secrets_file.write_text(f"webhook.github.secret: {self.webhook_secret}\n")
        # Port 0: the controller binds any free port and logs "serving on URL" (no race for a port).
        child = self.children.start("controller", [
            str(BIN / "syncwright"), "controller", "--apps", str(apps_dir), "--kubeconfig", str(self.kubeconfig),
            "--state", self.env["SYNCWRIGHT_STATE"], "--listen", "127.0.0.1:0", "--token-file", str(token_file),
            "--webhook-secrets", str(secrets_file)])
        self.n.say(f"syncwright controller started (pid {child.pid}) with {len(names)} apps from {apps_dir}")

        def listening() -> str | None:
            self.children.check_alive()
            found = SERVING.search(child.log.read_text(errors="replace")) if child.log.exists() else None
            return found.group(1) if found and port_open(int(found.group(2))) else None

        self.api = wait_for("the controller's API to listen (\"serving on\" in its log)", listening,
                            START_TIMEOUT, detail=child.tail)
        self.n.say(f"API, webhooks and /metrics on {self.api}")

    def wait_converged(self) -> None:
        seen: dict[str, str] = {}

        def converged() -> bool:
            views = self.apps()
            for v in views:
                state = f"{(v.get('sync') or {}).get('status')}/{(v.get('health') or {}).get('status')}"
                if seen.get(v["name"]) != state:
                    seen[v["name"]] = state
                    self.n.say(f"[{self.n.elapsed():5.1f} s] {v['name']:<14} {state}")
            return len(views) == len(APPS) and all(s == "Synced/Healthy" for s in seen.values())

        wait_for(f"all {len(APPS)} apps to be Synced and Healthy", converged, CONVERGE_TIMEOUT, interval=0.5,
                 detail=self.describe)
        self.n.say(f"[green]all {len(APPS)} apps Synced and Healthy[/]")

    def app(self, name: str) -> dict[str, Any]:
        return next((v for v in self.apps() if v.get("name") == name), {})

    def push_change(self, repo_url: str) -> None:
        before = (self.app(CHANGED_APP).get("sync") or {}).get("revision", "")
        self.repo.edit("directory-app/base/deployment.yaml", "replicas: 2", "replicas: 3")
        self.repo.edit("directory-app/base/config.yaml", "greeting: hello", "greeting: hello from a new commit")
        sha = self.repo.commit("directory-app: 3 replicas, a new greeting")
        self.n.say(f"pushed {sha[:12]} (was {before[:12]}): {CHANGED_APP} web → 3 replicas, new greeting")
        sent = time.monotonic()
        mark = self.log_size()
        forged, _ = self.deliver_webhook(repo_url, sha, secret="not-the-secret")
        if forged != 401:
            raise DemoError(f"a webhook signed with the wrong secret got HTTP {forged}, expected 401")
        self.n.say("the same webhook signed with a wrong secret: HTTP 401, refused")
        status, answer = self.deliver_webhook(repo_url, sha)
        refreshed = [str(a) for a in answer.get("refreshed") or []]
        self.n.say(f"signed GitHub push webhook delivered to {self.api}/api/webhook: HTTP {status}, "
                   f"apps refreshed: {', '.join(refreshed) or 'none'}")
        if CHANGED_APP not in refreshed:
            raise DemoError(f"the webhook did not refresh {CHANGED_APP} (answer: {answer}); "
                            f"its repoURL and targetRevision should match {repo_url} refs/heads/main")

        def at_new_revision() -> bool:
            v = self.app(CHANGED_APP)
            return ((v.get("sync") or {}).get("revision") == sha and (v.get("sync") or {}).get("status") == "Synced"
                    and (v.get("health") or {}).get("status") == "Healthy")

        wait_for(f"{CHANGED_APP} to sync to {sha[:12]}", at_new_revision, CONVERGE_TIMEOUT, detail=self.describe)
        took = time.monotonic() - sent
        greeting = self.kubectl("-n", CHANGED_APP, "get", "configmap", "web-config", "-o",
                                "jsonpath={.data.greeting}")
        replicas = self.kubectl("-n", CHANGED_APP, "get", "deployment", DRIFT_DEPLOYMENT, "-o",
                                "jsonpath={.spec.replicas}")
        self.n.say(f"[green]{CHANGED_APP} synced to {sha[:12]} in {took:.1f} s[/]: live greeting {greeting!r}, "
                   f"replicas {replicas}")
        for line in self.controller_log(CHANGED_APP, mark):
            self.n.say(f"[dim]controller log:[/] {line}")

    def deliver_webhook(self, repo_url: str, sha: str, secret: str = "") -> tuple[int, dict[str, Any]]:
        """POST a GitHub push event for ``sha``, signed with ``secret`` (default: the configured one)."""
        body = json.dumps({
            "ref": "refs/heads/main", "after": sha,
            "repository": {"clone_url": repo_url, "git_url": repo_url, "default_branch": "main",
                           "full_name": "demo/examples"},
            "commits": [{"id": sha, "modified": ["directory-app/base/deployment.yaml",
                                                 "directory-app/base/config.yaml"]}],
        }).encode()
        key = (secret or self.webhook_secret).encode()
        signature = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        req = urllib.request.Request(f"{self.api}/api/webhook", data=body, method="POST", headers={
            "Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": secrets.token_hex(8),
            "X-Hub-Signature-256": signature})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                answer = json.loads(resp.read() or b"{}")
                return int(resp.status), answer if isinstance(answer, dict) else {}
        except urllib.error.HTTPError as e:
            if secret:
                return e.code, {}
            raise DemoError(f"the webhook was refused: HTTP {e.code} {e.read().decode(errors='replace')}") from None
        except OSError as e:
            raise DemoError(f"cannot deliver the webhook to {self.api}: {e}") from None

    def history(self, name: str) -> list[dict[str, Any]]:
        out = self.run(str(BIN / "syncwright"), "app", "history", name, "-o", "json")
        data = json.loads(out or "[]")
        return data if isinstance(data, list) else []

    def drift(self) -> None:
        def live() -> tuple[str, int]:
            out = self.kubectl("-n", CHANGED_APP, "get", "deployment", DRIFT_DEPLOYMENT, "-o",
                               "jsonpath={.spec.replicas} {.metadata.generation}")
            replicas, generation = out.split()
            return replicas, int(generation)

        want, generation = live()
        syncs = len(self.history(CHANGED_APP))
        mark = self.log_size()
        self.kubectl("-n", CHANGED_APP, "scale", "deployment", DRIFT_DEPLOYMENT, "--replicas=1")
        began = time.monotonic()
        self.n.say(f"kubectl scale deployment/{DRIFT_DEPLOYMENT} --replicas=1 (Git says {want}; "
                   f"generation {generation} → {generation + 1})")

        def reverted() -> tuple[str, int] | None:
            now = live()
            # generation +2: our edit, then the controller's; replicas alone could be read before our edit lands
            return now if now[0] == want and now[1] >= generation + 2 else None

        _, healed_generation = wait_for(f"the controller to revert deployment/{DRIFT_DEPLOYMENT} to {want} replicas",
                                        reverted, CONVERGE_TIMEOUT, interval=0.2, detail=self.describe)
        self.n.say(f"[green]drift reverted by self-heal in {time.monotonic() - began:.2f} s[/]: "
                   f"deployment/{DRIFT_DEPLOYMENT} back to {want} replicas (generation {healed_generation})")
        def new_entry() -> list[dict[str, Any]] | None:
            entries = self.history(CHANGED_APP)
            return entries if len(entries) > syncs else None

        entries = wait_for(f"the self-heal sync of {CHANGED_APP} in its history", new_entry, CONVERGE_TIMEOUT,
                           detail=self.describe)
        last = entries[-1]
        healed = wait_for("the controller to log the self-heal",
                          lambda: [ln for ln in self.controller_log(CHANGED_APP, mark) if "self-heal" in ln],
                          CONVERGE_TIMEOUT, detail=self.describe)
        for line in healed:
            self.n.say(f"[dim]controller log:[/] {line}")
        self.n.say(f"{CHANGED_APP} history: {len(entries)} syncs, the last (id {last.get('id')}) at "
                   f"{str(last.get('revision', ''))[:12]}")
        wait_for(f"{CHANGED_APP} to be Synced and Healthy again",
                 lambda: (self.app(CHANGED_APP).get("health") or {}).get("status") == "Healthy"
                 and (self.app(CHANGED_APP).get("sync") or {}).get("status") == "Synced",
                 CONVERGE_TIMEOUT, detail=self.describe)

    def table(self) -> None:
        self.children.check_alive()
        # Through the controller's HTTP API with its bearer token, as from another machine.
        self.n.say(f"SYNCWRIGHT_TOKEN=… syncwright app list --server {self.api}")
        self.n.raw(self.run(str(BIN / "syncwright"), "app", "list", "--server", self.api,
                            env={"SYNCWRIGHT_TOKEN": self.api_token}))
