"""The default user-customization plugin, configured from the environment.

Registered through ``DEFAULT_PLUGINS`` so every syncwright process (CLI,
controller, server) honours ``SYNCWRIGHT_HEALTH_CUSTOMIZATIONS`` (a directory,
or several separated by ``os.pathsep``) and ``SYNCWRIGHT_HEALTH_SETTINGS`` (an
argocd-cm file). When neither is set it has no opinion and costs one dict
lookup. Explicit configuration (``syncwright health --customizations``, a
controller's settings) is a ``LuaHealthPlugin`` registered as an extra plugin:
it is consulted before this one, so the explicit setting wins.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ..api import HealthContext, HealthStatus, hookimpl
from ..errors import SyncwrightError
from .customizations import LuaHealthPlugin, load

ENV_DIR = "SYNCWRIGHT_HEALTH_CUSTOMIZATIONS"
ENV_SETTINGS = "SYNCWRIGHT_HEALTH_SETTINGS"

_lock = threading.Lock()
_cached: dict[tuple[str, str], LuaHealthPlugin | SyncwrightError] = {}


def from_environment() -> LuaHealthPlugin | None:
    """The plugin for the current environment (built once per setting), or None when unset.

    A bad setting (missing directory, invalid settings file) raises the same
    SyncwrightError on every call without re-reading the files; ``assess``
    turns it into ``Unknown`` with that message.
    """
    dirs = os.environ.get(ENV_DIR, "")
    settings = os.environ.get(ENV_SETTINGS, "")
    if not dirs and not settings:
        return None
    key = (dirs, settings)
    with _lock:
        cached = _cached.get(key)
        if cached is None:
            try:
                cached = LuaHealthPlugin(load(
                    [d for d in dirs.split(os.pathsep) if d], [s for s in settings.split(os.pathsep) if s]
                ))
            except SyncwrightError as e:
                cached = e
            _cached[key] = cached
    if isinstance(cached, SyncwrightError):
        raise cached
    return cached


@hookimpl(tryfirst=True)
def syncwright_health(obj: dict[str, Any], ctx: HealthContext) -> HealthStatus | None:
    """Lua customizations named by SYNCWRIGHT_HEALTH_CUSTOMIZATIONS / SYNCWRIGHT_HEALTH_SETTINGS."""
    plugin = from_environment()
    return None if plugin is None else plugin.evaluate(obj)
