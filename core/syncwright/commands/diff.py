"""``syncwright diff``: what a sync would change, as kubectl diff shows it."""

from __future__ import annotations

import sys

import click

from .appstate import app_options, cluster_options, load_state


def _colour(text: str) -> str:
    out = []
    for line in text.splitlines(True):
        if line.startswith(("+++", "---")):
            out.append(click.style(line, bold=True))
        elif line.startswith("+"):
            out.append(click.style(line, fg="green"))
        elif line.startswith("-"):
            out.append(click.style(line, fg="red"))
        elif line.startswith("@@"):
            out.append(click.style(line, fg="cyan"))
        else:
            out.append(line)
    return "".join(out)


@click.command()
@app_options
@cluster_options
@click.option("--color/--no-color", default=None, help="Colour the diff (default: when stdout is a terminal).")
@click.pass_context
def diff(ctx: click.Context, /, app_file: str, app_select: str | None, hard_refresh: bool,
         kubeconfig: str | None, kube_context: str | None, color: bool | None) -> None:
    """Show a unified diff per resource between live state and Git.

    Exit status: 0 in sync, 1 out of sync, 2 on error (like `kubectl diff`).
    Secret values are masked.
    """
    from ..errors import SyncwrightError

    try:
        loaded = load_state(ctx, app_file, app_select, kubeconfig, kube_context, hard_refresh)
    except SyncwrightError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    use_colour = sys.stdout.isatty() if color is None else color
    state = loaded.state
    for res in state.resources:
        if res.status != "OutOfSync":
            continue
        r = res.comparison
        header = f"===== {res.key} ======"
        if r.requires_pruning:
            header += " (live only: requires pruning)"
        elif r.live is None:
            header += " (missing from the cluster)"
        click.echo(click.style(header, bold=True) if use_colour else header, color=use_colour)
        text = r.diff.unified()
        click.echo(_colour(text) if use_colour else text, nl=False, color=use_colour)
    for warning in state.comparison.warnings:
        click.echo(f"warning: {warning}", err=True)
    sys.exit(1 if state.sync_status == "OutOfSync" else 0)
