"""Resource tracking, as Argo CD does it: which app owns a live object.

The default method writes the annotation
``argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<namespace>/<name>``;
``label`` writes ``app.kubernetes.io/instance: <app>``; ``annotation+label``
writes both (the label informational, truncated to 63 characters). Reading
accepts what the method writes. An annotation whose identity does not match
the object it sits on (a copied manifest) does not count (Argo CD's
``isSelfReferencedObj``).
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from typing import Any

from .manifests import group_of

TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
DEFAULT_LABEL = "app.kubernetes.io/instance"
METHODS = ("annotation", "label", "annotation+label")


@dataclass(frozen=True)
class TrackingId:
    app: str
    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.app}:{self.group}/{self.kind}:{self.namespace}/{self.name}"


def parse_tracking_id(value: str) -> TrackingId | None:
    """``app:group/kind:ns/name`` → TrackingId, or None if malformed."""
    try:
        app, gk, nsname = value.split(":", 2)
        group, kind = gk.split("/", 1)
        namespace, name = nsname.split("/", 1)
    except ValueError:
        return None
    return TrackingId(app, group, kind, namespace, name) if app and kind and name else None


def truncate_label(value: str) -> str:
    """Argo CD's ``TruncateLabel``: at most 63 chars, ending alphanumeric."""
    value = value[:63]
    return re.sub(r"[^A-Za-z0-9]+$", "", value)


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class Tracking:
    """The tracking method and label key of an installation (argocd-cm's settings).

    Defaults come from ``SYNCWRIGHT_TRACKING_METHOD`` (``annotation``, ``label`` or
    ``annotation+label``; Argo CD's ``application.resourceTrackingMethod``) and
    ``SYNCWRIGHT_TRACKING_LABEL`` (``application.instanceLabelKey``).
    """

    method: str = field(default_factory=lambda: _env("SYNCWRIGHT_TRACKING_METHOD", "annotation"))
    label_key: str = field(default_factory=lambda: _env("SYNCWRIGHT_TRACKING_LABEL", DEFAULT_LABEL))

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"tracking method {self.method!r} is not one of {', '.join(METHODS)}")

    def stamp(self, obj: dict[str, Any], app: str, default_namespace: str = "") -> dict[str, Any]:
        """A copy of ``obj`` carrying this app's tracking (CRDs are not stamped, as Argo CD)."""
        if obj.get("kind") == "CustomResourceDefinition" and group_of(str(obj.get("apiVersion", ""))) == "apiextensions.k8s.io":
            return obj
        out = copy.copy(obj)
        meta = dict(out.get("metadata") or {})
        out["metadata"] = meta
        if "annotation" in self.method:
            ns = meta.get("namespace") or default_namespace
            tid = TrackingId(app, group_of(str(obj.get("apiVersion", ""))), str(obj.get("kind")), ns, str(meta.get("name", "")))
            meta["annotations"] = {**(meta.get("annotations") or {}), TRACKING_ANNOTATION: str(tid)}
        if "label" in self.method:
            value = app if self.method == "label" else truncate_label(app)
            meta["labels"] = {**(meta.get("labels") or {}), self.label_key: value}
        return out

    def app_of(self, obj: dict[str, Any]) -> str | None:
        """The app a live object is tracked to, or None."""
        meta = obj.get("metadata") or {}
        if self.method in ("annotation", "annotation+label"):
            value = (meta.get("annotations") or {}).get(TRACKING_ANNOTATION)
            tid = parse_tracking_id(value) if isinstance(value, str) else None
            if tid is None or not _self_referenced(tid, obj):
                return None
            return tid.app
        label = (meta.get("labels") or {}).get(self.label_key)
        return label if isinstance(label, str) and label else None


def _self_referenced(tid: TrackingId, obj: dict[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    if tid.kind != obj.get("kind") or tid.name != meta.get("name"):
        return False
    if tid.group != group_of(str(obj.get("apiVersion", ""))):
        return False
    ns = meta.get("namespace") or ""
    # cluster-scoped objects carry the app's destination namespace in their id
    return not ns or tid.namespace == ns
