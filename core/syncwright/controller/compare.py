"""Re-export: app comparison moved down to ``syncwright.sync.compare`` (the sync planner needs it)."""

from __future__ import annotations

from ..sync.compare import AppState, LiveState, ResourceState, Scopes, compare_app_state, default_namespaces

__all__ = ["AppState", "LiveState", "ResourceState", "Scopes", "compare_app_state", "default_namespaces"]
