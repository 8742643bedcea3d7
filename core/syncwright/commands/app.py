"""``syncwright app ...``: look at and drive the apps of a running controller.

By default it reads the local-mode state database directly (``--state`` /
``$SYNCWRIGHT_STATE``); ``--in-cluster`` reads the Application resources
through ``--kubeconfig``/``--context``; ``--server URL --token T`` uses the
HTTP API. Requests (sync, refresh, rollback) are picked up by the
controller; the command waits for the outcome unless ``--async``.
Output follows ``argocd app`` (see docs/controller.md).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click



def _reader(ctx: click.Context) -> Any:
    o = ctx.find_root().obj["app"]
    from ..controller import views

    if o["server"]:
        return views.RemoteReader(o["server"], o["token"])
    if o["in_cluster"]:
        from ..cluster.client import Client, ClusterConfig
        from ..controller.runner import pod_namespace

        return views.CrdReader(Client(ClusterConfig(o["kubeconfig"], o["kube_context"])),
                               o["namespace"] or pod_namespace())
    from ..controller.store import SqliteStore

    return views.LocalReader(SqliteStore(o["state"]))


def _output(f: Any) -> Any:
    return click.option("-o", "--output", type=click.Choice(["wide", "json", "yaml"]), default="wide",
                        show_default=True)(f)


def _dump(data: Any, output: str) -> None:
    if output == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False), nl=False)


def _complete_app(ctx: click.Context, _param: Any, incomplete: str) -> list[str]:
    """Shell completion of app names from the local state (quietly nothing on any error)."""
    try:
        from ..controller.store import SqliteStore

        return [n for n in SqliteStore().comparisons() if n.startswith(incomplete)]
    except Exception:  # noqa: BLE001 - completion must never print errors
        return []


NAME = click.argument("name", shell_complete=_complete_app)


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Connection flags are accepted before or after the subcommand (kubectl style)."""
    ctx.ensure_object(dict)
    conn = ctx.find_root().obj.setdefault("app", {})
    if value not in (None, False, "") or param.name not in conn:
        conn[str(param.name)] = value
    return value


