"""``syncwright sync``: make the cluster match Git, with live progress and a structured result."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .appstate import app_options, cluster_options, pick_app


@dataclass
class Rendered:
    manifests: list[dict[str, Any]]
    revisions: list[str]
    local: bool  # some source has no revision (a local directory)


def render_with_revisions(hooks: Any, app: Any, base_dir: Path, info: Any, *, hard_refresh: bool = False) -> Rendered:
    """Render the app; remote sources through the repo service, which also pins their revisions."""
    from ..render import local_repo_path, render_application

    remote = any(s.chart or local_repo_path(s.repo_url, base_dir) is None for s in app.spec.effective_sources())
    if not remote:
        manifests = render_application(hooks, app, base_dir, info=info)
        return Rendered(manifests, [], True)
    from ..repo.creds import CredentialStore
    from ..repo.service import RepoService

    service = RepoService(hooks, credentials=CredentialStore.load(None), revision_ttl=0)
    result = service.render_app(app, info, base_dir=base_dir, hard_refresh=hard_refresh)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    revisions = [s.revision for s in result.sources]
    return Rendered(list(result.manifests), revisions, any(not r for r in revisions))


class Progress:
    """Prints sync events as they happen: rich on a terminal, plain lines otherwise, nothing for -o json."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.console: Any = None
        if enabled and self.tty:
            from rich.console import Console

            self.console = Console(stderr=True, highlight=False)

        self.status: Any = None

    def __call__(self, event: Any) -> None:
        if not self.enabled:
            return
        line, style = self._line(event)
        if self.console is not None:
            self._spinner(event)
            if line:
                self.console.print(line, style=style)
        elif line:
            click.echo(line, err=True)

    def _spinner(self, e: Any) -> None:
        """A live status line on a terminal: the step being applied and waited for."""
        if e.kind == "wave":
            text = f"{e.phase} wave {e.wave}: applying, then waiting for health"
            if self.status is None:
                self.status = self.console.status(text)
                self.status.start()
            else:
                self.status.update(text)
        elif e.kind == "end" and self.status is not None:
            self.status.stop()
            self.status = None

    @staticmethod
    def _line(e: Any) -> tuple[str, str]:
        dry = " (dry run)" if e.dry_run else ""
        if e.kind == "start":
            return f"sync of {e.app} started{dry}" + (f" at revision {e.revision[:12]}" if e.revision else ""), "bold"
        if e.kind == "phase":
            return f"phase {e.phase}", "bold cyan"
        if e.kind == "wave":
            return f"  wave {e.wave}", "cyan"
        if e.kind == "resource":
            style = "red" if e.status in ("SyncFailed", "Failed") else ("yellow" if e.status == "PruneSkipped" else "green")
            return f"    {e.status:<12} {e.resource}  {e.message}", style
        if e.kind == "end":
            return f"{e.status}: {e.message}", "bold green" if e.status == "Succeeded" else "bold red"
        return "", ""


