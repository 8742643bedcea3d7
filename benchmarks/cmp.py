"""Config Management Plugin: a 200-file source through a local CMP vs through a sidecar.

Both paths render the same source with the same plugin (generate concatenates
the 200 manifests) through the library (``render_source``), in this process.
The sidecar is a real ``syncwright cmp-server`` subprocess on a real Unix
socket; its extra cost is the tar.gz of the repository, the socket round trip,
the extraction on the server and the JSON answer. Reports the median of 9 runs
after 2 warm-ups, the sidecar's added time and %, and proves that a sidecar
render walks the tree into a tar exactly once (``archive.TAR_PASSES``) and
that the server received all 200 files in a single request.

Goal (issue 5): the sidecar adds at most 25% over the local run.

Run: ``.venv/bin/python benchmarks/cmp.py``
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import ms, table  # noqa: E402

FILES = 200
RUNS = 15
WARMUP = 2

PLUGIN = """\
apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata:
  name: concat
spec:
  discover:
    fileName: "manifests/*.yaml"
  generate:
    command: [sh, -c]
    args: ['awk ''FNR == 1 { print "---" } { print }'' manifests/*.yaml']
"""


def make_repo(root: Path) -> Path:
    app = root / "repo" / "app" / "manifests"
    app.mkdir(parents=True)
    for i in range(FILES):
        data = "\n".join(f"  key{j}: value-{i}-{j}-" + "x" * 40 for j in range(12))
        (app / f"cm-{i:03d}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:03d}\n  labels:\n    index: '{i}'\ndata:\n{data}\n")
    return root / "repo"


def timed(fn: Callable[[], object]) -> list[float]:
    for _ in range(WARMUP):
        fn()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    from syncwright.model import Source
    from syncwright.plugins import Hooks
    from syncwright.render import BuildInfo, render_source
    from syncwright_cmp import archive

    work = Path(tempfile.mkdtemp(prefix="swb-", dir="/tmp"))
    server = None
    try:
        repo = make_repo(work)
        plugins = work / "plugins"
        plugins.mkdir()
        (plugins / "concat.yaml").write_text(PLUGIN)
        sockets = work / "s"
        sockets.mkdir()
        sock = sockets / "concat.sock"
        log = work / "server.log"
        exe = Path(sys.executable).parent / "syncwright"
        server = subprocess.Popen([str(exe), "cmp-server", "--config", str(plugins / "concat.yaml"), "--socket", str(sock),
                                   "--work-dir", str(work / "srv")], stderr=open(log, "wb"))
        deadline = time.monotonic() + 20
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)

        hooks = Hooks.load()
        source = Source.model_validate({"repoURL": "", "path": "app", "plugin": {"name": "concat"}})
        info = BuildInfo("bench", "bench")

        def render(env_name: str, value: Path) -> Callable[[], int]:
            def run() -> int:
                os.environ.pop("SYNCWRIGHT_CMP_DIR", None)
                os.environ.pop("SYNCWRIGHT_CMP_SOCKETS", None)
                os.environ["SYNCWRIGHT_CMP_DIR" if env_name == "local" else "SYNCWRIGHT_CMP_SOCKETS"] = str(value)
                if env_name == "sidecar":
                    os.environ["SYNCWRIGHT_CMP_DIR"] = str(work / "no-local-plugins")
                n = len(render_source(hooks, source, repo, info).manifests)
                assert n == FILES, n
                return n
            return run

        # interleaved, so both paths see the same machine load
        run_local, run_sidecar = render("local", plugins), render("sidecar", sockets)
        local: list[float] = []
        sidecar: list[float] = []
        sidecar_passes = 0
        for i in range(WARMUP + RUNS):
            start = time.perf_counter()
            run_local()
            t_local = time.perf_counter() - start
            before = archive.TAR_PASSES
            start = time.perf_counter()
            run_sidecar()
            t_sidecar = time.perf_counter() - start
            sidecar_passes += archive.TAR_PASSES - before
            if i >= WARMUP:
                local.append(t_local)
                sidecar.append(t_sidecar)
        passes = sidecar_passes / (RUNS + WARMUP)

        # the archive alone, for the breakdown
        def tar_only() -> None:
            with tempfile.TemporaryFile() as fh:
                archive.write_archive(repo, fh)
        tar_times = timed(tar_only)
        archive_size = 0
        with tempfile.TemporaryFile() as fh:
            archive.write_archive(repo, fh)
            archive_size = fh.tell()

        lines = [line for line in log.read_text().splitlines() if "POST /v1/generate 200" in line]
        received = {line.split(" files=")[1].split()[0] for line in lines}
        lm, sm, tm = statistics.median(local), statistics.median(sidecar), statistics.median(tar_times)
        added = sm - lm
        print(f"## CMP render: {FILES}-file source, local vs sidecar (median of {RUNS} runs after {WARMUP} warm-ups)\n")
        print(table(["path", "median", "min", "max"], [
            ["local CMP (plugins dir)", ms(lm), ms(min(local)), ms(max(local))],
            ["sidecar (cmp-server, Unix socket)", ms(sm), ms(min(sidecar)), ms(max(sidecar))],
            ["  of which: tar.gz of the repo", ms(tm), ms(min(tar_times)), ms(max(tar_times))],
        ]))
        print(f"\nsidecar added time: {ms(added)} ({added / lm * 100:+.1f}% over local; goal <= +25%)")
        print(f"tar passes per sidecar render: {passes:g} (goal: 1); archive {archive_size / 1024:.0f} KiB compressed; "
              f"server received files={','.join(sorted(received))} in {len(lines)} generate requests "
              f"({RUNS + WARMUP} renders)")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
