"""The built-in health checks, registered as a plugin (``trylast``).

Registered through ``syncwright.plugins.DEFAULT_PLUGINS`` exactly like a
third-party plugin, so a user's Lua customization (``tryfirst``) or another
plugin overrides any kind here. The table maps ``(group, kind)`` to the
versions gitops-engine understands and the check; another version of a known
kind is ``Unknown`` "unsupported <Kind> GVK", as in Argo CD.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..api import HealthContext, HealthStatus, hookimpl
from . import builtin_apps, builtin_core, builtin_other
from .status import UNKNOWN, ConvertError, gvk, gvk_str

Check = Callable[[Mapping[str, Any]], HealthStatus]

#: (group, kind) → (versions accepted, empty = any; check)
CHECKS: dict[tuple[str, str], tuple[tuple[str, ...], Check]] = {
    ("apps", "Deployment"): (("v1",), builtin_apps.deployment),
    ("apps", "StatefulSet"): (("v1",), builtin_apps.statefulset),
    ("apps", "DaemonSet"): (("v1",), builtin_apps.daemonset),
    ("apps", "ReplicaSet"): (("v1",), builtin_apps.replicaset),
    ("", "Pod"): (("v1",), builtin_core.pod),
    ("", "Service"): (("v1",), builtin_core.service),
    ("", "PersistentVolumeClaim"): (("v1",), builtin_core.pvc),
    ("batch", "Job"): (("v1",), builtin_other.job),
    ("extensions", "Ingress"): ((), builtin_other.ingress),
    ("networking.k8s.io", "Ingress"): ((), builtin_other.ingress),
    ("apiregistration.k8s.io", "APIService"): (("v1", "v1beta1"), builtin_other.apiservice),
    ("autoscaling", "HorizontalPodAutoscaler"): (("v1", "v2beta1", "v2beta2", "v2"), builtin_other.hpa),
    ("argoproj.io", "Workflow"): ((), builtin_other.workflow),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (("v1",), builtin_other.crd),
}

#: Kubernetes' own API groups (besides ``*.k8s.io``): their objects are not custom resources.
KUBERNETES_GROUPS = frozenset({"", "apps", "batch", "autoscaling", "policy", "extensions"})


def is_custom_resource_group(group: str) -> bool:
    return group not in KUBERNETES_GROUPS and not group.endswith(".k8s.io") and group != "k8s.io"


def check(obj: Mapping[str, Any]) -> HealthStatus | None:
    """The built-in health of ``obj``, or None when no built-in check covers its kind."""
    group, version, kind = gvk(obj)
    entry = CHECKS.get((group, kind))
    try:
        if entry is None:
            return builtin_other.ready_condition(obj) if is_custom_resource_group(group) else None
        versions, fn = entry
        if versions and version not in versions:
            return HealthStatus(UNKNOWN, f"unsupported {kind} GVK: {gvk_str(obj)}")
        return fn(obj)
    except ConvertError as e:
        return HealthStatus(UNKNOWN, f"failed to convert unstructured {kind} to typed: {e}")


@hookimpl(trylast=True)
def syncwright_health(obj: dict[str, Any], ctx: HealthContext) -> HealthStatus | None:
    """Built-in kind checks: Argo CD's statuses and messages."""
    return check(obj)
