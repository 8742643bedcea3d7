"""Render overhead: `syncwright render` vs the raw tool on the same input.

For each source type (a generated 500-file directory, the kustomize example's
overlays, the helm example chart, the jsonnet example) this measures, as the
median of N runs after a warm-up:

- CLI: wall time of the raw tool's command line vs ``syncwright render``;
  the difference is syncwright's CLI overhead (goal: at most 100 ms);
- library: the raw tool run from Python vs ``syncwright.render.render_source``
  in-process; the ratio is the in-process overhead (goal: at most 10%);
- ``syncwright --help`` (goal: under 150 ms) and bare ``python -c pass``.

The directory type has no external tool; its "raw tool" is the same files
read and parsed with PyYAML's C loader — the least any renderer must do.

Run: ``.venv/bin/python benchmarks/render.py [--runs 7]``. Prints a markdown
table (copied into benchmarks/README.md). Never fails on a timing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import median_time, ms, run_cmd, table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent
SW = str(BIN / "syncwright")


def make_directory_source(dest: Path, files: int = 500) -> Path:
    """500 small manifests in 10 nested dirs: ConfigMaps, Services and Deployments."""
    src = dest / "dir-500"
    for i in range(files):
        sub = src / f"group-{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        if i % 3 == 0:
            body = (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  labels: {{app: web-{i}}}\n"
                    f"spec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: web-{i}}}\n  template:\n"
                    f"    metadata:\n      labels: {{app: web-{i}}}\n    spec:\n      containers:\n"
                    f"      - name: app\n        image: nginx:1.25\n        ports:\n        - containerPort: 80\n")
        elif i % 3 == 1:
            body = (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\nspec:\n  selector: {{app: web-{i}}}\n"
                    f"  ports:\n  - port: 80\n    targetPort: 8080\n")
        else:
            body = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  key: value-{i}\n  other: '{i}'\n"
        (sub / f"m-{i:03d}.yaml").write_text(body)
    return src


PARSE_SCRIPT = (
    "import sys, glob, yaml\n"
    "files = sorted(glob.glob(sys.argv[1] + '/**/*.yaml', recursive=True))\n"
    "objs = [d for f in files for d in yaml.load_all(open(f), Loader=yaml.CSafeLoader) if d]\n"
    "sys.stdout.write(yaml.dump_all(objs, Dumper=yaml.CSafeDumper))\n"
)


def cases(tmp: Path) -> list[dict[str, Any]]:
    """Each case: the raw command, the syncwright command, and the library call's arguments."""
    out: list[dict[str, Any]] = []
    d = make_directory_source(tmp)
    out.append({
        "name": "directory (500 files)",
        "raw": [sys.executable, "-c", PARSE_SCRIPT, str(d)],
        "raw_inproc": lambda: parse_dir(d),
        "sw": [SW, "render", str(d), "--directory-recurse"],
        "lib": {"path": d, "source": {"repoURL": "", "path": "", "directory": {"recurse": True}}},
    })
    kubectl = shutil.which("kubectl") or str(BIN / "kubectl")
    overlays = sorted((EXAMPLES / "kustomize-app" / "overlays").glob("*")) if (EXAMPLES / "kustomize-app").exists() else []
    for ov in overlays[:3]:
        out.append({
            "name": f"kustomize ({ov.name} overlay)",
            "raw": [kubectl, "kustomize", str(ov)],
            "sw": [SW, "render", str(ov)],
            "lib": {"path": ov, "source": {"repoURL": "", "path": ""}},
        })
    helm = shutil.which("helm") or str(BIN / "helm")
    chart = EXAMPLES / "helm-app"
    if chart.exists():
        out.append({
            "name": "helm (example chart)",
            "raw": [helm, "template", str(chart), "--name-template", "helm-app", "--include-crds"],
            "sw": [SW, "render", str(chart), "--release-name", "helm-app"],
            "lib": {"path": chart, "source": {"repoURL": "", "path": "", "helm": {"releaseName": "helm-app"}}},
        })
    jsonnet_app = EXAMPLES / "jsonnet-app"
    if jsonnet_app.exists():
        from syncwright.model import load_applications

        app = load_applications(EXAMPLES / "apps" / "jsonnet-app.yaml")[0]
        src = app.spec.effective_sources()[0]
        jn = src.directory.jsonnet if src.directory else None
        script = ["import sys, _jsonnet, glob, os", f"os.chdir({str(jsonnet_app)!r})"]
        tla = {v.name: v.value for v in (jn.tlas if jn else ()) if not v.code}
        tlac = {v.name: v.value for v in (jn.tlas if jn else ()) if v.code}
        ext = {v.name: v.value for v in (jn.ext_vars if jn else ()) if not v.code}
        extc = {v.name: v.value for v in (jn.ext_vars if jn else ()) if v.code}
        libs = [str((EXAMPLES / lib).resolve()) for lib in (jn.libs if jn else ())] + [str(jsonnet_app / "vendor")]
        script.append(
            "for f in sorted(glob.glob('**/*.jsonnet', recursive=True)):\n"
            f"    sys.stdout.write(_jsonnet.evaluate_file(f, tla_vars={tla!r}, tla_codes={tlac!r}, "
            f"ext_vars={ext!r}, ext_codes={extc!r}, jpathdir={libs!r}))"
        )
        code = "\n".join(script)
        out.append({
            "name": "jsonnet (example)",
            "raw": [sys.executable, "-c", code],
            "raw_inproc": lambda: _exec_quiet(code),
            "sw": [SW, "render", "-f", str(EXAMPLES / "apps" / "jsonnet-app.yaml")],
            "lib": {"app": EXAMPLES / "apps" / "jsonnet-app.yaml"},
        })
    return out


