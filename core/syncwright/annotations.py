"""Argo CD's resource annotations: hooks, waves, sync and compare options.

Shared by the diff layer (hooks are not compared) and the sync layer (hooks
and waves drive the plan). Semantics from gitops-engine's ``pkg/sync/hook``,
``pkg/sync/syncwaves`` and ``pkg/sync/resource``.
"""

from __future__ import annotations

from typing import Any

HOOK = "argocd.argoproj.io/hook"
HOOK_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
HELM_HOOK = "helm.sh/hook"
HELM_HOOK_WEIGHT = "helm.sh/hook-weight"
HELM_HOOK_DELETE_POLICY = "helm.sh/hook-delete-policy"

HOOK_TYPES = ("PreSync", "Sync", "PostSync", "SyncFail", "Skip")
HELM_HOOK_MAP = {"pre-install": "PreSync", "pre-upgrade": "PreSync", "post-install": "PostSync", "post-upgrade": "PostSync"}
HELM_DELETE_MAP = {"before-hook-creation": "BeforeHookCreation", "hook-succeeded": "HookSucceeded",
                   "hook-failed": "HookFailed"}


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _csv(value: str | None) -> list[str]:
    seen: list[str] = []
    for part in (value or "").split(","):
        part = part.strip()
        if part and part not in seen:
            seen.append(part)
    return seen


def hook_types(obj: dict[str, Any]) -> list[str]:
    """The hook phases an object runs in; [] for a normal resource.

    Argo CD's annotation wins over Helm's; Helm's ``crd-install`` is not a
    hook; a hook annotation with no valid type (e.g. Helm ``test``) yields
    ``["Ignore"]`` — dropped from the sync.
    """
    ann = _annotations(obj)
    if HOOK in ann:
        types = [t for t in _csv(ann[HOOK]) if t in HOOK_TYPES]
        return types or ["Ignore"]
    if HELM_HOOK in ann:
        helm = _csv(ann[HELM_HOOK])
        if helm == ["crd-install"]:
            return []
        types = []
        for h in helm:
            mapped = HELM_HOOK_MAP.get(h)
            if mapped and mapped not in types:
                types.append(mapped)
        return types or ["Ignore"]
    return []


def is_hook(obj: dict[str, Any]) -> bool:
    """A hook (incl. Skip/ignored ones): never compared, never pruned, never part of app health."""
    return bool(hook_types(obj))


def sync_wave(obj: dict[str, Any]) -> int:
    """``sync-wave`` (int), else ``helm.sh/hook-weight`` (any object), else 0."""
    ann = _annotations(obj)
    for key in (SYNC_WAVE, HELM_HOOK_WEIGHT):
        try:
            return int(str(ann[key]).strip())
        except (KeyError, ValueError):
            continue
    return 0


def delete_policies(obj: dict[str, Any]) -> list[str]:
    """Hook delete policies; BeforeHookCreation when none is given (Argo CD's default)."""
    ann = _annotations(obj)
    policies = _csv(ann.get(HOOK_DELETE_POLICY))
    if not policies:
        policies = [HELM_DELETE_MAP[p] for p in _csv(ann.get(HELM_HOOK_DELETE_POLICY)) if p in HELM_DELETE_MAP]
    return policies or ["BeforeHookCreation"]


def sync_options(obj: dict[str, Any]) -> dict[str, str]:
    """``argocd.argoproj.io/sync-options`` as a dict (``Prune=false`` → {"Prune": "false"})."""
    out: dict[str, str] = {}
    for opt in _csv(_annotations(obj).get(SYNC_OPTIONS)):
        k, _, v = opt.partition("=")
        out[k.strip()] = v.strip()
    return out
