"""The plugin manager: built-in plugins and entry points, behind one facade.

``get_plugin_manager`` builds a fresh manager (nothing happens at import
time); ``Hooks`` is the only code that calls ``pm.hook.*``. Users control
loading with ``SYNCWRIGHT_DISABLE_PLUGIN_AUTOLOAD=1``,
``SYNCWRIGHT_LOAD_PLUGINS=a,b`` and ``--disable-plugin NAME``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pluggy

if TYPE_CHECKING:
    from importlib import metadata

from . import hookspecs
from .entrypoints import EntryPoint
from .entrypoints import entry_points as installed_entry_points
from .api import (
    PROJECT,
    Discovered,
    HealthContext,
    HealthStatus,
    RenderContext,
    Rendered,
    SourceType,
    SourceTypes,
    SyncEvent,
)
from .errors import OperationVetoed, PluginError, RenderError

#: Built-in plugins, registered exactly like third-party ones (module paths).
DEFAULT_PLUGINS: tuple[str, ...] = ("syncwright.health.builtin", "syncwright.health.user")

ENTRY_POINT_GROUP = PROJECT


@dataclass(frozen=True)
class PluginInfo:
    """What ``syncwright plugins`` shows about one registered plugin."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    builtin: bool


def _as_entry_point(ep: metadata.EntryPoint | EntryPoint) -> EntryPoint:
    if isinstance(ep, EntryPoint):
        return ep
    return EntryPoint(ep.name, ep.value, ep.group, ep.dist.name if ep.dist else None,
                      ep.dist.version if ep.dist else None)


def _env_list(name: str) -> list[str]:
    return [p.strip() for p in os.environ.get(name, "").split(",") if p.strip()]


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus the distribution each entry-point plugin came from."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.distributions: dict[str, tuple[str, str | None]] = {}


def get_plugin_manager(
    *,
    disabled: Iterable[str] = (),
    entry_points: Sequence[metadata.EntryPoint | EntryPoint] | None = None,
    extra_plugins: Iterable[Any] = (),
) -> PluginManager:
    """A ready manager: specs added, entry points loaded, built-ins registered, checked.

    ``entry_points`` replaces the installed ones (tests pass fakes);
    ``extra_plugins`` are plugin objects registered in-process.
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    for name in [*disabled, *_env_list("SYNCWRIGHT_DISABLE_PLUGINS")]:
        pm.set_blocked(name)
    only = set(_env_list("SYNCWRIGHT_LOAD_PLUGINS"))
    autoload = os.environ.get("SYNCWRIGHT_DISABLE_PLUGIN_AUTOLOAD", "") not in ("1", "true", "yes")
    if entry_points is None:
        entry_points = installed_entry_points(ENTRY_POINT_GROUP) if (autoload or only) else []
    for ep in map(_as_entry_point, entry_points):
        if only and ep.name not in only:
            continue
        if not autoload and not only:
            continue
        if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
            continue
        dist = ep.dist
        try:
            plugin = ep.load()
        except Exception as e:  # noqa: BLE001 - any import error is reported by name
            where = f" from distribution {dist!r}" if dist else ""
            raise PluginError(f'Error importing plugin "{ep.name}"{where}: {type(e).__name__}: {e}') from e
        pm.register(plugin, name=ep.name)
        if ep.dist is not None:
            pm.distributions[ep.name] = (ep.dist, ep.version)
    for modname in DEFAULT_PLUGINS:
        if not pm.is_blocked(modname):
            pm.register(importlib.import_module(modname), name=modname)
    for plugin in extra_plugins:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as e:
        name = (pm.get_name(e.plugin) if e.plugin is not None else None) or "?"
        raise PluginError(f"plugin {name!r} implements an unknown hook: {e}") from e
    return pm


class Hooks:
    """The typed facade over ``pm.hook``: one method per hook."""

    def __init__(self, pm: PluginManager) -> None:
        self.pm = pm

    @classmethod
    def load(cls, **kwargs: Any) -> Hooks:
        return cls(get_plugin_manager(**kwargs))

    # -- introspection -------------------------------------------------------------
    def plugins(self) -> list[PluginInfo]:
        dists = self.pm.distributions
        out = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or ()))
            dist, version = dists.get(name, (None, None))
            out.append(PluginInfo(name, dist, version, hooks, name in DEFAULT_PLUGINS))
        return sorted(out, key=lambda p: p.name)

    def source_types_by_plugin(self, versions: bool = True) -> dict[str, list[SourceType]]:
        """Each plugin's source types; ``versions=False`` skips running tools for their versions."""
        out: dict[str, list[SourceType]] = {}
        for impl in self.pm.hook.syncwright_source_types.get_hookimpls():
            kwargs = {"versions": versions} if "versions" in impl.argnames else {}
            result = cast("SourceTypes | None", impl.function(**kwargs))
            if result is not None:
                out[impl.plugin_name] = list(result.items)
        return out

    def source_types(self, versions: bool = True) -> list[SourceType]:
        return [t for types in self.source_types_by_plugin(versions).values() for t in types]

    # -- hooks -----------------------------------------------------------------------
    def discover(self, ctx: RenderContext, allowed: Callable[[str], bool] | None = None) -> Discovered | None:
        """The winning claim (lowest priority) among the plugins that claim ``ctx``."""
        claims = [
            c for c in self.pm.hook.syncwright_discover(ctx=ctx)
            if c is not None and (allowed is None or allowed(c.tool))
        ]
        return min(claims, key=lambda c: (c.priority, c.tool)) if claims else None

    def render(self, ctx: RenderContext) -> Rendered:
        result: Rendered | None = self.pm.hook.syncwright_render(ctx=ctx)
        if result is None:
            known = ", ".join(sorted(t.name for t in self.source_types(versions=False))) or "none (no source plugins installed)"
            raise RenderError(f"no plugin renders tool {ctx.tool!r} (known tools: {known})")
        return result

    def health(self, obj: dict[str, Any], ctx: HealthContext) -> HealthStatus | None:
        result: HealthStatus | None = self.pm.hook.syncwright_health(obj=obj, ctx=ctx)
        return result

    def sync_event(self, event: SyncEvent) -> None:
        """Deliver a sync event; at ``start`` a veto propagates, elsewhere errors are swallowed."""
        try:
            self.pm.hook.syncwright_sync_hook(event=event)
        except OperationVetoed:
            if event.kind == "start":
                raise
        except Exception:  # noqa: BLE001 - observers must not break a sync in flight
            if event.kind == "start":
                raise
