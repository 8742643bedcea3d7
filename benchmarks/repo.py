"""Repo service: 50 apps from one Git repo at one SHA, cold vs warm.

A bare repo holding a copy of ``examples/`` is served by ``git daemon`` on an
ephemeral 127.0.0.1 port. 50 Applications (the directory, helm, kustomize and
jsonnet examples in turn, each under its own name) point at branch ``main``.
Measured with the installed plugins (``Hooks.load()``):

- cold: empty cache dir — one ls-remote, one fetch, 50 checkouts + renders;
- warm: same service again — revision cache (TTL 180 s) and manifest cache
  hits: zero git commands, zero tool runs;
- warm, new process: a fresh ``RepoService`` on the same cache dir (what a new
  ``syncwright`` process sees) — disk revision cache + manifest cache;
- warm, revision checked: TTL 0, so each app resolves ``main`` with one
  ls-remote and nothing else, then hits the manifest cache;
- resolve an unmoved branch once (TTL 0): one ls-remote.

Counts come from the repo layer's counters (git commands by kind) and from
counting ``Hooks.render``/``Hooks.source_types`` calls. Run:
``.venv/bin/python benchmarks/repo.py [--apps 50] [--workers 1]``. Prints a
markdown table (copied into benchmarks/README.md). Never fails on a timing.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import ms, table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
KINDS = ("directory-app", "helm-app", "kustomize-app", "jsonnet-app")
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


def serve(base: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}",
                             "--listen=127.0.0.1", f"--port={port}", str(base)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("git daemon did not start")


def make_repo(tmp: Path) -> Path:
    base = tmp / "served"
    work = tmp / "work"
    shutil.copytree(EXAMPLES, work, ignore=shutil.ignore_patterns("apps", "__pycache__", "*.pyc"))
    git("init", "-q", "-b", "main", str(work))
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "examples", cwd=work)
    base.mkdir()
    git("clone", "-q", "--bare", str(work), str(base / "examples.git"))
    return base


def make_apps(url: str, n: int, kinds: tuple[str, ...] = KINDS) -> list[Any]:
    from syncwright.model import parse_application

    docs = {k: yaml.safe_load((EXAMPLES / "apps" / f"{k}.yaml").read_text()) for k in kinds}
    apps = []
    for i in range(n):
        doc = copy.deepcopy(docs[kinds[i % len(kinds)]])
        doc["metadata"] = {"name": f"{kinds[i % len(kinds)]}-{i}"}
        doc["spec"]["source"]["repoURL"] = url
        doc["spec"]["source"]["targetRevision"] = "main"
        apps.append(parse_application(doc, f"app {i}"))
    return apps


class Counting:
    """Wraps a Hooks facade to count tool-running calls."""

    def __init__(self, hooks: Any) -> None:
        self.renders = 0
        self.source_types = 0
        real_render, real_types = hooks.render, hooks.source_types

        def render(ctx: Any) -> Any:
            self.renders += 1
            return real_render(ctx)

        def source_types(versions: bool = True) -> Any:
            self.source_types += versions  # only versions=True may run a tool
            return real_types(versions)

        hooks.render = render
        hooks.source_types = source_types


def run(label: str, service: Any, apps: list[Any], counter: Counting, workers: int) -> list[Any]:
    from syncwright.repo.gitmirror import STATS

    before = dict(STATS)
    r0, t0 = counter.renders, counter.source_types
    start = time.perf_counter()
    results = service.render_apps(apps, workers=workers) if workers > 1 else [service.render_app(a) for a in apps]
    elapsed = time.perf_counter() - start
    delta = {k: v - before.get(k, 0) for k, v in STATS.items() if v - before.get(k, 0)}
    network = delta.get("ls-remote", 0) + delta.get("fetch", 0)
    ROWS.append([label, ms(elapsed), ms(elapsed / len(apps)), delta.get("ls-remote", 0), delta.get("fetch", 0),
                 network, sum(v for k, v in delta.items()), counter.renders - r0, counter.source_types - t0,
                 sum(1 for r in results if r.sources[0].cached)])
    TIMES[label] = elapsed
    return results


ROWS: list[list[Any]] = []
TIMES: dict[str, float] = {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--kinds", default=",".join(KINDS), help="Which example apps to cycle through.")
    args = parser.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k)
    from syncwright.plugins import Hooks
    from syncwright.repo.creds import CredentialStore
    from syncwright.repo.gitmirror import STATS
    from syncwright.repo.service import RepoService

    with tempfile.TemporaryDirectory(prefix="sw-bench-repo-") as t:
        tmp = Path(t)
        base = make_repo(tmp)
        daemon, port = serve(base)
        try:
            url = f"git://127.0.0.1:{port}/examples.git"
            apps = make_apps(url, args.apps, kinds)
            cache = tmp / "cache"
            hooks = Hooks.load()
            counter = Counting(hooks)
            creds = CredentialStore()
            service = RepoService(hooks, cache_dir=cache, credentials=creds, revision_ttl=180)
            cold = run("cold (empty cache)", service, apps, counter, args.workers)
            warm = run("warm (same service)", service, apps, counter, args.workers)
            assert [r.manifests for r in cold] == [r.manifests for r in warm], "warm output differs from cold"
            hooks2 = Hooks.load()
            counter2 = Counting(hooks2)
            fresh = RepoService(hooks2, cache_dir=cache, credentials=creds, revision_ttl=180)
            run("warm (new service, same cache dir)", fresh, apps, counter2, args.workers)
            checked = RepoService(hooks2, cache_dir=cache, credentials=creds, revision_ttl=0)
            run("warm, branch re-resolved (TTL 0)", checked, apps, counter2, args.workers)
            before = dict(STATS)
            start = time.perf_counter()
            checked.resolve(url, "main")
            one = time.perf_counter() - start
            delta = {k: v - before.get(k, 0) for k, v in STATS.items() if v - before.get(k, 0)}
        finally:
            daemon.terminate()
            daemon.wait()
    headers = ["scenario", "total", "per app", "ls-remote", "fetch", "git network round trips",
               "git commands", "tool renders", "tool version queries", "cache hits"]
    print(f"{args.apps} apps ({', '.join(kinds)} in turn), one repo, one SHA; workers={args.workers}\n")
    print(table(headers, ROWS))
    print(f"\nwarm speed-up: {TIMES['cold (empty cache)'] / TIMES['warm (same service)']:.0f}x (same service), "
          f"{TIMES['cold (empty cache)'] / TIMES['warm (new service, same cache dir)']:.0f}x (new service)")
    print(f"resolve unmoved branch (TTL 0): {ms(one)}, git commands: {delta}")


if __name__ == "__main__":
    main()
