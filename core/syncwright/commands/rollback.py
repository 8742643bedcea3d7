"""``syncwright rollback``: re-sync a revision from the app's history (Argo CD's ``app rollback``)."""

from __future__ import annotations

import sys

import click

from .appstate import cluster_options, pick_app
from .sync import run_sync


@click.command()
@click.option("-f", "--file", "app_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="An Application manifest.")
@click.option("--app", "app_select", metavar="NAME", help="Which Application of a file holding several.")
@click.argument("history_id", type=int)
@cluster_options
@click.option("--prune", is_flag=True, help="Delete resources the old revision does not have.")
@click.option("--dry-run", is_flag=True, help="Server-side dry-run only.")
@click.option("--timeout", type=float, default=None, metavar="SECONDS", help="Fail the operation after this long.")
@click.option("-o", "--output", type=click.Choice(["wide", "json"]), default="wide", show_default=True)
@click.pass_context
def rollback(ctx: click.Context, /, app_file: str, app_select: str | None, history_id: int, kubeconfig: str | None,
             kube_context: str | None, prune: bool, dry_run: bool, timeout: float | None, output: str) -> None:
    """Sync the sources recorded under HISTORY_ID (see `syncwright history`); refused while auto-sync is on."""
    from ..sync import FileStore
    from ..sync.history import find_entry, rollback_app

    app = pick_app(app_file, app_select)
    entry = find_entry(FileStore(), app, history_id)
    target = rollback_app(app, entry)
    manifests = [dict(m) for m in entry.manifests] if entry.manifests else None
    sys.exit(run_sync(ctx, target, app_file, kubeconfig, kube_context, hard_refresh=False, prune=prune,
                      dry_run=dry_run, resources=(), sync_options=(), timeout=timeout, output=output,
                      kind="rollback", manifests=manifests))