def connection_options(f: Any) -> Any:
    opts = [
        click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None, expose_value=False,
                     callback=_keep, help="Local mode: the controller's SQLite state (default: $SYNCWRIGHT_STATE "
                                          "or ~/.local/state/syncwright/state.db)."),
        click.option("--kubeconfig", type=click.Path(dir_okay=False), envvar="KUBECONFIG", expose_value=False,
                     callback=_keep, help="In-cluster: the kubeconfig (default: $KUBECONFIG, ~/.kube/config)."),
        click.option("--context", "kube_context", expose_value=False, callback=_keep,
                     help="In-cluster: the kubeconfig context."),
        click.option("--in-cluster", is_flag=True, expose_value=False, callback=_keep,
                     help="Read the Application resources of an in-cluster controller."),
        click.option("--namespace", default="", expose_value=False, callback=_keep,
                     help="In-cluster: the namespace of the Application resources."),
        click.option("--server", default="", envvar="SYNCWRIGHT_SERVER", expose_value=False, callback=_keep,
                     help="The controller's API URL (env SYNCWRIGHT_SERVER)."),
        click.option("--token", default=None, envvar="SYNCWRIGHT_TOKEN", expose_value=False, callback=_keep,
                     help="Bearer token for --server (env SYNCWRIGHT_TOKEN)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


@click.group()
@connection_options
def app() -> None:
    """Look at and drive the Applications of a running controller (argocd app ...).

    Connection flags (--state, --in-cluster, --kubeconfig, --context,
    --namespace, --server, --token) go before or after the subcommand.
    """


def _conditions(view: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for c in view.get("conditions") or []:
        counts[c.get("type", "")] = counts.get(c.get("type", ""), 0) + 1
    return ",".join(f"{k}({v})" if v > 1 else k for k, v in sorted(counts.items())) or "<none>"


def _source(view: dict[str, Any]) -> dict[str, Any]:
    sources = view.get("sources") or [{}]
    return sources[0] if isinstance(sources[0], dict) else {}


@app.command("list")
@connection_options
@click.option("-p", "--project", default="", help="Only apps of this project.")
@_output
@click.pass_context
def list_apps(ctx: click.Context, project: str, output: str) -> None:
    """List apps: NAME CLUSTER NAMESPACE PROJECT STATUS HEALTH SYNCPOLICY CONDITIONS REPO PATH TARGET."""
    views = [v for v in _reader(ctx).apps() if not project or v.get("project") == project]
    if output != "wide":
        _dump(views, output)
        return
    rows = [("NAME", "CLUSTER", "NAMESPACE", "PROJECT", "STATUS", "HEALTH", "SYNCPOLICY", "CONDITIONS",
             "REPO", "PATH", "TARGET")]
    for v in views:
        src = _source(v)
        rows.append((v["name"], v.get("server") or v.get("cluster", ""), v.get("namespace", ""), v.get("project", ""),
                     (v.get("sync") or {}).get("status", "Unknown"), (v.get("health") or {}).get("status", "Unknown"),
                     v.get("syncPolicy", ""), _conditions(v), src.get("repoURL", ""), src.get("path", ""),
                     src.get("targetRevision", "")))
    _table(rows)


def _table(rows: list[tuple[Any, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


def _wait_reconciled(reader: Any, name: str, since: str, timeout: float) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = reader.app(name)
        if str(view.get("reconciledAt") or "") > since or time.monotonic() > end:
            return view
        time.sleep(0.1)


def _show_app(view: dict[str, Any], output: str) -> None:
    """An app as JSON/YAML, or Argo CD's `app get` layout for ``wide``."""
    if output != "wide":
        _dump(view, output)
    else:
        print_app(view)


def print_app(v: dict[str, Any]) -> None:
    sync, health = v.get("sync") or {}, v.get("health") or {}
    rev = sync.get("revision") or ""
    status = sync.get("status", "Unknown")
    line = f"Synced to {rev[:7] or '(local)'}" if status == "Synced" else (
        f"{status} from {_source(v).get('targetRevision') or 'HEAD'}" + (f" ({rev[:7]})" if rev else ""))
    kv = [("Name:", v["name"]), ("Project:", v.get("project", "")), ("Server:", v.get("server") or v.get("cluster", "")),
          ("Namespace:", v.get("namespace", ""))]
    for k, val in kv:
        click.echo(f"{k:<20}{val}")
    click.echo("Sources:" if len(v.get("sources") or []) > 1 else "Source:")
    for s in v.get("sources") or []:
        click.echo(f"- Repo:             {s.get('repoURL', '')}")
        click.echo(f"  Target:           {s.get('targetRevision', '')}")
        click.echo(f"  Path:             {s.get('path', '')}")
    click.echo(f"{'Sync Policy:':<20}{v.get('syncPolicy', '')}")
    click.echo(f"{'Sync Status:':<20}{line}")
    click.echo(f"{'Health Status:':<20}{health.get('status', 'Unknown')}"
               + (f" ({health['message']})" if health.get("message") else ""))
    if v.get("reconciledAt"):
        click.echo(f"{'Reconciled At:':<20}{v['reconciledAt']}")
    if v.get("conditions"):
        click.echo()
        _table([("CONDITION", "MESSAGE", "LAST TRANSITION")] + [
            (c.get("type", ""), c.get("message", ""), c.get("lastTransitionTime", "")) for c in v["conditions"]])
    op = v.get("operation")
    if op:
        click.echo()
        click.echo(f"{'Operation:':<20}{str(op.get('kind', 'sync')).capitalize()}")
        click.echo(f"{'Sync Revision:':<20}{op.get('revision') or '(local)'}")
        click.echo(f"{'Phase:':<20}{op.get('phase', '')}")
        click.echo(f"{'Start:':<20}{op.get('started_at') or op.get('startedAt', '')}")
        click.echo(f"{'Finished:':<20}{op.get('finished_at') or op.get('finishedAt', '')}")
        click.echo(f"{'Message:':<20}{op.get('message', '')}")
    if v.get("resources"):
        click.echo()
        _table([("GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "HOOK", "MESSAGE")] + [
            (r.get("group", ""), r.get("kind", ""), r.get("namespace", ""), r.get("name", ""), r.get("status", ""),
             r.get("health", ""), "Hook" if r.get("hook") is True else (r.get("hook") or ""),
             r.get("healthMessage") or r.get("message") or "") for r in v["resources"]])


@app.command()
@connection_options
@NAME
@click.option("--refresh", "refresh", flag_value="refresh", default=None, help="Refresh first and wait for it.")
@click.option("--hard-refresh", "refresh", flag_value="hard-refresh", help="Refresh bypassing the manifest cache.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="How long to wait for a refresh.")
@_output
@click.pass_context
def get(ctx: click.Context, name: str, refresh: str | None, timeout: float, output: str) -> None:
    """Show an app: sync status, health, conditions, operation, resources."""
    reader = _reader(ctx)
    view = reader.app(name)
    if refresh:
        reader.request(name, refresh)
        view = _wait_reconciled(reader, name, str(view.get("reconciledAt") or ""), timeout)
    _show_app(view, output)


@app.command()
@connection_options
@NAME
@click.option("--hard", is_flag=True, help="Bypass the manifest cache (re-render from Git).")
@click.option("--async", "no_wait", is_flag=True, help="Do not wait for the refresh.")
@click.option("--timeout", type=float, default=30.0, show_default=True)
@_output
@click.pass_context
def refresh(ctx: click.Context, name: str, hard: bool, no_wait: bool, timeout: float, output: str) -> None:
    """Ask the controller to compare the app again now."""
    reader = _reader(ctx)
    before = str(reader.app(name).get("reconciledAt") or "")
    reader.request(name, "hard-refresh" if hard else "refresh")
    if no_wait:
        click.echo(f"refresh of {name} requested")
        return
    view = _wait_reconciled(reader, name, before, timeout)
    if str(view.get("reconciledAt") or "") <= before:
        raise click.ClickException(f"app {name!r} was not refreshed within {timeout:g}s (is the controller running?)")
    _show_app(view, output)


@app.command()
@connection_options
@NAME
@click.option("--refresh", is_flag=True, help="Refresh first and wait for it.")
@click.option("--exit-code/--no-exit-code", default=True, show_default=True,
              help="Exit 1 when the app is out of sync (Argo CD's --exit-code).")
@click.pass_context
def diff(ctx: click.Context, name: str, refresh: bool, exit_code: bool) -> None:
    """Show the last comparison's differences (live → desired) of OutOfSync resources."""
    reader = _reader(ctx)
    view = reader.app(name)
    if refresh:
        reader.request(name, "refresh")
        view = _wait_reconciled(reader, name, str(view.get("reconciledAt") or ""), 30.0)
    resources = view.get("resources") or []
    if hasattr(reader, "diff"):
        resources = reader.diff(name).get("resources") or []
    out_of_sync = [r for r in resources if r.get("status") == "OutOfSync"]
    for r in out_of_sync:
        gk = f"{r.get('group')}/{r.get('kind')}" if r.get("group") else r.get("kind")
        click.echo(f"===== {gk} {r.get('namespace', '')}/{r.get('name', '')} ======")
        click.echo(r.get("diff") or "(the diff is not recorded by this controller)")
    if (view.get("sync") or {}).get("status") == "Unknown":
        raise click.ClickException(f"app {name!r}: comparison unknown: {_conditions(view)}")
    sys.exit(1 if (out_of_sync and exit_code) else 0)


def _wait_operation(reader: Any, name: str, before: str | None, timeout: float) -> dict[str, Any] | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        op = reader.operation(name)
        if op and op.get("id") != before and op.get("phase") in ("Succeeded", "Failed", "Error"):
            return dict(op)
        time.sleep(0.1)
    return None


def _run_op(ctx: click.Context, name: str, kind: str, data: dict[str, Any], no_wait: bool, timeout: float,
            output: str) -> None:
    reader = _reader(ctx)
    current = reader.operation(name)
    if current and current.get("phase") in ("Running", "Terminating"):
        raise click.ClickException(f"app {name!r}: another operation ({current.get('id')}) is running")
    reader.request(name, kind, data)
    if no_wait:
        click.echo(f"{kind} of {name} requested")
        return
    op = _wait_operation(reader, name, current.get("id") if current else None, timeout)
    if op is None:
        raise click.ClickException(f"app {name!r}: the {kind} did not finish within {timeout:g}s")
    if output != "wide":
        _dump(op, output)
    else:
        for key in ("phase", "message", "revision"):
            click.echo(f"{key.capitalize() + ':':<20}{op.get(key) or ''}")
        for r in op.get("resources") or []:
            click.echo(f"    {r.get('status', ''):<12} {r.get('kind', '')} {r.get('namespace', '')}/"
                       f"{r.get('name', '')}  {r.get('message', '')}")
    sys.exit(0 if op.get("phase") == "Succeeded" else 1)


@app.command()
@connection_options
@NAME
@click.option("--prune", is_flag=True, help="Delete live resources Git no longer has.")
@click.option("--dry-run", is_flag=True)
@click.option("--async", "no_wait", is_flag=True, help="Return once the controller has the request.")
@click.option("--timeout", type=float, default=300.0, show_default=True)
@_output
@click.pass_context
def sync(ctx: click.Context, name: str, prune: bool, dry_run: bool, no_wait: bool, timeout: float, output: str) -> None:
    """Ask the controller to sync the app; exit 0 only when the operation Succeeded."""
    _run_op(ctx, name, "sync", {"prune": prune, "dryRun": dry_run}, no_wait, timeout, output)


@app.command()
@connection_options
@NAME
@click.argument("history_id", type=int)
@click.option("--prune", is_flag=True)
@click.option("--async", "no_wait", is_flag=True)
@click.option("--timeout", type=float, default=300.0, show_default=True)
@_output
@click.pass_context
def rollback(ctx: click.Context, name: str, history_id: int, prune: bool, no_wait: bool, timeout: float,
             output: str) -> None:
    """Re-sync a history entry (refused while auto-sync is on)."""
    view = _reader(ctx).app(name)
    if str(view.get("syncPolicy", "")).startswith("Automated"):
        raise click.ClickException(f"app {name!r}: rollback cannot be initiated when auto-sync is enabled")
    _run_op(ctx, name, "rollback", {"id": history_id, "prune": prune}, no_wait, timeout, output)


@app.command()
@connection_options
@NAME
@click.option("-o", "--output", type=click.Choice(["wide", "id", "json", "yaml"]), default="wide", show_default=True)
@click.pass_context
def history(ctx: click.Context, name: str, output: str) -> None:
    """Deployment history: ID DATE REVISION."""
    items = _reader(ctx).history(name)
    if output in ("json", "yaml"):
        _dump(items, output)
        return
    if output == "id":
        for h in items:
            click.echo(h.get("id"))
        return
    _table([("ID", "DATE", "REVISION")] + [(h.get("id"), h.get("deployedAt", ""), h.get("revision") or "(local)")
                                           for h in items])


@app.command()
@connection_options
@NAME
@click.pass_context
def terminate(ctx: click.Context, name: str) -> None:
    """Stop the running operation of an app (it stops between steps)."""
    if not _reader(ctx).terminate(name):
        raise click.ClickException(f"app {name!r}: no operation is running")
    click.echo(f"asked the operation of {name} to terminate")
