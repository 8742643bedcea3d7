"""``syncwright health``: the health of objects in files, as Argo CD would judge them live.

A report, not a gate: it exits 0 whatever the health (Degraded included) and
1 only when the input or the configuration is bad. ``--test`` instead runs
Argo CD ``health_test.yaml`` files and exits 1 when a case fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..cli import load_hooks
from ..errors import SpecError


def _read(path: str) -> tuple[str, list[dict[str, Any]]]:
    from ..manifests import parse_manifests

    if path == "-":
        return "-", parse_manifests(sys.stdin.read(), "<stdin>", require_name=False)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise SpecError(f"cannot read object file: {e.strerror or e}", context=path) from None
    fmt = "json" if path.endswith(".json") else "yaml"
    return path, parse_manifests(data, path, fmt=fmt, require_name=False)


def assess_files(files: tuple[str, ...], hooks: Any) -> list[dict[str, Any]]:
    """One record per object, in input order: file, resource, status (None = no health check), message."""
    from ..api import HealthContext
    from ..health import assess
    from ..manifests import key_of

    records = []
    for path in files:
        source, objs = _read(path)
        for obj in objs:
            health = assess(obj, hooks, HealthContext())
            records.append({
                "file": source,
                "resource": str(key_of(obj)),
                "status": health.status if health else None,
                "message": health.message if health else "",
            })
    return records


def _run_tests(root: str, output: str) -> int:
    from ..health.testing import collect, run_case

    results = [run_case(case) for case in collect(root)]
    failed = [r for r in results if not r.passed]
    if output == "json":
        click.echo(json.dumps([{
            "file": str(r.case.test_file), "index": r.case.index, "input": str(r.case.input_path),
            "expected": {"status": r.case.expected.status, "message": r.case.expected.message},
            "actual": {"status": r.actual.status, "message": r.actual.message},
            "passed": r.passed,
        } for r in results], indent=2))
    else:
        for r in results:
            mark = "PASS" if r.passed else "FAIL"
            line = f"{mark}  {r.case.test_file}  {r.case.input_path.name}"
            if not r.passed:
                line += (f"\n      expected {r.case.expected.status!r} {r.case.expected.message!r}"
                         f"\n      got      {r.actual.status!r} {r.actual.message!r}")
            click.echo(line)
        click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


@click.command()
@click.option("-f", "--filename", "files", multiple=True, metavar="FILE",
              help="YAML/JSON file of one or more live objects ('-' for stdin); repeatable.")
@click.option("--customizations", "customizations", multiple=True, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Lua health customizations laid out as <group>/<Kind>/health.lua; repeatable "
                   "(env SYNCWRIGHT_HEALTH_CUSTOMIZATIONS).")
@click.option("--settings", "settings", multiple=True, metavar="FILE",
              help="argocd-cm ConfigMap (or a mapping of its data) with resource.customizations "
                   "health keys; repeatable (env SYNCWRIGHT_HEALTH_SETTINGS).")
@click.option("--test", "test_dir", metavar="DIR",
              help="Run the health_test.yaml files under DIR instead (Argo CD format).")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def health(
    ctx: click.Context, files: tuple[str, ...], customizations: tuple[str, ...], settings: tuple[str, ...],
    test_dir: str | None, output: str,
) -> None:
    """Print the health status and message of each object, in input order."""
    if test_dir:
        if files:
            raise click.UsageError("give either -f or --test, not both")
        ctx.exit(_run_tests(test_dir, output))
    if not files:
        raise click.UsageError("give at least one -f FILE (or --test DIR)")
    extra = []
    if customizations or settings:
        from ..health import LuaHealthPlugin, load_customizations

        extra.append(LuaHealthPlugin(load_customizations(customizations, settings)))
    hooks = load_hooks(ctx, extra_plugins=extra)
    records = assess_files(files, hooks)
    if output == "json":
        click.echo(json.dumps([{k: r[k] for k in ("file", "status", "message")} for r in records], indent=2))
        return
    width = max([len(r["resource"]) for r in records] + [8])
    for r in records:
        status = r["status"] or "-"
        msg = r["message"] if r["status"] else "(no health check for this kind)"
        click.echo(f"{r['file']}  {r['resource']:<{width}}  {status:<11}  {msg}".rstrip())
