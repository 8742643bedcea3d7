"""The sync engine against kubesim (served from a child process, so client and server do not share a GIL).

(a) First sync of N objects (default 500: ConfigMaps, Services, Deployments) in one
    wave, ``syncwright sync`` vs ``kubectl apply --server-side -f`` of the same files,
    each run into a fresh namespace; median of 5 and the ratio (goal: <= 1.0x).
    syncwright does more per object than kubectl: a server-side dry-run of
    everything before the first write, plus a list of the live state.
(b) Re-sync with no changes and ``ApplyOutOfSyncOnly=true``: the write count
    (goal 0) and the time (goal < 1 s), engine in-process and the whole CLI.
(c) A 4-wave app with PreSync/PostSync hooks (Jobs) and a Deployment per wave,
    with kubesim's controller delays and Job duration set to 0: what remains is
    the engine's own overhead (goal < 0.5 s). Also shown with kubesim's default
    delays for reference.

Run: ``.venv/bin/python benchmarks/sync.py [--objects 500] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl", path=str(BIN)) or "kubectl"
SW = str(BIN / "syncwright")


def _server(conn: Any, kubeconfig: str, zero_delays: bool) -> None:
    from kubesim import Config, Simulator

    delays = {k: 0.0 for k in ("deployment", "replicaset", "statefulset", "daemonset", "job", "pod", "pvc",
                               "loadbalancer", "serviceaccount")} if zero_delays else {}
    sim = Simulator(Config(token="bench-token", controller_delays=delays))
    if zero_delays:
        sim.controllers.configure(job_duration=0.0)
    sim.start(0)
    sim.write_kubeconfig(kubeconfig)
    conn.send(sim.url)
    conn.recv()
    sim.stop()


class Server:
    def __init__(self, tmp: Path, zero_delays: bool = False) -> None:
        self.kubeconfig = str(tmp / f"kubeconfig-{int(zero_delays)}")
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_server, args=(child, self.kubeconfig, zero_delays), daemon=True)
        self.proc.start()
        self.url = self.conn.recv()

    def stop(self) -> None:
        self.conn.send("stop")
        self.proc.join(10)


def objects(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        name = f"obj-{i:04d}"
        if i % 5 == 0:
            out.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                                 "template": {"metadata": {"labels": {"app": name}},
                                              "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}})
        elif i % 5 == 1:
            out.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}})
        else:
            out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                        "data": {"key": f"value-{i}", "other": "x" * 64}})
    return out


def write_app(tmp: Path, name: str, ns: str, objs: list[dict[str, Any]], options: list[str]) -> Path:
    import yaml

    repo = tmp / name / "repo"
    (repo / "app").mkdir(parents=True, exist_ok=True)
    (repo / "app" / "all.yaml").write_text(yaml.safe_dump_all(objs))
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name},
           "spec": {"project": "default", "source": {"repoURL": str(repo), "path": "app"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": ns},
                    "syncPolicy": {"syncOptions": options}}}
    path = tmp / name / "app.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> None:
    res = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed: {res.stderr}")


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {res.stderr[-2000:]}")
    return elapsed


def bench_a(srv: Server, tmp: Path, n: int, runs: int, env: dict[str, str]) -> dict[str, float]:
    import yaml

    objs = objects(n)
    sw, kc = [], []
    for run in range(runs + 1):  # the first run of each warms caches and is not counted
        ns_k, ns_s = f"kc-{run}", f"sw-{run}"
        kubectl(srv.kubeconfig, "create", "namespace", ns_k)
        kubectl(srv.kubeconfig, "create", "namespace", ns_s)
        files = tmp / f"kc-{run}.yaml"
        files.write_text(yaml.safe_dump_all(objs))
        t_k = timed([KUBECTL, "--kubeconfig", srv.kubeconfig, "apply", "--server-side", "-n", ns_k, "-f",
                     str(files)], env)
        app = write_app(tmp, f"bench-a-{run}", ns_s, objs, [])
        t_s = timed([SW, "sync", "-f", str(app), "--kubeconfig", srv.kubeconfig, "-o", "json"], env)
        if run:
            kc.append(t_k)
            sw.append(t_s)
    return {"kubectl": statistics.median(kc), "syncwright": statistics.median(sw)}


def bench_b(srv: Server, tmp: Path, n: int, env: dict[str, str]) -> dict[str, float]:
    from syncwright.cluster.client import Client, ClusterConfig
    from syncwright.model import load_applications
    from syncwright.plugins import Hooks
    from syncwright.sync import FileStore, SyncEngine, SyncRequest

    kubectl(srv.kubeconfig, "create", "namespace", "resync")
    objs = objects(n)
    app_file = write_app(tmp, "bench-b", "resync", objs, ["ApplyOutOfSyncOnly=true"])
    timed([SW, "sync", "-f", str(app_file), "--kubeconfig", srv.kubeconfig, "-o", "json"], env)
    app = load_applications(app_file)[0]
    import yaml

    manifests = list(yaml.safe_load_all((app_file.parent / "repo" / "app" / "all.yaml").read_text()))
    client = Client(ClusterConfig(srv.kubeconfig, qps=0))  # as the CLI: no client-side throttling
    engine = SyncEngine(app, client, Hooks.load(), store=FileStore(tmp / "state-b"))
    engine.discovery.ensure()
    before = dict(client.calls_by_verb)
    t0 = time.perf_counter()
    op = engine.run(manifests, SyncRequest())
    engine_time = time.perf_counter() - t0
    writes = sum(client.calls_by_verb.get(v, 0) - before.get(v, 0) for v in ("POST", "PUT", "PATCH", "DELETE"))
    assert op.succeeded, op.message
    cli = timed([SW, "sync", "-f", str(app_file), "--kubeconfig", srv.kubeconfig, "-o", "json"], env)
    return {"engine": engine_time, "cli": cli, "writes": float(writes), "applied": float(len(op.resources))}


def four_wave_app() -> list[dict[str, Any]]:
    def job(name: str, hook: str) -> dict[str, Any]:
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": name, "annotations": {"argocd.argoproj.io/hook": hook}},
                "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                                                                  "containers": [{"name": "c", "image": "busybox"}]}}}}

    out = [job("pre", "PreSync"), job("post", "PostSync")]
    for wave in range(4):
        name = f"web-{wave}"
        out.append({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": name, "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                             "template": {"metadata": {"labels": {"app": name}},
                                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
        out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": f"cfg-{wave}", "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}}, "data": {"w": str(wave)}})
    return out


def bench_c(srv: Server, tmp: Path, runs: int, label: str) -> float:
    from syncwright.cluster.client import Client, ClusterConfig
    from syncwright.model import parse_application
    from syncwright.plugins import Hooks
    from syncwright.sync import FileStore, SyncEngine, SyncRequest

    client = Client(ClusterConfig(srv.kubeconfig, qps=0))  # as the CLI: no client-side throttling
    hooks = Hooks.load()
    samples = []
    for run in range(runs + 1):
        ns = f"waves-{label}-{run}"
        kubectl(srv.kubeconfig, "create", "namespace", ns)
        app = parse_application({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                                 "metadata": {"name": ns}, "spec": {"source": {"repoURL": "/x", "path": "."},
                                                                   "destination": {"namespace": ns}}}, "bench")
        engine = SyncEngine(app, client, hooks, store=FileStore(tmp / f"state-c-{label}"))
        t0 = time.perf_counter()
        op = engine.run(four_wave_app(), SyncRequest(timeout=120))
        elapsed = time.perf_counter() - t0
        assert op.succeeded, op.message
        if run:
            samples.append(elapsed)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sw-bench-sync-"))
    env = {**os.environ, "SYNCWRIGHT_STATE": str(tmp / "state"), "SYNCWRIGHT_CACHE": str(tmp / "cache")}
    srv = Server(tmp)
    try:
        a = bench_a(srv, tmp, args.objects, args.runs, env)
        b = bench_b(srv, tmp, args.objects, env)
        c_default = bench_c(srv, tmp, args.runs, "default")
    finally:
        srv.stop()
    fast = Server(tmp, zero_delays=True)
    try:
        c_zero = bench_c(fast, tmp, args.runs, "zero")
    finally:
        fast.stop()
    sys.path.insert(0, str(_HERE))
    from _util import table

    rows = [
        (f"(a) first sync, {args.objects} objects, 1 wave: kubectl apply --server-side", f"{a['kubectl']:.2f} s", ""),
        (f"(a) first sync, {args.objects} objects, 1 wave: syncwright sync (CLI)", f"{a['syncwright']:.2f} s",
         f"ratio {a['syncwright'] / a['kubectl']:.2f}x (goal <= 1.0x)"),
        ("(b) no-change re-sync, ApplyOutOfSyncOnly: engine", f"{b['engine']:.2f} s",
         f"{int(b['writes'])} writes, {int(b['applied'])} applied (goal 0, < 1 s)"),
        ("(b) no-change re-sync, ApplyOutOfSyncOnly: whole CLI", f"{b['cli']:.2f} s", "incl. start-up and render"),
        ("(c) 4 waves + PreSync/PostSync hooks, zero controller delays (engine overhead)", f"{c_zero:.2f} s",
         "goal < 0.5 s"),
        ("(c) same, kubesim default delays (pod 0.2 s, job 0.2 s)", f"{c_default:.2f} s", "reference"),
    ]
    print(table(["benchmark", "median", "notes"], rows))
    print(json.dumps({"a": a, "b": b, "c_zero": c_zero, "c_default": c_default}))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
