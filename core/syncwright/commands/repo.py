"""``syncwright repo``: ask a remote repository what a revision means, or what refs it has."""

from __future__ import annotations

import json

import click

from ..cli import load_hooks


@click.group()
def repo() -> None:
    """Remote repositories (Git over https/ssh/git, Helm chart repositories)."""


_creds_option = click.option("--credentials", type=click.Path(dir_okay=False),
                             help="Repository credentials file (env SYNCWRIGHT_CREDENTIALS).")


def _service(ctx: click.Context, credentials: str | None) -> object:
    from ..repo.creds import CredentialStore
    from ..repo.service import RepoService

    return RepoService(load_hooks(ctx), credentials=CredentialStore.load(credentials), revision_ttl=0)


@repo.command()
@click.argument("url")
@click.argument("revision", required=False, default="")
@click.option("--chart", help="Resolve a chart version in a Helm repository instead of a Git revision.")
@click.option("--tag-prefix", default="", help="Only tags with this prefix take part in semver constraints.")
@_creds_option
@click.pass_context
def resolve(ctx: click.Context, url: str, revision: str, chart: str | None, tag_prefix: str,
            credentials: str | None) -> None:
    """Print the full commit SHA (or chart version) REVISION names in URL.

    REVISION is a branch, tag, HEAD (the default), a full or short SHA, or a
    semver constraint over tags such as '1.2.*' or '>=1.0.0 <2.0.0'.
    """
    from ..model import Source
    from ..repo.service import RepoService

    service = _service(ctx, credentials)
    assert isinstance(service, RepoService)
    if chart:
        resolved = service.resolve_chart(Source(repo_url=url, chart=chart, target_revision=revision), refresh=True)
    else:
        resolved = service.resolve(url, revision, tag_prefix=tag_prefix, refresh=True)
    for warning in resolved.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(resolved.sha)


@repo.command("ls-refs")
@click.argument("url")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_creds_option
@click.pass_context
def ls_refs(ctx: click.Context, url: str, output: str, credentials: str | None) -> None:
    """List the remote's refs: '<sha> <ref>' per line (annotated tags peeled)."""
    from ..repo.service import RepoService

    service = _service(ctx, credentials)
    assert isinstance(service, RepoService)
    refs = service.ls_refs(url)
    if output == "json":
        click.echo(json.dumps(refs, indent=2, sort_keys=True))
        return
    for name in sorted(refs, key=lambda n: (n != "HEAD", n)):
        click.echo(f"{refs[name]} {name}")
