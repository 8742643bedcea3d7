"""Shared by the commands that look at an app in a cluster (``diff``, ``get``).

Loads the Application, connects to the cluster (kubeconfig/context, or
in-cluster), renders the app with the cluster's Kubernetes version and API
versions in the build environment, lists the live state once (a snapshot of
the cluster cache, no watches), and compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..cli import load_hooks
from ..errors import SpecError


@dataclass
class Loaded:
    app: Any
    state: Any
    cache: Any
    client: Any
    hooks: Any
    revisions: tuple[str, ...] = ()


def cluster_options(f: Any) -> Any:
    """The kubectl-like connection flags."""
    f = click.option("--kubeconfig", type=click.Path(dir_okay=False), envvar="KUBECONFIG",
                     help="Path to the kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")(f)
    f = click.option("--context", "kube_context", help="The kubeconfig context to use.")(f)
    return f


def app_options(f: Any) -> Any:
    f = click.option("-f", "--file", "app_file", required=True, type=click.Path(exists=True, dir_okay=False),
                     help="An Application manifest.")(f)
    f = click.option("--app", "app_select", metavar="NAME", help="Which Application of a file holding several.")(f)
    f = click.option("--hard-refresh", is_flag=True, help="Bypass the manifest cache.")(f)
    return f


def pick_app(app_file: str, app_select: str | None) -> Any:
    from ..model import load_applications

    apps = load_applications(Path(app_file))
    if app_select:
        apps = [a for a in apps if a.name == app_select]
        if not apps:
            raise SpecError(f"no Application named {app_select!r}", context=app_file)
    elif len(apps) > 1:
        names = ", ".join(a.name for a in apps)
        raise SpecError(f"holds {len(apps)} Applications ({names}); choose one with --app NAME", context=app_file)
    return apps[0]


def render_for_app(hooks: Any, app: Any, base_dir: Path, info: Any, *, hard_refresh: bool = False,
                   tool: str | None = None, credentials: str | None = None) -> list[dict[str, Any]]:
    """Render an app: local sources in place, remote ones through the repo service."""
    return render_with_revisions(hooks, app, base_dir, info, hard_refresh=hard_refresh, tool=tool,
                                 credentials=credentials)[0]


def render_with_revisions(hooks: Any, app: Any, base_dir: Path, info: Any, *, hard_refresh: bool = False,
                          tool: str | None = None, credentials: str | None = None
                          ) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The app's manifests and the resolved revision of each source ("" for local ones).

    The CLI asks the remote on every run (revision cache TTL 0 unless
    ``SYNCWRIGHT_REVISION_CACHE_TTL`` says otherwise), so a fresh push is seen;
    unchanged revisions are still served from the manifest cache.
    """
    import os

    from ..render import local_repo_path, render_application

    remote = any(s.chart or local_repo_path(s.repo_url, base_dir) is None for s in app.spec.effective_sources())
    if not remote:
        manifests = render_application(hooks, app, base_dir, info=info, tool=tool)
        return manifests, tuple("" for _ in app.spec.effective_sources())
    from ..repo.creds import CredentialStore
    from ..repo.service import RepoService

    ttl = float(os.environ.get("SYNCWRIGHT_REVISION_CACHE_TTL") or 0)
    service = RepoService(hooks, credentials=CredentialStore.load(credentials), revision_ttl=ttl)
    result = service.render_app(app, info, base_dir=base_dir, hard_refresh=hard_refresh, tool=tool)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    return list(result.manifests), tuple(r.revision for r in result.sources)


def load_state(ctx: click.Context, app_file: str, app_select: str | None, kubeconfig: str | None,
               kube_context: str | None, hard_refresh: bool = False) -> Loaded:
    from ..cluster.cache import ClusterCache, settings_from_env
    from ..cluster.client import Client, ClusterConfig
    from ..controller.compare import compare_app_state
    from ..render import BuildInfo

    app = pick_app(app_file, app_select)
    hooks = load_hooks(ctx)
    client = Client(ClusterConfig(kubeconfig, kube_context))
    cache = ClusterCache(client, watch=False, **settings_from_env())
    cache.start()
    info = BuildInfo(app.name, app.dest_namespace, app.spec.project,
                     kube_version=cache.discovery.kube_version() or BuildInfo.kube_version,
                     api_versions=tuple(cache.discovery.api_versions()) or BuildInfo.api_versions)
    manifests, revisions = render_with_revisions(hooks, app, Path(app_file).resolve().parent, info,
                                                 hard_refresh=hard_refresh)
    from ..diff.settings import system_rules

    state = compare_app_state(app, manifests, cache, hooks, scopes=cache.discovery, system_rules=system_rules())
    return Loaded(app, state, cache, client, hooks, revisions)
