"""Comparing a whole app: desired objects against the live ones tracked to it.

Argo CD's ``Reconcile`` + ``CompareAppState`` rules: hooks are not compared;
each desired object is matched with its live counterpart by identity; live
objects tracked to the app (and not owned by another object) with no desired
counterpart are prune candidates and make the app OutOfSync unless they carry
the compare option ``IgnoreExtraneous``; a live object tracked by another app
is reported as shared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..annotations import hook_types, sync_wave
from ..manifests import ResourceKey, key_of
from ..tracking import Tracking
from .engine import ResourceDiff, compare_options, diff_resource
from .ignore import IgnoreRule


@dataclass(frozen=True)
class ResourceComparison:
    key: ResourceKey
    status: str  # Synced | OutOfSync
    diff: ResourceDiff
    live: dict[str, Any] | None
    target: dict[str, Any] | None
    hook: str = ""
    wave: int = 0
    requires_pruning: bool = False
    tracked_by: str | None = None
    message: str = ""


@dataclass(frozen=True)
class AppComparison:
    status: str  # Synced | OutOfSync
    resources: tuple[ResourceComparison, ...]
    hooks: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...] = ()

    @property
    def out_of_sync(self) -> list[ResourceComparison]:
        return [r for r in self.resources if r.status == "OutOfSync"]


def compare_app(
    app: str,
    targets: Iterable[dict[str, Any]],
    find_live: Callable[[ResourceKey], dict[str, Any] | None],
    tracked_live: Iterable[dict[str, Any]],
    *,
    tracking: Tracking | None = None,
    rules: tuple[IgnoreRule, ...] = (),
    manager: str = "syncwright",
) -> AppComparison:
    """Compare an app's desired objects (namespaces already defaulted) with live state."""
    tracking = tracking or Tracking()
    results: list[ResourceComparison] = []
    hooks: list[dict[str, Any]] = []
    warnings: list[str] = []
    seen: set[ResourceKey] = set()
    for target in targets:
        types = hook_types(target)
        if types:
            if "Skip" not in types and "Ignore" not in types:
                hooks.append(target)
            continue
        key = key_of(target)
        seen.add(key)
        live = find_live(key)
        owner = tracking.app_of(live) if live is not None else None
        message = ""
        if live is not None and owner is not None and owner != app:
            message = f"resource {key} is also tracked by application {owner!r}"
            warnings.append(message)
        label = tracking.label_key if "label" in tracking.method else None
        d = diff_resource(target, live, manager=manager, rules=rules, tracking_label=label)
        results.append(ResourceComparison(key, d.status, d, live, target, "", sync_wave(target), False, owner, message))
    for live in tracked_live:
        key = key_of(live)
        if key in seen or hook_types(live) or (live.get("metadata") or {}).get("ownerReferences"):
            continue
        if tracking.app_of(live) != app:
            continue
        extraneous_ok = "IgnoreExtraneous" in compare_options(live)
        d = diff_resource(None, live, manager=manager, rules=rules)
        status = "Synced" if extraneous_ok else "OutOfSync"
        results.append(ResourceComparison(key, status, d, live, None, "", sync_wave(live), True, app,
                                          "ignored (IgnoreExtraneous)" if extraneous_ok else "requires pruning"))
    results.sort(key=lambda r: (r.key.group, r.key.kind, r.key.namespace, r.key.name))
    status = "OutOfSync" if any(r.status == "OutOfSync" for r in results) else "Synced"
    return AppComparison(status, tuple(results), tuple(hooks), tuple(warnings))
