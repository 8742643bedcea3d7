"""Health: built-in checks, Argo CD-compatible Lua customizations, app aggregation.

Public surface for the layers above (sync, controller, CLI):

* ``assess(obj, hooks, ctx)`` — one live object's health in Argo CD's order
  (pending deletion, then the ``syncwright_health`` plugins), or None.
* ``aggregate(resources)`` — an application's health from ``ResourceHealth`` items.
* ``LuaHealthPlugin`` / ``load_customizations`` — user Lua scripts as a plugin
  object for ``Hooks.load(extra_plugins=[...])``.

The built-in checks (``syncwright.health.builtin``) and the environment-
configured customizations (``syncwright.health.user``) are registered through
``DEFAULT_PLUGINS`` like any plugin. Importing this package does not import lupa.
"""

from __future__ import annotations

from .aggregate import PENDING_DELETION, ResourceHealth, aggregate, assess, describe
from .customizations import Customizations, LuaHealthPlugin
from .customizations import load as load_customizations
from .status import HEALTH_ORDER, is_worse

__all__ = [
    "assess", "aggregate", "ResourceHealth", "describe", "PENDING_DELETION",
    "LuaHealthPlugin", "Customizations", "load_customizations", "HEALTH_ORDER", "is_worse",
]
