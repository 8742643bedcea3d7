"""Sync options: app-level (``syncPolicy.syncOptions``, ``--sync-option``) and per resource.

A resource's ``argocd.argoproj.io/sync-options`` annotation overrides the
app-level value of the same option for that resource. Unknown options are
rejected up front with the list of known ones, so a typo never silently
changes what a sync does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..annotations import sync_options as resource_options
from ..errors import SpecError

#: option → allowed values (lower-cased comparison)
KNOWN: dict[str, tuple[str, ...]] = {
    "Prune": ("true", "false", "confirm"),
    "Delete": ("true", "false", "confirm"),
    "Validate": ("true", "false"),
    "SkipDryRunOnMissingResource": ("true", "false"),
    "CreateNamespace": ("true", "false"),
    "PruneLast": ("true", "false"),
    "ApplyOutOfSyncOnly": ("true", "false"),
    "ServerSideApply": ("true", "false"),
    "Replace": ("true", "false"),
    "Force": ("true", "false"),
    "PrunePropagationPolicy": ("foreground", "background", "orphan"),
    "RespectIgnoreDifferences": ("true", "false"),
    "FailOnSharedResource": ("true", "false"),
    "ClientSideApplyMigration": ("true", "false"),
}


def parse(options: Iterable[str], where: str = "syncOptions") -> dict[str, str]:
    """``["Prune=false", ...]`` → ``{"Prune": "false"}``, validated; later entries win."""
    out: dict[str, str] = {}
    for raw in options:
        key, sep, value = str(raw).partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise SpecError(f"sync option {raw!r} is not KEY=VALUE", context=where)
        allowed = KNOWN.get(key)
        if allowed is None:
            raise SpecError(f"unknown sync option {key!r} (known: {', '.join(KNOWN)})", context=where)
        if value.lower() not in allowed:
            raise SpecError(f"sync option {key}={value!r} must be one of {', '.join(allowed)}", context=where)
        out[key] = value.lower() if key != "PrunePropagationPolicy" else value.lower()
    return out


def effective(app_options: dict[str, str], obj: dict[str, Any] | None, live: dict[str, Any] | None = None) -> dict[str, str]:
    """The options for one resource: app-level, overridden by the live then the desired annotation."""
    out = dict(app_options)
    for source in (live, obj):
        if source is None:
            continue
        for key, value in resource_options(source).items():
            if key in KNOWN and value.lower() in KNOWN[key]:
                out[key] = value.lower()
    return out


def is_true(options: dict[str, str], key: str) -> bool:
    return options.get(key, "").lower() == "true"