def parse_dir(path: Path) -> str:
    """PARSE_SCRIPT's work in-process: read, parse and re-dump every file."""
    import yaml

    files = sorted(path.glob("**/*.yaml"))
    objs = [d for f in files for d in yaml.load_all(f.read_text(), Loader=yaml.CSafeLoader) if d]
    return str(yaml.dump_all(objs, Dumper=yaml.CSafeDumper))


def _exec_quiet(code: str) -> None:
    import contextlib
    import io
    import os

    cwd = os.getcwd()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, {"__name__": "x"})
    finally:
        os.chdir(cwd)


def lib_call(spec: dict[str, Any]) -> Any:
    from syncwright.model import Source, load_applications
    from syncwright.paths import find_repo_root
    from syncwright.plugins import Hooks
    from syncwright.render import BuildInfo, render_application, render_source

    hooks = Hooks.load()
    if "app" in spec:
        app = load_applications(spec["app"])[0]

        def call_app() -> None:
            render_application(hooks, app, spec["app"].parent)

        return call_app
    path: Path = spec["path"]
    root = find_repo_root(path)
    source_dict = dict(spec["source"])
    source_dict["path"] = str(path.resolve().relative_to(root))
    source = Source.model_validate(source_dict)
    info = BuildInfo(path.name)

    def call() -> None:
        render_source(hooks, source, root, info, check_whole_root=False)

    return call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sw-bench-") as tmpdir:
        for case in cases(Path(tmpdir)):
            raw = median_time(run_cmd(case["raw"]), runs=args.runs)
            sw = median_time(run_cmd(case["sw"]), runs=args.runs)
            raw_inproc = median_time(case.get("raw_inproc") or run_cmd(case["raw"]), runs=args.runs)
            lib = median_time(lib_call(case["lib"]), runs=args.runs)
            rows.append([
                case["name"], ms(raw), ms(sw), ms(sw - raw), f"{sw / raw:.2f}x",
                ms(lib), f"{(lib - raw_inproc) / raw_inproc * 100:+.0f}%",
            ])
    help_t = median_time(run_cmd([SW, "--help"]), runs=args.runs)
    py_t = median_time(run_cmd([sys.executable, "-c", "pass"]), runs=args.runs)
    print(table(
        ["case", "raw tool (CLI)", "syncwright render (CLI)", "CLI overhead", "ratio",
         "render_source() in-process", "in-process overhead vs raw"],
        rows,
    ))
    print()
    print(table(["command", "median"], [["syncwright --help", ms(help_t)], ["python -c pass", ms(py_t)]]))
    print(f"\n(median of {args.runs} runs after 1 warm-up; {sys.platform}, Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
