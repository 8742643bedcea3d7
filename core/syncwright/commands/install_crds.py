"""``syncwright install-crds``: print the CustomResourceDefinitions of in-cluster mode."""

from __future__ import annotations

import json

import click


@click.command("install-crds")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def install_crds(output: str) -> None:
    """Print the Application and AppProject CRDs (group syncwright.dev).

    Apply them with: syncwright install-crds | kubectl apply --server-side -f -
    """
    import yaml

    from ..controller.crds import crds

    docs = crds()
    if output == "json":
        click.echo(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}, indent=2))
    else:
        click.echo(yaml.safe_dump_all(docs, sort_keys=False), nl=False)
