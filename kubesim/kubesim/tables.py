"""Server-side printing (`meta.k8s.io/v1 Table`) as `kubectl get` asks for it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from .registry import ResourceType

Col = tuple[str, str, Callable[[dict[str, Any]], Any]]


def _age(obj: dict[str, Any]) -> str:
    ts = (obj.get("metadata") or {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    try:
        t = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "<unknown>"
    s = max(0, int((datetime.now(timezone.utc) - t).total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 3 * 3600:
        return f"{s // 60}m"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _st(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _pod_ready(obj: dict[str, Any]) -> str:
    cs = _st(obj).get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for c in cs if c.get('ready'))}/{total}"


_EXTRA: dict[str, list[Col]] = {
    "Pod": [("Ready", "string", _pod_ready),
            ("Status", "string", lambda o: _st(o).get("phase", "Pending")),
            ("Restarts", "string", lambda o: "0")],
    "Deployment": [
        ("Ready", "string", lambda o: f"{_st(o).get('readyReplicas', 0)}/"
                                      f"{(o.get('spec') or {}).get('replicas', 1)}"),
        ("Up-to-date", "integer", lambda o: _st(o).get("updatedReplicas", 0)),
        ("Available", "integer", lambda o: _st(o).get("availableReplicas", 0))],
    "ReplicaSet": [("Desired", "integer", lambda o: (o.get("spec") or {}).get("replicas", 1)),
                   ("Current", "integer", lambda o: _st(o).get("replicas", 0)),
                   ("Ready", "integer", lambda o: _st(o).get("readyReplicas", 0))],
    "Namespace": [("Status", "string", lambda o: _st(o).get("phase", "Active"))],
    "Job": [("Status", "string", lambda o: next(
        (c["type"] for c in _st(o).get("conditions") or [] if c.get("status") == "True"
         and c.get("type") in ("Complete", "Failed")), "Running")),
            ("Completions", "string", lambda o: f"{_st(o).get('succeeded', 0)}/"
                                                f"{(o.get('spec') or {}).get('completions', 1)}")],
    "PersistentVolumeClaim": [("Status", "string", lambda o: _st(o).get("phase", "Pending"))],
    "Service": [("Type", "string", lambda o: (o.get("spec") or {}).get("type", "ClusterIP")),
                ("Cluster-IP", "string", lambda o: (o.get("spec") or {}).get("clusterIP",
                                                                              "<none>"))],
    "ConfigMap": [("Data", "integer", lambda o: len(o.get("data") or {}) +
                   len(o.get("binaryData") or {}))],
}


def _event_object(o: dict[str, Any]) -> str:
    io = o.get("involvedObject") or {}
    return f"{str(io.get('kind', '')).lower()}/{io.get('name', '')}"


_EVENT_COLS: list[Col] = [
    ("Last Seen", "string", lambda o: _age({"metadata": {"creationTimestamp": o.get(
        "lastTimestamp") or o["metadata"].get("creationTimestamp")}})),
    ("Type", "string", lambda o: o.get("type", "")),
    ("Reason", "string", lambda o: o.get("reason", "")),
    ("Object", "string", _event_object),
    ("Message", "string", lambda o: o.get("message", "")),
]


def table(rt: ResourceType, objs: list[dict[str, Any]], rv: int | None, *,
          single: bool = False, cont: str | None = None, headers: bool = True) -> dict[str, Any]:
    """A Table of `objs`; watch events after the first carry no column definitions."""
    hidden: set[str] = set()
    if rt.kind == "Event":
        cols = _EVENT_COLS + [("Name", "string", lambda o: o["metadata"]["name"])]
        hidden = {"Name"}  # shown with -o wide only, as on a real server
    else:
        cols = [("Name", "string", lambda o: o["metadata"]["name"])]
        cols += _EXTRA.get(rt.kind, [])
        cols.append(("Age", "string", _age))
    meta: dict[str, Any] = {}
    if rv is not None:
        meta["resourceVersion"] = str(rv)
    if cont:
        meta["continue"] = cont
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
        "columnDefinitions": [
            {"name": n, "type": t, "format": "name" if n == "Name" else "",
             "description": n, "priority": 1 if n in hidden else 0} for n, t, _ in cols]
        if headers else [],
        "rows": [{"cells": [f(o) for _, _, f in cols],
                  "object": {**o, "apiVersion": rt.api_version}} for o in objs],
    }
