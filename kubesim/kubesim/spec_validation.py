"""The few type-level validations a GitOps tool most often trips over (422 Invalid).

Not the whole of Kubernetes' validation: workload selectors and templates,
containers, Service ports, Job restart policy, ConfigMap/Secret keys. Messages
follow kube-apiserver's wording so callers can show them unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import invalid
from .registry import ResourceType
from .selectors import selector_matches

Problem = tuple[str, str | None, str]
_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_WORKLOADS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"}


def _go_map(m: dict[str, Any]) -> str:
    return "map[string]string{" + ", ".join(
        f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(m.items())) + "}"


def _pod_spec(spec: Any, path: str, out: list[Problem], job: bool = False) -> None:
    if not isinstance(spec, dict):
        out.append((path, None, "Required value"))
        return
    containers = spec.get("containers")
    if not containers:
        out.append((f"{path}.containers", None, "Required value"))
    names: set[str] = set()
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or []):
            if not isinstance(c, dict):
                continue
            p = f"{path}.{field}[{i}]"
            if not c.get("name"):
                out.append((f"{p}.name", None, "Required value"))
            elif c["name"] in names:
                out.append((f"{p}.name", None, f'Duplicate value: "{c["name"]}"'))
            else:
                names.add(c["name"])
            if not c.get("image"):
                out.append((f"{p}.image", None, "Required value"))
    if job:
        rp = spec.get("restartPolicy")
        if rp not in ("OnFailure", "Never"):
            out.append((f"{path}.restartPolicy", None,
                        'Required value: valid values: "OnFailure", "Never"' if rp is None else
                        f'Unsupported value: "{rp}": supported values: "OnFailure", "Never"'))


def _workload(obj: dict[str, Any], out: list[Problem]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        out.append(("spec", None, "Required value"))
        return
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        out.append(("spec.replicas", None, f"Invalid value: {replicas}: must be greater than "
                                           "or equal to 0"))
    sel = spec.get("selector")
    tmpl: dict[str, Any] = spec["template"] if isinstance(spec.get("template"), dict) else {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
        out.append(("spec.selector", None, "Required value"))
    elif isinstance(labels, dict) and not selector_matches(sel, labels):
        out.append(("spec.template.metadata.labels", None,
                    f"Invalid value: {_go_map(labels)}: `selector` does not match template "
                    "`labels`"))
    _pod_spec(tmpl.get("spec"), "spec.template.spec", out)


def validate_spec(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Raise 422 Invalid for the checked mistakes in a built-in object's spec."""
    if not rt.builtin:
        return
    out: list[Problem] = []
    kind = rt.kind
    if kind in _WORKLOADS:
        _workload(obj, out)
    elif kind == "Pod":
        _pod_spec(obj.get("spec"), "spec", out)
    elif kind == "Job":
        spec = obj.get("spec") or {}
        tmpl: dict[str, Any] = spec["template"] if isinstance(spec.get("template"), dict) else {}
        _pod_spec(tmpl.get("spec"), "spec.template.spec", out, job=True)
    elif kind == "Service":
        spec = obj.get("spec") or {}
        if spec.get("type", "ClusterIP") != "ExternalName" and not spec.get("ports") and \
                spec.get("clusterIP") != "None":
            out.append(("spec.ports", None, "Required value"))
    elif kind in ("ConfigMap", "Secret"):
        for field in ("data", "binaryData", "stringData"):
            for k in obj.get(field) or {}:
                if len(k) > 253 or not _KEY.fullmatch(k) or k in (".", ".."):
                    out.append((f"{field}[{k}]", k, "a valid config key must consist of "
                                "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
                                "or 'KEY_NAME',  or 'key-name', regex used for validation is "
                                "'[-._a-zA-Z0-9]+')"))
    if out:
        raise invalid(kind, rt.group, (obj.get("metadata") or {}).get("name", ""), out)
