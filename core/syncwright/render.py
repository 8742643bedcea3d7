"""Rendering one source or one Application from a local directory tree.

The orchestration between the spec and the plugins: find the app path inside
the repo root (never outside it), check the tree for escaping symlinks, pick
the tool (explicit, else discovery), render through the plugin, and check the
result. A failure is a RenderError naming the app, the source and the cause;
there is never a partial result. Remote repositories (``repo/``) hand this
module a private checkout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .api import DEFAULT_API_VERSIONS, DEFAULT_KUBE_VERSION, RenderContext, Rendered
from .errors import RenderError, SyncwrightError
from .manifests import check_unique
from .model import Application, Source
from .paths import check_symlinks, resolve_in_root
from .plugins import Hooks

#: Tool names of Config Management Plugins: ``cmp:<metadata.name>[-<spec.version>]``.
CMP_PREFIX = "cmp:"

#: The tools a ``directory:`` block allows (Argo CD's Directory type covers jsonnet).
DIRECTORY_TOOLS = ("jsonnet", "directory")


@dataclass(frozen=True)
class BuildInfo:
    """Per-render facts that do not come from the source spec."""

    app_name: str
    app_namespace: str = ""
    project: str = "default"
    revision: str = ""
    kube_version: str = DEFAULT_KUBE_VERSION
    api_versions: tuple[str, ...] = DEFAULT_API_VERSIONS
    timeout: float | None = None


def choose_tool(hooks: Hooks, ctx: RenderContext, tool: str | None) -> str:
    """The explicit tool, else the winner of discovery."""
    explicit = tool or ctx.source.explicit_tool
    if explicit == "plugin":
        # Argo CD's ``plugin:`` block: a named CMP, else discovery among CMPs only.
        assert ctx.source.plugin is not None
        if ctx.source.plugin.name:
            return f"{CMP_PREFIX}{ctx.source.plugin.name}"
        found = hooks.discover(ctx, allowed=lambda t: t.startswith(CMP_PREFIX))
        if found is None:
            raise RenderError("spec has a plugin block without a name and no Config Management Plugin matches the source")
        return found.tool
    if explicit and explicit != "directory":
        known = {t.name for t in hooks.source_types(versions=False)}
        if explicit not in known:
            names = ", ".join(sorted(known)) or "none (no source plugins installed)"
            raise RenderError(f"unknown tool {explicit!r} (known tools: {names})")
        return explicit
    allowed = (lambda t: t in DIRECTORY_TOOLS) if explicit == "directory" else None
    found = hooks.discover(ctx, allowed=allowed)
    if found is None:
        names = ", ".join(sorted(t.name for t in hooks.source_types(versions=False)))
        if not names:
            raise RenderError("no source plugins are installed, so no tool can render this source "
                              "(pip install syncwright-directory, syncwright-helm, ...)")
        raise RenderError(f"no installed plugin recognises this source (known tools: {names})")
    return found.tool


def render_source(
    hooks: Hooks,
    source: Source,
    repo_root: Path,
    info: BuildInfo,
    *,
    tool: str | None = None,
    private: bool = False,
    secrets: Sequence[str] = (),
    check_whole_root: bool = True,
    refs: Mapping[str, Path] | None = None,
) -> Rendered:
    """Render ``source`` whose repository is checked out (or lives) at ``repo_root``.

    The tree is checked for out-of-bounds symlinks before any tool runs: the
    whole ``repo_root`` (as Argo CD does for a checkout), or only the app
    directory when ``check_whole_root`` is false — for ``render PATH`` in a
    developer's work tree, whose root holds untracked venvs and caches.
    ``refs`` maps multi-source ``ref`` names to those sources' repo roots
    (for ``$name/path`` value files).
    """
    label = f"app {info.app_name!r}, source {source.repo_url or repo_root}" + (f" path {source.path!r}" if source.path else "")
    try:
        root = repo_root.resolve()
        if not root.is_dir():
            raise RenderError(f"repository {source.repo_url or repo_root} is not a directory")
        app_dir = resolve_in_root(root, source.path or ".", base=root, what="app path", allow_root=True)
        if not app_dir.is_dir():
            raise RenderError(f"app path {source.path!r} does not exist in the repository")
        check_symlinks(root if check_whole_root else app_dir, root=root)
        ctx = RenderContext(
            app_name=info.app_name,
            app_namespace=info.app_namespace,
            project=info.project,
            source=source,
            source_dir=app_dir,
            repo_root=root,
            revision=info.revision,
            kube_version=info.kube_version,
            api_versions=info.api_versions,
            private=private,
            secrets=tuple(secrets),
            refs=dict(refs or {}),
        )
        if info.timeout:
            ctx = replace(ctx, timeout=info.timeout)
        chosen = choose_tool(hooks, ctx, tool)
        ctx = _with_tool(ctx, chosen)
        try:
            result = hooks.render(ctx)
        finally:
            ctx.cleanup()
        check_unique(result.manifests, f"{chosen} output", default_namespace="")
        return result
    except SyncwrightError as e:
        raise e.with_context(label) from e.__cause__
    except OSError as e:
        raise RenderError(f"{e.strerror or e}", context=label) from e


def _with_tool(ctx: RenderContext, tool: str) -> RenderContext:
    return replace(ctx, tool=tool)


def local_repo_path(repo_url: str, base_dir: Path) -> Path | None:
    """A ``repoURL`` that names a local directory (path or ``file://``), else None."""
    if repo_url.startswith("file://"):
        return Path(repo_url[len("file://"):])
    if "://" in repo_url or repo_url.startswith("git@"):
        return None
    path = Path(repo_url).expanduser()
    return path if path.is_absolute() else (base_dir / path)


def render_application(
    hooks: Hooks, app: Application, base_dir: Path, *, info: BuildInfo | None = None, tool: str | None = None
) -> list[dict[str, Any]]:
    """Render every source of a local-repo Application and concatenate the results."""
    info = info or BuildInfo(app.name, app.dest_namespace, app.spec.project)
    out: list[dict[str, Any]] = []
    refs = {s.ref: root for s in app.spec.effective_sources()
            if s.ref and (root := local_repo_path(s.repo_url, base_dir)) is not None}
    for source in app.spec.effective_sources():
        if source.ref and not source.path and not source.chart:
            continue  # a pure $ref source provides files to the others only
        root = local_repo_path(source.repo_url, base_dir)
        if root is None:
            raise RenderError(
                f"repoURL {source.repo_url!r} is remote; render it through syncwright.repo.RepoService",
                context=f"app {app.name!r}",
            )
        out.extend(render_source(hooks, source, root, info, refs=refs, tool=tool).manifests)
    check_unique(out, f"app {app.name!r}")
    return out
