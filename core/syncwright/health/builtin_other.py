"""Built-in health of batch, networking, autoscaling, aggregation and custom resources.

Job, Ingress, APIService, HorizontalPodAutoscaler and Argo Workflows follow
gitops-engine. CustomResourceDefinition objects follow gitops-engine's newer
check. Custom resources with a ``Ready`` condition are syncwright's addition
(the issue asks for it; Argo CD gives them no health without a Lua script):
see ``ready_condition``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..api import HealthStatus
from .status import (
    DEGRADED,
    HEALTHY,
    PROGRESSING,
    SUSPENDED,
    UNKNOWN,
    ConvertError,
    annotations_of,
    condition,
    conditions,
    get,
    get_int,
    get_list,
    get_str,
)


def job(obj: Mapping[str, Any]) -> HealthStatus:
    failed = complete = suspended = False
    fail_msg = message = ""
    for cond in conditions(obj):
        ctype = cond.get("type")
        if ctype == "Failed":
            failed = complete = True
            fail_msg = str(cond.get("message") or "")
        elif ctype == "Complete":
            complete = True
            message = str(cond.get("message") or "")
        elif ctype == "Suspended":
            complete = True
            message = str(cond.get("message") or "")
            suspended = suspended or cond.get("status") == "True"
    if not complete:
        return HealthStatus(PROGRESSING, message)
    if failed:
        return HealthStatus(DEGRADED, fail_msg)
    if suspended:
        # Argo CD aggregates a suspended Job as Healthy (see aggregate.py).
        return HealthStatus(SUSPENDED, fail_msg)
    return HealthStatus(HEALTHY, message)


def ingress(obj: Mapping[str, Any]) -> HealthStatus:
    value = get(obj, "status", "loadBalancer", "ingress")
    if isinstance(value, list) and value:
        return HealthStatus(HEALTHY)
    return HealthStatus(PROGRESSING)


def apiservice(obj: Mapping[str, Any]) -> HealthStatus:
    for cond in conditions(obj):
        if cond.get("type") == "Available":
            text = f"{cond.get('reason') or ''}: {cond.get('message') or ''}"
            return HealthStatus(HEALTHY if cond.get("status") == "True" else PROGRESSING, text)
    return HealthStatus(PROGRESSING, "Waiting to be processed")


_HPA_DEGRADED = {
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "FailedGetObjectMetric"),
    ("ScalingActive", "FailedGetPodsMetric"),
    ("ScalingActive", "FailedGetExternalMetric"),
    ("ScalingActive", "FailedComputeMetricsReplicas"),
    ("ScalingActive", "InvalidSelector"),
}
_HPA_WAITING = HealthStatus(PROGRESSING, "Waiting to Autoscale")
HPA_CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"


def _hpa_conditions(conds: list[Any]) -> HealthStatus:
    for cond in conds:
        if not isinstance(cond, Mapping):
            raise ConvertError("HPA condition is not a mapping")
        ctype, reason = cond.get("type"), cond.get("reason")
        if (ctype, reason) in _HPA_DEGRADED:
            return HealthStatus(DEGRADED, str(cond.get("message") or ""))
        if ctype in ("AbleToScale", "ScalingLimited") and cond.get("status") == "True":
            return HealthStatus(HEALTHY, str(cond.get("message") or ""))
    return _HPA_WAITING


def hpa(obj: Mapping[str, Any]) -> HealthStatus:
    if str(obj.get("apiVersion")) == "autoscaling/v1":
        raw = annotations_of(obj).get(HPA_CONDITIONS_ANNOTATION)
        if raw is None:
            return _HPA_WAITING
        try:
            conds = json.loads(str(raw))
        except ValueError as e:
            raise ConvertError(f"failed to convert conditions annotation to typed: {e}") from None
        if not isinstance(conds, list):
            raise ConvertError("failed to convert conditions annotation to typed: not a list")
        return _hpa_conditions(conds) if conds else _HPA_WAITING
    return _hpa_conditions(get_list(obj, "status", "conditions"))


def workflow(obj: Mapping[str, Any]) -> HealthStatus:
    phase = get_str(obj, "status", "phase")
    message = get_str(obj, "status", "message")
    if phase in ("", "Pending", "Running"):
        return HealthStatus(PROGRESSING, message)
    if phase == "Succeeded":
        return HealthStatus(HEALTHY, message)
    if phase in ("Failed", "Error"):
        return HealthStatus(DEGRADED, message)
    return HealthStatus(UNKNOWN, message)


def crd(obj: Mapping[str, Any]) -> HealthStatus:
    conds = conditions(obj)
    if not conds:
        return HealthStatus(PROGRESSING, "Status conditions not found")
    established = terminating = names_rejected = violations = False
    msg = ""
    for cond in conds:
        ctype, cstatus = cond.get("type"), cond.get("status")
        if ctype == "Terminating" and cstatus == "True":
            terminating, msg = True, str(cond.get("message") or "")
        elif ctype == "NamesAccepted" and cstatus == "False":
            names_rejected, msg = True, str(cond.get("message") or "")
        elif ctype == "Established":
            if cstatus == "True":
                established = True
            else:
                msg = str(cond.get("message") or "")
        elif ctype == "NonStructuralSchema" and cstatus == "True":
            violations, msg = True, str(cond.get("message") or "")
    if terminating:
        return HealthStatus(PROGRESSING, f"CRD is being terminated: {msg}")
    if names_rejected:
        return HealthStatus(DEGRADED, f"CRD names have not been accepted: {msg}")
    if not established:
        return HealthStatus(DEGRADED, f"CRD is not established: {msg}")
    if violations:
        return HealthStatus(DEGRADED, f"Schema violations found: {msg}")
    return HealthStatus(HEALTHY, "CRD is healthy")


def ready_condition(obj: Mapping[str, Any]) -> HealthStatus | None:
    """A custom resource with a ``Ready`` condition (the Flux/Crossplane/cert-manager convention).

    ``Ready=True`` → Healthy; ``Ready=False`` → Degraded, or Progressing while
    a ``Reconciling=True`` condition says the controller is still working;
    ``Ready=Unknown`` → Progressing; a ``status.observedGeneration`` behind
    ``metadata.generation`` → Progressing. No Ready condition → no opinion.
    """
    ready = condition(obj, "Ready")
    if ready is None:
        return None
    generation = get_int(obj, "metadata", "generation", default=None)
    observed = get_int(obj, "status", "observedGeneration", default=None)
    if generation is not None and observed is not None and observed < generation:
        return HealthStatus(PROGRESSING, f"Waiting for the controller to observe generation {generation}")
    message = str(ready.get("message") or ready.get("reason") or "")
    value = ready.get("status")
    if value == "True":
        return HealthStatus(HEALTHY, message)
    if value == "False":
        reconciling = condition(obj, "Reconciling")
        if reconciling is not None and reconciling.get("status") == "True":
            return HealthStatus(PROGRESSING, message)
        return HealthStatus(DEGRADED, message)
    return HealthStatus(PROGRESSING, message)
