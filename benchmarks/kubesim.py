"""kubesim throughput with the official `kubernetes` client on loopback.

Run: `.venv/bin/python benchmarks/kubesim.py [--runs 5] [--objects 20000] [--plain-http]`

The server runs in its own process (as in the test suite's fixture: HTTPS +
bearer token unless --plain-http), pre-seeded in-process with `--objects`
ConfigMaps spread over namespaces of 1,000 each so the seeding time is not
part of any measurement. The client side measures:

- GET/s:      sequential reads of single objects through the typed client
- LIST 1000:  one namespace of 1,000 objects (ms per LIST; typed client and raw JSON)
- LIST all:   all `--objects` objects across namespaces (ms per LIST, raw JSON)
- SSA/s:      server-side apply PATCHes (application/apply-patch+yaml) changing data
- watch:      50 concurrent watchers, 200 changes; events delivered/s and the
              time until every watcher has seen the last change

Each figure is the median of `--runs` runs; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

PER_NS = 1000
# This file is named like the package it measures; keep its directory off the import path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def _server(conn: Any, objects: int, plain: bool, kubeconfig: str) -> None:
    """Child process: seed objects directly into storage, serve, wait to be told to stop."""
    from kubesim import Config, Simulator
    sim = Simulator(Config(token=None if plain else "bench-token"))
    ns_rt = sim.registry.lookup("", "v1", "namespaces")
    cm_rt = sim.registry.lookup("", "v1", "configmaps")
    assert ns_rt and cm_rt
    for n in range(max(1, objects // PER_NS)):
        sim.api.create(ns_rt, "", {"metadata": {"name": f"bench-{n}"}}, manager="seed")
    for i in range(objects):
        sim.api.create(cm_rt, f"bench-{i // PER_NS}", {
            "metadata": {"name": f"cm-{i % PER_NS:04d}", "labels": {"app": "bench",
                                                                    "shard": str(i % 10)}},
            "data": {"key": f"value-{i}", "other": "x" * 64}}, manager="seed")
    sim.api.create(ns_rt, "", {"metadata": {"name": "bench-write"}}, manager="seed")
    sim.api.create(ns_rt, "", {"metadata": {"name": "bench-watch"}}, manager="seed")
    sim.start(0)
    sim.write_kubeconfig(kubeconfig)
    conn.send(sim.url)
    conn.recv()
    sim.stop()


def _timed(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - t0


def run_once(kubeconfig: str, objects: int) -> dict[str, float]:
    from kubernetes import client, config, watch
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    api = client.ApiClient(cfg)
    core = client.CoreV1Api(api)
    out: dict[str, float] = {}

    n_get = 1000
    out["GET/s (typed client)"] = n_get / _timed(
        lambda: core.read_namespaced_config_map("cm-0001", "bench-0"), n_get)
    out["GET/s (raw JSON)"] = n_get / _timed(
        lambda: json.loads(core.read_namespaced_config_map(
            "cm-0002", "bench-0", _preload_content=False).data), n_get)

    n_list = 10
    out["LIST 1000 ms (typed client)"] = 1000 * _timed(
        lambda: core.list_namespaced_config_map("bench-1"), n_list) / n_list
    out["LIST 1000 ms (raw JSON)"] = 1000 * _timed(
        lambda: json.loads(core.list_namespaced_config_map(
            "bench-1", _preload_content=False).data), n_list) / n_list
    out["LISTs/s of 1000 objects (raw JSON)"] = 1000 / out["LIST 1000 ms (raw JSON)"]
    out["LIST 1000 by label ms (raw JSON)"] = 1000 * _timed(
        lambda: json.loads(core.list_namespaced_config_map(
            "bench-2", label_selector="shard=3", _preload_content=False).data), n_list) / n_list
    out[f"LIST all {objects} ms (raw JSON)"] = 1000 * _timed(
        lambda: json.loads(core.list_config_map_for_all_namespaces(
            _preload_content=False).data), 3) / 3

    n_ssa = 500
    counter = iter(range(10**9))

    def ssa() -> None:
        i = next(counter)
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"ssa-{i % 50}", "labels": {"app": "bench"}},
                "data": {"round": str(i), "fixed": "y"}}
        resp = core.patch_namespaced_config_map(f"ssa-{i % 50}", "bench-write", body,
                                                field_manager="bench", force=True,
                                                _content_type="application/apply-patch+yaml",
                                                _preload_content=False)
        json.loads(resp.data)  # reading the body also returns the connection to the pool

    for _ in range(50):
        ssa()  # create the 50 targets first; the timed loop only updates
    out["SSA PATCH/s"] = n_ssa / _timed(ssa, n_ssa)

    watchers, changes = 50, 200
    rv = core.list_namespaced_config_map("bench-watch").metadata.resource_version
    counts = [0] * watchers
    started = threading.Barrier(watchers + 1)
    done_at: list[float] = [0.0] * watchers

    def watcher(k: int) -> None:
        wapi = client.CoreV1Api(client.ApiClient(cfg))
        w = watch.Watch()
        started.wait()
        for _ in w.stream(wapi.list_namespaced_config_map, "bench-watch", resource_version=rv,
                          timeout_seconds=60, _preload_content=True):
            counts[k] += 1
            if counts[k] == changes:
                done_at[k] = time.perf_counter()
                w.stop()

    threads = [threading.Thread(target=watcher, args=(k,), daemon=True) for k in range(watchers)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(0.5)  # let every watch connect
    t0 = time.perf_counter()
    for i in range(changes):
        core.create_namespaced_config_map("bench-watch", {"metadata": {"name": f"w-{i}-{rv}"}},
                                          _preload_content=False).data
    for t in threads:
        t.join(timeout=60)
    t_end = max(done_at) if all(done_at) else time.perf_counter()
    out["watch fan-out events/s (50 watchers)"] = watchers * changes / (t_end - t0)
    out["watch: last event seen by all, s"] = t_end - t0
    api.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--objects", type=int, default=20000)
    ap.add_argument("--plain-http", action="store_true",
                    help="serve plain HTTP without a token (default: HTTPS + token)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kubesim-bench-"))
    kubeconfig = str(tmp / "kubeconfig")
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(
        target=_server, args=(child, args.objects, args.plain_http, kubeconfig), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    if not parent.poll(300):
        print("kubesim server process did not start", file=sys.stderr)
        return 1
    url = parent.recv()
    print(f"kubesim at {url}, seeded {args.objects} objects in "
          f"{time.perf_counter() - t0:.1f}s", file=sys.stderr)
    results: list[dict[str, float]] = []
    try:
        for r in range(args.runs):
            results.append(run_once(kubeconfig, args.objects))
            print(f"run {r + 1}/{args.runs} done", file=sys.stderr)
    finally:
        parent.send("stop")
        proc.join(timeout=10)
    print(f"\n### kubesim ({'HTTP' if args.plain_http else 'HTTPS + bearer token'}, "
          f"{args.objects} objects, median of {args.runs} runs)\n")
    print("| measurement | median | min | max |")
    print("|---|---:|---:|---:|")
    for key in results[0]:
        vals = [r[key] for r in results]
        print(f"| {key} | {statistics.median(vals):,.1f} | {min(vals):,.1f} | "
              f"{max(vals):,.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
