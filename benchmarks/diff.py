"""Live-state comparison at scale: 1,000 apps × 20 resources (20,000 objects) in kubesim.

Seeds kubesim in-process with server-side applies (field manager
``syncwright``, so live objects carry managedFields and server defaults like a
real cluster's), starts syncwright's cluster cache against it over HTTP
(list + watch), then, with the cache warm, computes sync status and health
for every app and reports:

- time for all apps, and objects compared per second (on one core: the
  comparison is pure Python in one thread);
- API calls made during the comparison (goal: none — reads hit the cache);
- the cache's memory (tracemalloc, objects + indexes) vs the objects' JSON size
  (goal: at most 3x).

Run: ``.venv/bin/python benchmarks/diff.py [--apps 1000] [--per-app 20]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

# benchmarks/kubesim.py would shadow the kubesim package: keep this folder off sys.path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table (as benchmarks/_util.py, loaded by path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_sw_bench_util", _HERE / "_util.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return str(mod.table(headers, rows))


def desired_objects(app: str, ns: str, n: int) -> list[dict[str, Any]]:
    """A realistic mix: Deployments, Services, ConfigMaps (and one Secret)."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        name = f"{app}-r{i}"
        kind = i % 4
        if kind == 0:
            out.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns,
                        "labels": {"app": name}}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                            {"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                             "env": [{"name": "MODE", "value": "prod"}],
                             "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}}]}}}})
        elif kind == 1:
            out.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
                        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}})
        elif kind == 2 and i == 2:
            out.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
                        "data": {"token": "c2VjcmV0"}})
        else:
            out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
                        "data": {"key": f"value-{i}", "other": "x" * 40}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--per-app", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from kubesim.sim import Config, Simulator

    from syncwright.cluster.cache import ClusterCache
    from syncwright.cluster.client import Client, ClusterConfig
    from syncwright.controller.compare import compare_app_state
    from syncwright.model import parse_application
    from syncwright.plugins import Hooks
    from syncwright.tracking import Tracking

    sim = Simulator(Config(controllers=False))
    url = sim.start(0)
    tmp = Path(tempfile.mkdtemp(prefix="sw-bench-diff-"))
    kubeconfig = sim.write_kubeconfig(tmp / "kubeconfig")
    tracking = Tracking()
    apps: list[tuple[Any, list[dict[str, Any]]]] = []
    seed_start = time.perf_counter()
    json_bytes = 0
    ns_rt = sim.registry.by_kind("v1", "Namespace")
    for a in range(args.apps):
        name, ns = f"app-{a:04d}", f"ns-{a % 50:02d}"
        if a < 50:
            sim.api.create(ns_rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                           manager="bench")
        objs = desired_objects(name, ns, args.per_app)
        for obj in objs:
            stamped = tracking.stamp(obj, name, ns)
            rt = sim.registry.by_kind(obj["apiVersion"], obj["kind"])
            _, live = sim.api.patch(rt, ns, obj["metadata"]["name"], "application/apply-patch+yaml", stamped,
                                    manager="syncwright", force=True)
            json_bytes += len(json.dumps(live, separators=(",", ":")))  # as the API server sends it
        app = parse_application({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                                 "metadata": {"name": name}, "spec": {"source": {"repoURL": "x"},
                                 "destination": {"server": url, "namespace": ns}}}, "bench")
        apps.append((app, objs))
    seed_time = time.perf_counter() - seed_start

    client = Client(ClusterConfig(str(kubeconfig)))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    cache = ClusterCache(client)
    t0 = time.perf_counter()
    cache.start(timeout=300)
    warm_time = time.perf_counter() - t0
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    # The cache's objects and indexes; the HTTP client's socket/TLS buffers are not the cache.
    net = [tracemalloc.Filter(False, f"*{m}*") for m in ("socket.py", "ssl.py", "http/client.py", "urllib3")]
    cache_bytes = sum(s.size_diff for s in after.filter_traces(net).compare_to(before.filter_traces(net), "filename"))

    hooks = Hooks.load()
    calls_before = client.calls
    times = []
    synced = healthy_known = 0
    for _ in range(args.runs):
        t = time.perf_counter()
        synced = healthy_known = 0
        for app, objs in apps:
            state = compare_app_state(app, objs, cache, hooks, scopes=cache.discovery)
            synced += state.sync_status == "Synced"
            healthy_known += state.health.status != "Unknown"
        times.append(time.perf_counter() - t)
    api_calls = client.calls - calls_before
    best = statistics.median(times)
    objects = args.apps * args.per_app
    print(table(["measure", "value"], [
        ["apps × resources", f"{args.apps} × {args.per_app} = {objects} objects"],
        ["seeding kubesim (in-process SSA)", f"{seed_time:.1f} s"],
        ["cache warm-up (LIST over HTTP, all types)", f"{warm_time:.2f} s ({len(cache)} objects cached)"],
        ["sync status + health, all apps (median of %d)" % args.runs, f"{best:.2f} s"],
        ["objects compared per second (one thread)", f"{objects / best:,.0f}"],
        ["apps Synced", f"{synced} / {args.apps}"],
        ["API calls during comparison", str(api_calls)],
        ["objects' JSON size (compact, as served by the API)", f"{json_bytes / 1e6:.1f} MB"],
        ["cache memory (tracemalloc)", f"{cache_bytes / 1e6:.1f} MB ({cache_bytes / json_bytes:.2f}x JSON)"],
    ]))
    cache.stop()
    sim.stop()


if __name__ == "__main__":
    main()
