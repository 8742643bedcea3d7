"""An app's reported status: what ``app list/get`` show and CRD ``status`` holds.

Kept as one JSON-able dict per app (Argo CD's ``ApplicationStatus`` shape,
camelCase): ``sync{status, revision, revisions}``, ``health{status,
message}``, ``resources[]``, ``conditions[]`` (type, message,
lastTransitionTime), ``reconciledAt``, plus the spec facts the CLI prints
(project, destination, sources, sync policy) so the CLI needs no spec file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model import Application
from ..sync.operation import now

#: Condition types (Argo CD's ``ApplicationCondition*``).
INVALID_SPEC = "InvalidSpecError"
COMPARISON_ERROR = "ComparisonError"
SYNC_ERROR = "SyncError"
SHARED_RESOURCE = "SharedResourceWarning"
UNKNOWN_ERROR = "UnknownError"


@dataclass
class Conditions:
    """Conditions by type; an unchanged message keeps its lastTransitionTime."""

    items: dict[str, dict[str, str]] = field(default_factory=dict)

    def set(self, ctype: str, message: str) -> None:
        old = self.items.get(ctype)
        if old is not None and old["message"] == message:
            return
        self.items[ctype] = {"type": ctype, "message": message, "lastTransitionTime": now()}

    def clear(self, *ctypes: str) -> None:
        for c in ctypes:
            self.items.pop(c, None)

    def has(self, ctype: str) -> bool:
        return ctype in self.items

    def to_list(self) -> list[dict[str, str]]:
        return [self.items[k] for k in sorted(self.items)]

    @classmethod
    def from_list(cls, items: list[dict[str, str]] | None) -> Conditions:
        return cls({c["type"]: dict(c) for c in items or [] if isinstance(c, dict) and "type" in c})


def sync_policy_label(app: Application | None) -> str:
    policy = app.spec.sync_policy if app is not None else None
    auto = policy.automated if policy else None
    if auto is None or auto.enabled is False:
        return "Manual"
    extras = [x for x, on in (("Prune", auto.prune), ("SelfHeal", auto.self_heal)) if on]
    return f"Automated ({', '.join(extras)})" if extras else "Automated"


def spec_facts(app: Application | None, raw: dict[str, Any], cluster: str, server: str) -> dict[str, Any]:
    spec = raw.get("spec") if isinstance(raw.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    sources = spec.get("sources") or ([spec["source"]] if isinstance(spec.get("source"), dict) else [])
    dest = spec.get("destination") if isinstance(spec.get("destination"), dict) else {}
    return {
        "project": (app.spec.project if app else spec.get("project")) or "default",
        "cluster": cluster, "server": server, "namespace": (dest or {}).get("namespace", ""),
        "sources": sources, "syncPolicy": sync_policy_label(app),
    }


def resource_rows(state: Any) -> list[dict[str, Any]]:
    """Argo CD's ``status.resources`` from a comparison (``sync.compare.AppState``)."""
    rows = []
    for r in state.resources:
        k = r.key
        rows.append({
            "group": k.group, "kind": k.kind, "namespace": k.namespace, "name": k.name,
            "status": r.status, "health": (r.health.status if r.health else ""),
            "healthMessage": (r.health.message if r.health else ""), "hook": bool(r.hook),
            "requiresPruning": bool(r.comparison.requires_pruning),
            "diff": r.comparison.diff.unified() if r.status == "OutOfSync" else "",
        })
    return rows
