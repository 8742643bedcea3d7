"""``syncwright get``: an app's sync status, health, revision and resources."""

from __future__ import annotations

import json
from typing import Any

import click

from ..execution import redact_url

from .appstate import app_options, cluster_options, load_state


def _record(loaded: Any) -> dict[str, Any]:
    app, state = loaded.app, loaded.state
    src = app.spec.effective_sources()
    return {
        "name": app.name,
        "project": app.spec.project,
        "server": app.spec.destination.server or app.spec.destination.name or loaded.client.server,
        "namespace": app.dest_namespace,
        "sources": [{"repoURL": redact_url(s.repo_url), "targetRevision": s.target_revision or "HEAD", "path": s.path,
                     "chart": s.chart} for s in src],
        "sync": {"status": state.sync_status, "revisions": list(loaded.revisions)},
        "health": {"status": state.health.status, "message": state.health.message},
        "conditions": [{"type": "SharedResourceWarning", "message": w} for w in state.conditions],
        "resources": [
            {
                "group": r.key.group, "kind": r.key.kind, "namespace": r.key.namespace, "name": r.key.name,
                "status": r.status, "health": r.health.status if r.health else None,
                "healthMessage": r.health.message if r.health else "", "hook": r.hook, "wave": r.wave,
                "requiresPruning": r.comparison.requires_pruning, "message": r.comparison.message,
            }
            for r in state.resources
        ] + _hook_rows(loaded),
    }


def _hook_rows(loaded: Any) -> list[dict[str, Any]]:
    """Hooks that exist live (by name; generateName hooks get new names per run), with their health."""
    from ..annotations import hook_types, sync_wave
    from ..api import HealthContext
    from ..health import assess
    from ..manifests import key_of

    rows = []
    for hook in loaded.state.comparison.hooks:
        if not (hook.get("metadata") or {}).get("name"):
            continue
        key = key_of(hook)
        live = loaded.cache.find(key.group, key.kind, key.namespace, key.name)
        if live is None:
            continue
        health = assess(live, loaded.hooks, HealthContext(app_name=loaded.app.name))
        rows.append({
            "group": key.group, "kind": key.kind, "namespace": key.namespace, "name": key.name, "status": "",
            "health": health.status if health else None, "healthMessage": health.message if health else "",
            "hook": ",".join(hook_types(hook)), "wave": sync_wave(hook), "requiresPruning": False, "message": "",
        })
    return rows


@click.command()
@app_options
@cluster_options
@click.option("--tree", is_flag=True, help="Show the resource tree (Deployment → ReplicaSet → Pod).")
@click.option("-o", "--output", type=click.Choice(["wide", "json", "yaml"]), default="wide", show_default=True)
@click.pass_context
def get(ctx: click.Context, /, app_file: str, app_select: str | None, hard_refresh: bool, kubeconfig: str | None,
        kube_context: str | None, tree: bool, output: str) -> None:
    """Print the app's sync status, health and a table of its resources (Argo CD's `app get`)."""
    loaded = load_state(ctx, app_file, app_select, kubeconfig, kube_context, hard_refresh)
    rec = _record(loaded)
    if output == "json":
        click.echo(json.dumps(rec, indent=2))
        return
    if output == "yaml":
        import yaml

        click.echo(yaml.safe_dump(rec, sort_keys=False), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True, highlight=False)
    for label, value in (("Name:", rec["name"]), ("Project:", rec["project"]), ("Server:", rec["server"]),
                         ("Namespace:", rec["namespace"])):
        console.print(f"{label:<20}{value}")
    for s in rec["sources"]:
        console.print(f"{'Repo:':<20}{s['repoURL']}")
        console.print(f"{'Target:':<20}{s['targetRevision']}")
        console.print(f"{'Path:':<20}{s['path'] or s['chart']}")
    revision = ",".join(r[:7] for r in rec["sync"]["revisions"] if r) or "(local)"
    sync_word = "to" if rec["sync"]["status"] == "Synced" else "from"
    console.print(f"{'Sync Status:':<20}{rec['sync']['status']} {sync_word} {revision}")
    health = rec["health"]["status"] + (f" ({rec['health']['message']})" if rec["health"]["message"] else "")
    console.print(f"{'Health Status:':<20}{health}")
    for c in rec["conditions"]:
        console.print(f"{'Condition:':<20}{c['type']}: {c['message']}")
    console.print()
    if tree:
        _print_tree(console, loaded)
        return
    table = Table("GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "HOOK", "WAVE", "MESSAGE", box=None)
    for r in rec["resources"]:
        table.add_row(r["group"], r["kind"], r["namespace"], r["name"], r["status"], r["health"] or "",
                      r["hook"], str(r["wave"]), r["message"] or r["healthMessage"])
    console.print(table)


def _print_tree(console: Any, loaded: Any) -> None:
    """Each resource, then its descendants through ownerReferences (from the cache)."""
    from ..api import HealthContext
    from ..health import assess

    console.print("KIND/NAME  STATUS  HEALTH  MESSAGE")
    for res in loaded.state.resources:
        health = res.health.status if res.health else ""
        message = res.health.message if res.health else ""
        console.print(f"{res.key.kind}/{res.key.name}  {res.status}  {health}  {message}")
        live = res.comparison.live
        if live is None:
            continue
        for level, child in loaded.cache.tree(live):
            h = assess(child, loaded.hooks, HealthContext(app_name=loaded.app.name))
            text = f"  {h.status}  {h.message}" if h else ""
            console.print(f"{'  ' * level}└─ {child['kind']}/{child['metadata']['name']}{text}")