def print_result(op: Any, output: str) -> None:
    if output == "json":
        click.echo(json.dumps(op.to_dict(), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True, highlight=False)
    console.print(f"{'Operation:':<20}{op.kind.capitalize()}")
    console.print(f"{'Sync Revision:':<20}{op.revision or '(local)'}")
    console.print(f"{'Phase:':<20}{op.phase}")
    console.print(f"{'Start:':<20}{op.started_at}")
    console.print(f"{'Finished:':<20}{op.finished_at}")
    console.print(f"{'Message:':<20}{op.message}")
    console.print()
    table = Table("GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HOOK", "MESSAGE", box=None)
    for r in op.resources:
        hook = f"{r.hook_type} {r.hook_phase}".strip() if r.hook_type else ""
        table.add_row(r.group, r.kind, r.namespace, r.name, r.status, hook, r.message)
    console.print(table)


def run_sync(ctx: click.Context, app: Any, app_file: str, kubeconfig: str | None, kube_context: str | None, *,
             hard_refresh: bool, prune: bool, dry_run: bool, resources: tuple[str, ...], sync_options: tuple[str, ...],
             timeout: float | None, output: str, wave_delay: float = 0.0, kind: str = "sync",
             manifests: list[dict[str, Any]] | None = None, qps: float = 0.0, burst: int = 100,
             parallelism: int = 16) -> int:
    """Render, sync, print; returns the exit status (0 only when the operation Succeeded)."""
    from ..cli import load_hooks
    from ..cluster.client import Client, ClusterConfig
    from ..cluster.discovery import Discovery
    from ..render import BuildInfo
    from ..sync import FileStore, ResourceSelector, SyncEngine, SyncRequest
    from ..sync.history import pinned_sources

    hooks = load_hooks(ctx)
    selectors = tuple(ResourceSelector.parse(r) for r in resources)
    client = Client(ClusterConfig(kubeconfig, kube_context, qps=qps, burst=burst))
    discovery = Discovery(client)
    discovery.ensure()
    if manifests is None:
        info = BuildInfo(app.name, app.dest_namespace, app.spec.project,
                         kube_version=discovery.kube_version() or BuildInfo.kube_version,
                         api_versions=tuple(discovery.api_versions()) or BuildInfo.api_versions)
        rendered = render_with_revisions(hooks, app, Path(app_file).resolve().parent, info, hard_refresh=hard_refresh)
    else:
        rendered = Rendered(manifests, [], True)
    policy = app.spec.sync_policy
    auto_prune = bool(policy and policy.automated and policy.automated.prune)
    request = SyncRequest(prune=prune or auto_prune, dry_run=dry_run, resources=selectors,
                          sync_options=sync_options, timeout=timeout, wave_delay=wave_delay, workers=parallelism,
                          revision=",".join(r for r in rendered.revisions if r), kind=kind,
                          sources=tuple(pinned_sources(app, rendered.revisions)), keep_manifests=rendered.local)
    progress = Progress(output != "json")
    engine = SyncEngine(app, client, hooks, store=FileStore(), discovery=discovery, on_event=progress)
    op = engine.run(rendered.manifests, request)
    print_result(op, output)
    return 0 if op.succeeded else 1


@click.command()
@app_options
@cluster_options
@click.option("--prune", is_flag=True, help="Delete live resources of the app that Git no longer has.")
@click.option("--dry-run", is_flag=True, help="Server-side dry-run of every change; nothing is written.")
@click.option("--resource", "resources", multiple=True, metavar="GROUP:KIND:[NAMESPACE/]NAME",
              help="Sync only these resources (repeatable; hooks are skipped).")
@click.option("--sync-option", "sync_options", multiple=True, metavar="KEY=VALUE",
              help="A sync option on top of syncPolicy.syncOptions (repeatable), e.g. Replace=true.")
@click.option("--timeout", type=float, default=None, metavar="SECONDS", help="Fail the operation after this long.")
@click.option("--wave-delay", type=float, default=0.0, show_default=True, metavar="SECONDS",
              help="Pause between waves (Argo CD uses 2 s; health waits make it unnecessary).")
@click.option("--qps", type=float, default=0.0, show_default=True,
              help="Client-side API request rate limit (0: none, as kubectl against a server with priority "
                   "and fairness; --parallelism bounds the load).")
@click.option("--burst", type=int, default=100, show_default=True, help="Requests allowed at once above --qps.")
@click.option("--parallelism", type=click.IntRange(1, 256), default=16, show_default=True,
              help="Objects applied at once within a wave.")
@click.option("-o", "--output", type=click.Choice(["wide", "json"]), default="wide", show_default=True)
@click.pass_context
def sync(ctx: click.Context, /, app_file: str, app_select: str | None, hard_refresh: bool, kubeconfig: str | None,
         kube_context: str | None, prune: bool, dry_run: bool, resources: tuple[str, ...],
         sync_options: tuple[str, ...], timeout: float | None, wave_delay: float, qps: float, burst: int,
         parallelism: int, output: str) -> None:
    """Sync an Application: hooks and waves in order, health waits, optional prune.

    Exit status 0 only when the operation Succeeded.
    """
    app = pick_app(app_file, app_select)
    sys.exit(run_sync(ctx, app, app_file, kubeconfig, kube_context, hard_refresh=hard_refresh, prune=prune,
                      dry_run=dry_run, resources=resources, sync_options=sync_options, timeout=timeout,
                      output=output, wave_delay=wave_delay, qps=qps, burst=burst, parallelism=parallelism))


@click.command("terminate-op")
@click.option("-f", "--file", "app_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="An Application manifest.")
@click.option("--app", "app_select", metavar="NAME", help="Which Application of a file holding several.")
def terminate_op(app_file: str, app_select: str | None) -> None:
    """Ask the app's running sync to stop (Argo CD's `app terminate-op`); it ends Failed at its next check."""
    from ..sync import FileStore
    from ..sync.operation import recover, request_terminate

    app = pick_app(app_file, app_select)
    store = FileStore()
    recover(store, app.name)
    op = request_terminate(store, app.name)
    if op is None:
        click.echo(f"error: application {app.name!r} has no running operation", err=True)
        sys.exit(1)
    click.echo(f"operation {op.id} of {app.name} is terminating")
