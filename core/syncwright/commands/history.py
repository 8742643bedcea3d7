"""``syncwright history``: the revisions an app was synced to (Argo CD's ``app history``)."""

from __future__ import annotations

import json

import click

from ..execution import redact_url

from .appstate import pick_app


@click.command()
@click.option("-f", "--file", "app_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="An Application manifest.")
@click.option("--app", "app_select", metavar="NAME", help="Which Application of a file holding several.")
@click.option("-o", "--output", type=click.Choice(["wide", "json", "id"]), default="wide", show_default=True)
def history(app_file: str, app_select: str | None, output: str) -> None:
    """List the deployment history: ID, DATE, REVISION (the ids `syncwright rollback` takes)."""
    from ..sync import FileStore

    app = pick_app(app_file, app_select)
    entries = FileStore().history(app.name)
    if output == "json":
        click.echo(json.dumps([{"id": e.id, "revision": e.revision, "deployedAt": e.deployed_at,
                                "deployStartedAt": e.started_at, "sources": list(e.sources),
                                "operationId": e.operation_id} for e in entries], indent=2))
        return
    if output == "id":
        for e in entries:
            click.echo(str(e.id))
        return
    for source in app.spec.effective_sources():
        click.echo(f"SOURCE  {redact_url(source.repo_url)}")
    click.echo(f"{'ID':<6}{'DATE':<32}REVISION")
    for e in entries:
        click.echo(f"{e.id:<6}{e.deployed_at:<32}{e.revision or '(local)'}")
