"""Health codes, their order, and typed field access shared by the built-in checks.

Built-in checks read live objects as plain dicts. Argo CD first converts an
object to its Go type and reports a conversion failure as ``Unknown``; the
accessors here do the same for the fields a check reads, so a malformed
object gives a clear ``Unknown`` message instead of a Python traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api import HealthStatus

HEALTHY = "Healthy"
SUSPENDED = "Suspended"
PROGRESSING = "Progressing"
MISSING = "Missing"
DEGRADED = "Degraded"
UNKNOWN = "Unknown"

#: Argo CD's ``healthOrder``: most to least healthy. App health is the worst.
HEALTH_ORDER: tuple[str, ...] = (HEALTHY, SUSPENDED, PROGRESSING, MISSING, DEGRADED, UNKNOWN)

HOOK_ANNOTATION = "argocd.argoproj.io/hook"
HELM_HOOK_ANNOTATION = "helm.sh/hook"
HOOK_FINALIZER = "argocd.argoproj.io/hook-finalizer"
IGNORE_HEALTHCHECK_ANNOTATION = "argocd.argoproj.io/ignore-healthcheck"
IGNORE_RESTART_POLICY_ANNOTATION = "argocd.argoproj.io/ignore-restart-policy"


def rank(code: str) -> int:
    """Position in ``HEALTH_ORDER``; an unknown or empty code ranks as Healthy (as Argo CD's ``IsWorse``)."""
    try:
        return HEALTH_ORDER.index(code)
    except ValueError:
        return 0


def is_worse(current: str, new: str) -> bool:
    """Argo CD's ``IsWorse``: is ``new`` less healthy than ``current``?"""
    return rank(new) > rank(current)


class ConvertError(ValueError):
    """A field does not have the type Kubernetes gives it (the object cannot be 'converted')."""


def gvk(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(group, version, kind)`` of an object; core group is ``""``."""
    api_version = str(obj.get("apiVersion") or "")
    group, _, version = api_version.rpartition("/")
    return group, version, str(obj.get("kind") or "")


def gvk_str(obj: Mapping[str, Any]) -> str:
    """Go's ``GroupVersionKind.String()``: ``apps/v1beta1, Kind=Deployment``."""
    group, version, kind = gvk(obj)
    return f"{group}/{version}, Kind={kind}" if group else f"/{version}, Kind={kind}"


def get(obj: Mapping[str, Any], *path: str) -> Any:
    """The value at ``path`` or None when any step is missing or not a mapping."""
    cur: Any = obj
    for step in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(step)
    return cur


def get_int(obj: Mapping[str, Any], *path: str, default: int | None = 0) -> int | None:
    """An integer field (absent → ``default``); a non-integer is a ConvertError."""
    value = get(obj, *path)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ConvertError(f"{'.'.join(path)}: expected an integer, got {value!r}")
    return int(value)


def get_str(obj: Mapping[str, Any], *path: str) -> str:
    """A string field (absent → ``""``); another type is a ConvertError."""
    value = get(obj, *path)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConvertError(f"{'.'.join(path)}: expected a string, got {value!r}")
    return value


def get_bool(obj: Mapping[str, Any], *path: str) -> bool:
    value = get(obj, *path)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConvertError(f"{'.'.join(path)}: expected a boolean, got {value!r}")
    return value


def get_list(obj: Mapping[str, Any], *path: str) -> list[Any]:
    value = get(obj, *path)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConvertError(f"{'.'.join(path)}: expected a list, got {type(value).__name__}")
    return value


def conditions(obj: Mapping[str, Any], *path: str) -> list[Mapping[str, Any]]:
    """``status.conditions`` (or another path) as a list of mappings."""
    items = get_list(obj, *(path or ("status", "conditions")))
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ConvertError(f"{'.'.join(path or ('status', 'conditions'))}[{i}]: expected a mapping")
        out.append(item)
    return out


def condition(obj: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    """The first ``status.conditions`` entry of type ``ctype``."""
    for cond in conditions(obj):
        if cond.get("type") == ctype:
            return cond
    return None


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = get(obj, "metadata", "annotations")
    return value if isinstance(value, Mapping) else {}


def is_hook(obj: Mapping[str, Any]) -> bool:
    """gitops-engine's ``hook.IsHook``: an Argo CD hook (not only ``Skip``) or a Helm hook (not ``crd-install``)."""
    ann = annotations_of(obj)
    argo = ann.get(HOOK_ANNOTATION)
    if isinstance(argo, str):
        types = {t.strip() for t in argo.split(",") if t.strip()}
        return types != {"Skip"}
    helm = ann.get(HELM_HOOK_ANNOTATION)
    if isinstance(helm, str):
        return helm.strip() != "crd-install"
    return False


def is_skip(obj: Mapping[str, Any]) -> bool:
    """``argocd.argoproj.io/hook: Skip``: never applied, no health."""
    argo = annotations_of(obj).get(HOOK_ANNOTATION)
    return isinstance(argo, str) and "Skip" in {t.strip() for t in argo.split(",")}


def status(code: str, message: str = "") -> HealthStatus:
    return HealthStatus(code, message)
