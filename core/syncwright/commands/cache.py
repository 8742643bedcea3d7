"""``syncwright cache``: what the on-disk caches hold, and emptying them."""

from __future__ import annotations

import json

import click


@click.group()
def cache() -> None:
    """The cache under $SYNCWRIGHT_CACHE (default ~/.cache/syncwright)."""


def _service() -> object:
    from ..repo.creds import CredentialStore
    from ..repo.service import RepoService

    return RepoService(None, credentials=CredentialStore(), revision_ttl=0)


@cache.command()
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def stats(output: str) -> None:
    """Entries and sizes of the manifest cache, Git mirrors and Helm repositories."""
    from ..repo.service import RepoService

    service = _service()
    assert isinstance(service, RepoService)
    data = service.stats()
    if output == "json":
        click.echo(json.dumps(data, indent=2))
        return
    m = data["manifests"]
    click.echo(f"cache dir:       {data['cache_dir']}")
    click.echo(f"manifest cache:  {m['entries']} entries, {_size(m['bytes'])} (limit {_size(m['max_bytes'])})")
    click.echo(f"git mirrors:     {data['git_mirrors']['count']}, {_size(data['git_mirrors']['bytes'])}")
    click.echo(f"helm repos:      {data['helm_repos']['count']}, {_size(data['helm_repos']['bytes'])}")


@cache.command()
@click.option("--manifests-only", is_flag=True, help="Keep Git mirrors and Helm charts; drop rendered manifests.")
def clear(manifests_only: bool) -> None:
    """Remove cached manifests (and, unless --manifests-only, mirrors and charts)."""
    from ..repo.service import RepoService

    service = _service()
    assert isinstance(service, RepoService)
    removed = service.clear(manifests_only=manifests_only)
    click.echo(f"removed {removed['manifests']} manifest entries, {removed['git']} git mirrors, "
               f"{removed['helm']} helm repos")


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
