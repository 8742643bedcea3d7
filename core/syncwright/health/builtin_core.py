"""Built-in health of core-group kinds: Pod, Service, PersistentVolumeClaim.

Argo CD's rules and messages. A Pod's ``restartPolicy`` is read with its API
default (``Always``), like the other defaulted fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api import HealthStatus
from .status import (
    DEGRADED,
    HEALTHY,
    IGNORE_RESTART_POLICY_ANNOTATION,
    PROGRESSING,
    UNKNOWN,
    ConvertError,
    annotations_of,
    conditions,
    get,
    get_int,
    get_list,
    get_str,
    is_hook,
)


def _container_statuses(obj: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
    out = []
    for i, item in enumerate(get_list(obj, "status", field)):
        if not isinstance(item, Mapping):
            raise ConvertError(f"status.{field}[{i}]: expected a mapping")
        out.append(item)
    return out


def _waiting_failed(reason: str) -> bool:
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff")


def _ready(obj: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions(obj))


def _fail_message(ctr: Mapping[str, Any]) -> str:
    term = get(ctr, "state", "terminated")
    if not isinstance(term, Mapping):
        return ""
    if term.get("message"):
        return str(term["message"])
    if term.get("reason") == "OOMKilled":
        return "OOMKilled"
    code = get_int(term, "exitCode") or 0
    if code != 0:
        return f'container "{ctr.get("name", "")}" failed with exit code {code}'
    return ""


def pod(obj: Mapping[str, Any]) -> HealthStatus:
    policy = get_str(obj, "spec", "restartPolicy") or "Always"
    # A pod that runs to completion is usually a hook; marking its back-off Degraded
    # would fail the hook early. The annotation opts a non-hook pod into the strict rules.
    always = policy == "Always" or (
        annotations_of(obj).get(IGNORE_RESTART_POLICY_ANNOTATION) == "true" and not is_hook(obj)
    )
    statuses = _container_statuses(obj, "containerStatuses")
    message = get_str(obj, "status", "message")
    if always:
        msgs = []
        for ctr in statuses:
            waiting = get(ctr, "state", "waiting")
            if isinstance(waiting, Mapping) and _waiting_failed(str(waiting.get("reason") or "")):
                msgs.append(str(waiting.get("message") or ""))
        if msgs:
            return HealthStatus(DEGRADED, ", ".join(msgs))
    phase = get_str(obj, "status", "phase")
    if phase == "Pending":
        return HealthStatus(PROGRESSING, message)
    if phase == "Succeeded":
        return HealthStatus(HEALTHY, message)
    if phase == "Failed":
        if message:
            return HealthStatus(DEGRADED, message)
        for ctr in [*_container_statuses(obj, "initContainerStatuses"), *statuses]:
            msg = _fail_message(ctr)
            if msg:
                return HealthStatus(DEGRADED, msg)
        return HealthStatus(DEGRADED, "")
    if phase == "Running":
        if always:
            if _ready(obj):
                return HealthStatus(HEALTHY, message)
            if any(isinstance(get(c, "lastState", "terminated"), Mapping) for c in statuses):
                return HealthStatus(DEGRADED, message)
            return HealthStatus(PROGRESSING, message)
        if policy in ("OnFailure", "Never"):
            # Finite pods are typically hooks: running is progress, not health.
            return HealthStatus(PROGRESSING, message)
    return HealthStatus(UNKNOWN, message)


def service(obj: Mapping[str, Any]) -> HealthStatus:
    if get_str(obj, "spec", "type") == "LoadBalancer":
        if get_list(obj, "status", "loadBalancer", "ingress"):
            return HealthStatus(HEALTHY)
        return HealthStatus(PROGRESSING)
    return HealthStatus(HEALTHY)


def pvc(obj: Mapping[str, Any]) -> HealthStatus:
    phase = get_str(obj, "status", "phase")
    if phase == "Lost":
        return HealthStatus(DEGRADED)
    if phase == "Pending":
        return HealthStatus(PROGRESSING)
    if phase == "Bound":
        return HealthStatus(HEALTHY)
    return HealthStatus(UNKNOWN)
