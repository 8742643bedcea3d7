"""Built-in health of the ``apps`` workloads, as gitops-engine's ``health_*.go``.

Messages are Argo CD's, word for word, so dashboards and alerts keyed on them
keep working. Fields the API server defaults (``spec.replicas``, a
StatefulSet's update strategy) are read with those defaults, so an object
that never went through a server (``syncwright health -f`` on a file) is
judged as the server would store it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api import HealthStatus
from .status import (
    DEGRADED,
    HEALTHY,
    PROGRESSING,
    SUSPENDED,
    ConvertError,
    condition,
    get,
    get_bool,
    get_int,
    get_str,
)


def _name(obj: Mapping[str, Any]) -> str:
    return str(get(obj, "metadata", "name") or "")


def _replicas(obj: Mapping[str, Any]) -> int:
    value = get_int(obj, "spec", "replicas", default=1)
    assert value is not None
    return value


def deployment(obj: Mapping[str, Any]) -> HealthStatus:
    if get_bool(obj, "spec", "paused"):
        return HealthStatus(SUSPENDED, "Deployment is paused")
    generation = get_int(obj, "metadata", "generation") or 0
    observed = get_int(obj, "status", "observedGeneration") or 0
    if generation > observed:
        return HealthStatus(
            PROGRESSING, "Waiting for rollout to finish: observed deployment generation less than desired generation"
        )
    replicas = _replicas(obj)
    updated = get_int(obj, "status", "updatedReplicas") or 0
    current = get_int(obj, "status", "replicas") or 0
    available = get_int(obj, "status", "availableReplicas") or 0
    cond = condition(obj, "Progressing")
    if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
        return HealthStatus(DEGRADED, f'Deployment "{_name(obj)}" exceeded its progress deadline')
    if updated < replicas:
        return HealthStatus(
            PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {replicas} new replicas have been updated...",
        )
    if current > updated:
        return HealthStatus(
            PROGRESSING, f"Waiting for rollout to finish: {current - updated} old replicas are pending termination..."
        )
    if available < updated:
        return HealthStatus(
            PROGRESSING, f"Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        )
    return HealthStatus(HEALTHY)


def statefulset(obj: Mapping[str, Any]) -> HealthStatus:
    generation = get_int(obj, "metadata", "generation") or 0
    observed = get_int(obj, "status", "observedGeneration") or 0
    if observed == 0 or generation > observed:
        return HealthStatus(PROGRESSING, "Waiting for statefulset spec update to be observed...")
    replicas = _replicas(obj)
    ready = get_int(obj, "status", "readyReplicas") or 0
    if ready < replicas:
        return HealthStatus(PROGRESSING, f"Waiting for {replicas - ready} pods to be ready...")
    strategy = get(obj, "spec", "updateStrategy")
    if strategy is None:  # the API server's default
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    if not isinstance(strategy, Mapping):
        raise ConvertError("spec.updateStrategy: expected a mapping")
    stype = get_str(strategy, "type")
    updated = get_int(obj, "status", "updatedReplicas") or 0
    rolling = strategy.get("rollingUpdate")
    if stype == "RollingUpdate" and isinstance(rolling, Mapping):
        partition = get_int(rolling, "partition", default=None)
        if partition is not None and updated < replicas - partition:
            return HealthStatus(
                PROGRESSING,
                f"Waiting for partitioned roll out to finish: {updated} out of {replicas - partition} "
                "new pods have been updated...",
            )
        return HealthStatus(HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated...")
    if stype == "OnDelete":
        return HealthStatus(HEALTHY, f"statefulset has {ready} ready pods")
    update_rev = get_str(obj, "status", "updateRevision")
    current_rev = get_str(obj, "status", "currentRevision")
    if update_rev != current_rev:
        return HealthStatus(
            PROGRESSING,
            f"waiting for statefulset rolling update to complete {updated} pods at revision {update_rev}...",
        )
    current = get_int(obj, "status", "currentReplicas") or 0
    return HealthStatus(HEALTHY, f"statefulset rolling update complete {current} pods at revision {current_rev}...")


def daemonset(obj: Mapping[str, Any]) -> HealthStatus:
    generation = get_int(obj, "metadata", "generation") or 0
    observed = get_int(obj, "status", "observedGeneration") or 0
    if generation > observed:
        return HealthStatus(
            PROGRESSING, "Waiting for rollout to finish: observed daemon set generation less than desired generation"
        )
    desired = get_int(obj, "status", "desiredNumberScheduled") or 0
    updated = get_int(obj, "status", "updatedNumberScheduled") or 0
    available = get_int(obj, "status", "numberAvailable") or 0
    if get_str(obj, "spec", "updateStrategy", "type") == "OnDelete":
        return HealthStatus(HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated")
    if updated < desired:
        return HealthStatus(
            PROGRESSING,
            f'Waiting for daemon set "{_name(obj)}" rollout to finish: {updated} out of {desired} '
            "new pods have been updated...",
        )
    if available < desired:
        return HealthStatus(
            PROGRESSING,
            f'Waiting for daemon set "{_name(obj)}" rollout to finish: {available} of {desired} '
            "updated pods are available...",
        )
    return HealthStatus(HEALTHY)


def replicaset(obj: Mapping[str, Any]) -> HealthStatus:
    generation = get_int(obj, "metadata", "generation") or 0
    observed = get_int(obj, "status", "observedGeneration") or 0
    if generation > observed:
        return HealthStatus(
            PROGRESSING, "Waiting for rollout to finish: observed replica set generation less than desired generation"
        )
    cond = condition(obj, "ReplicaFailure")
    if cond is not None and cond.get("status") == "True":
        return HealthStatus(DEGRADED, str(cond.get("message") or ""))
    replicas = _replicas(obj)
    available = get_int(obj, "status", "availableReplicas") or 0
    if available < replicas:
        return HealthStatus(
            PROGRESSING, f"Waiting for rollout to finish: {available} out of {replicas} new replicas are available..."
        )
    return HealthStatus(HEALTHY)
