"""The hook implementations: CMPs as syncwright source types, local or behind a sidecar socket.

Tool names are ``cmp:<metadata.name>[-<spec.version>]``. Local plugins (the
plugins dir) come first; a sidecar serving a name a local plugin already
has is shadowed. A plugin with a discover rule that an Application names
explicitly must still match the source (Argo CD: "only that particular
plugin will be used iff its discovery pattern/command matches").
"""

from __future__ import annotations

import shutil
from pathlib import Path

from syncwright.api import (
    DISCOVERY_PRIORITY,
    Discovered,
    RenderContext,
    Rendered,
    RenderError,
    SourceType,
    SourceTypes,
    ToolBinary,
    ToolParameter,
    hookimpl,
)

from . import runner, sidecar
from .config import CMP_PREFIX, PluginConfig, default_cmp_dir, load_dir

PRIORITY = DISCOVERY_PRIORITY["cmp"]


def local_configs() -> list[PluginConfig]:
    return load_dir(default_cmp_dir())


def _params(static: list[dict[str, object]] | tuple[dict[str, object], ...]) -> tuple[ToolParameter, ...]:
    return tuple(
        ToolParameter(str(p["name"]), str(p.get("title") or p.get("tooltip") or ""), str(p.get("collectionType") or "string"))
        for p in static
    )


@hookimpl
def syncwright_source_types() -> SourceTypes | None:
    items: list[SourceType] = []
    local = local_configs()
    for cfg in local:
        cmd = cfg.generate.command[0]
        items.append(SourceType(
            name=cfg.tool,
            description=f"Config Management Plugin (local, {cfg.path})",
            tool=ToolBinary(cmd, shutil.which(cmd), "PATH", f"install {cmd!r}: plugin {cfg.path} runs it"),
            tool_version=None,  # the plugin's own spec.version is part of its name
            discover=cfg.discover.describe(),
            parameters=_params(cfg.static_parameters),
        ))
    names = {c.tool for c in local}
    for item in sidecar.sidecars():
        if isinstance(item, sidecar.Sidecar):
            if item.tool in names:
                continue
            items.append(SourceType(
                name=item.tool,
                description=f"Config Management Plugin (sidecar, {item.socket})",
                tool=ToolBinary("cmp-server", str(item.socket), "SYNCWRIGHT_CMP_SOCKETS", "start `syncwright cmp-server`"),
                tool_version=str(item.info.get("server") or "") or None,
                discover=item.discover.describe(),
                parameters=_params(list(item.info.get("parameters") or [])),
            ))
        else:
            path, err = item
            items.append(SourceType(
                name=CMP_PREFIX + path.name[: -len(".sock")],
                description=f"Config Management Plugin sidecar, unusable: {err.message}",
                tool=ToolBinary("cmp-server", None, "SYNCWRIGHT_CMP_SOCKETS", f"socket {path}: {err.message}"),
            ))
    return SourceTypes(tuple(items)) if items else None


def _remember(ctx: RenderContext, tool: str) -> None:
    ctx.shared["cmp-discovered"] = tool  # render then skips re-checking the rule


@hookimpl
def syncwright_discover(ctx: RenderContext) -> Discovered | None:
    local = local_configs()
    for cfg in local:
        if not cfg.discover.kind:
            continue
        where = ctx.writable_dir() if cfg.discover.kind == "command" else ctx.source_dir
        reason = runner.discover_match(ctx, cfg, where)
        if reason:
            _remember(ctx, cfg.tool)
            return Discovered(cfg.tool, PRIORITY, f"{reason} (plugin {cfg.path})")
    names = {c.tool for c in local}
    for item in sidecar.sidecars():
        if not isinstance(item, sidecar.Sidecar) or item.tool in names:
            continue  # an unusable socket cannot claim anything; `syncwright plugins` shows why
        try:
            reason = sidecar.discover(item, ctx)
        except RenderError:
            continue
        if reason:
            _remember(ctx, item.tool)
            return Discovered(item.tool, PRIORITY, reason)
    return None


def _known() -> str:
    tools = [c.tool for c in local_configs()]
    tools += [i.tool for i in sidecar.sidecars() if isinstance(i, sidecar.Sidecar)]
    where = f"plugins dir {default_cmp_dir()}"
    sockets = sidecar.socket_dir()
    where += f", socket dir {sockets}" if sockets else ", no socket dir (--cmp-socket-dir)"
    return f"{where}; known: {', '.join(sorted(set(tools))) or 'none'}"


def _writable_root(ctx: RenderContext, work: Path) -> Path:
    rel = ctx.source_dir.resolve().relative_to(ctx.repo_root.resolve())
    root = work
    for _ in rel.parts:
        root = root.parent
    return root


@hookimpl
def syncwright_render(ctx: RenderContext) -> Rendered | None:
    if not ctx.tool or not ctx.tool.startswith(CMP_PREFIX):
        return None
    name = ctx.tool[len(CMP_PREFIX):]
    discovered = ctx.shared.get("cmp-discovered") == ctx.tool
    cfg = next((c for c in local_configs() if c.plugin_name == name), None)
    if cfg is not None:
        if cfg.discover.kind and not discovered:
            where = ctx.writable_dir() if cfg.discover.kind == "command" else ctx.source_dir
            if runner.discover_match(ctx, cfg, where) is None:
                raise RenderError(f"plugin {name!r} does not match this source: its discover rule wants "
                                  f"{cfg.discover.describe()} ({cfg.path})")
        work = ctx.writable_dir()
        if not cfg.preserve_file_mode:
            runner.reset_modes(_writable_root(ctx, work))
        manifests = runner.generate(ctx, cfg, work)
        return Rendered(tuple(manifests), tool=ctx.tool, tool_version=cfg.version or None)
    car = sidecar.find(name)
    if car is None:
        raise RenderError(f"no Config Management Plugin named {name!r} ({_known()})")
    try:
        if car.discover.kind and not discovered and sidecar.discover(car, ctx) is None:
            raise RenderError(f"plugin {name!r} (sidecar {car.socket}) does not match this source: its discover "
                              f"rule wants {car.discover.describe()}")
        manifests = sidecar.generate(car, ctx)
    finally:
        sidecar.release(ctx)
    return Rendered(tuple(manifests), tool=ctx.tool, tool_version=str(car.info.get("version") or "") or None)
