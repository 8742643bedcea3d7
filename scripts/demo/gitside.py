"""The Git side of the demo: a repository made from ``examples/``, a ``git daemon``, the Applications.

The repository lives in the demo's temp dir (a bare repo served over
``git://127.0.0.1:PORT/examples.git`` plus a work tree to commit from), so
the controller fetches exactly as it would from a real Git server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .procs import Child, Children, DemoError, free_port, port_open, wait_for

#: one example Application per source type: (app file in examples/apps, source type shown in the log)
APPS = (
    ("directory-app", "directory"),
    ("kustomize-app", "kustomize"),
    ("helm-app", "helm"),
    ("jsonnet-app", "jsonnet"),
    ("cmp-envsubst", "CMP (envsubst)"),
)
#: the staging overlay puts everything in its own namespace; CreateNamespace=true creates only the
#: destination namespace (as in Argo CD), so the app deploys there
DEST_NAMESPACE = {"kustomize-app": "guestbook-staging"}


def git_env(home: Path) -> dict[str, str]:
    """An isolated git identity: no system or user config of the machine running the demo."""
    return {**os.environ, "GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@example.com",
            "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@example.com",
            "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(home), "GIT_TERMINAL_PROMPT": "0"}


class GitRepo:
    """``served/examples.git`` (bare, served) and ``work/`` (a clone we commit and push from)."""

    def __init__(self, base: Path, examples: Path) -> None:
        self.served = base / "served"
        self.bare = self.served / "examples.git"
        self.work = base / "work"
        self.env = git_env(base)
        self.served.mkdir()
        self.git("init", "-q", "--bare", "-b", "main", str(self.bare))
        shutil.copytree(examples, self.work, ignore=shutil.ignore_patterns("apps", "__pycache__"))
        self.git("init", "-q", "-b", "main", cwd=self.work)
        self.git("remote", "add", "origin", str(self.bare), cwd=self.work)
        self.commit("examples: initial import")

    def git(self, *args: str, cwd: Path | None = None) -> str:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, env=self.env, check=True, capture_output=True, text=True,
                                 timeout=60)
        except subprocess.CalledProcessError as e:
            raise DemoError(f"git {' '.join(args)} failed: {e.stderr.strip()}") from None
        return out.stdout.strip()

    def commit(self, message: str) -> str:
        self.git("add", "-A", cwd=self.work)
        self.git("commit", "-q", "-m", message, cwd=self.work)
        self.git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=self.work)
        return self.git("rev-parse", "HEAD", cwd=self.work)

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.work / rel
        text = path.read_text()
        if old not in text:
            raise DemoError(f"{rel}: expected to find {old!r} to change")
        path.write_text(text.replace(old, new, 1))


def start_git_daemon(children: Children, repo: GitRepo, timeout: float) -> tuple[Child, int]:
    """``git daemon`` on 127.0.0.1 and a free port (retried: another process may take the port first)."""
    for _ in range(5):
        port = free_port()
        child = children.start("git-daemon", [
            "git", "daemon", "--reuseaddr", "--export-all", f"--base-path={repo.served}", "--listen=127.0.0.1",
            f"--port={port}", "--informative-errors", str(repo.served)])
        try:
            wait_for(f"git daemon to listen on 127.0.0.1:{port}",
                     lambda: port_open(port) or child.proc.poll() is not None, timeout)
        except DemoError:
            children.stop(child)
            raise
        if child.proc.poll() is None:
            return child, port
        children.started.remove(child)  # lost the port race; try another
    raise DemoError(f"git daemon did not start:\n{child.tail()}")


def write_apps(examples: Path, apps_dir: Path, repo_url: str) -> list[str]:
    """The example Applications, pointed at the served repo, with automated sync, prune and self-heal."""
    apps_dir.mkdir()
    names = []
    for name, _kind in APPS:
        doc: dict[str, Any] = yaml.safe_load((examples / "apps" / f"{name}.yaml").read_text())
        spec = doc["spec"]
        spec["source"]["repoURL"] = repo_url
        spec["source"]["targetRevision"] = "HEAD"
        if name in DEST_NAMESPACE:
            spec["destination"]["namespace"] = DEST_NAMESPACE[name]
        spec["syncPolicy"] = {"automated": {"prune": True, "selfHeal": True},
                              "syncOptions": ["CreateNamespace=true"]}
        (apps_dir / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        names.append(doc["metadata"]["name"])
    return names
