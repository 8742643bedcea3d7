"""Comparing desired objects with live ones: per resource and per app.

Method (see docs/diff.md for the reasoning): the live object is merged with
the desired one the way server-side apply would merge it — using the
ownership recorded in ``managedFields`` (or the client-side last-applied
annotation) to know which fields syncwright applied before — and the
prediction is compared with the live object. Server-populated and defaulted
fields are never in the desired object, so they are never compared; a
changed value, an added field and a field removed from Git that syncwright
had applied all change the prediction. No API call is made.
"""

from __future__ import annotations

import base64
import copy
import difflib
from dataclasses import dataclass
from typing import Any

import yaml

from ..manifests import ResourceKey, key_of
from ..tracking import TRACKING_ANNOTATION
from .ignore import IgnoreRule, apply_rules
from .mask import is_secret, mask_secrets
from .merge import SERVER_METADATA, owned_from_last_applied, owned_from_managed_fields, predict_live

DEFAULT_MANAGER = "syncwright"
COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"


@dataclass(frozen=True)
class ResourceDiff:
    """The comparison of one resource. ``live``/``predicted`` are normalized and masked."""

    key: ResourceKey
    target: dict[str, Any] | None
    live: dict[str, Any] | None
    predicted: dict[str, Any] | None
    modified: bool
    status: str  # Synced | OutOfSync

    def unified(self, context: int = 3) -> str:
        """A unified diff of live → predicted live (masked), empty when in sync."""
        a = _dump(self.live) if self.live is not None else ""
        b = _dump(self.predicted) if self.predicted is not None else ""
        label = str(self.key)
        lines = difflib.unified_diff(a.splitlines(True), b.splitlines(True),
                                     f"live/{label}", f"desired/{label}", n=context)
        return "".join(lines)


class _PlainDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Never anchors/aliases: cached objects share sub-dicts, which YAML would print as ``&id001``."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(obj: dict[str, Any]) -> str:
    return str(yaml.dump(obj, Dumper=_PlainDumper, default_flow_style=False, sort_keys=True))


def normalize_target(target: dict[str, Any]) -> dict[str, Any]:
    """The desired object as the comparison sees it (Argo CD's ``Normalize``)."""
    out = copy.deepcopy(target)
    out.pop("status", None)  # resource.compareoptions ignoreResourceStatusField: all (default)
    meta = out.get("metadata") or {}
    for f in SERVER_METADATA:
        meta.pop(f, None)
    for f in ("annotations", "labels"):
        if f in meta and not meta[f]:
            del meta[f]
    if is_secret(out) and isinstance(out.get("stringData"), dict):
        data = dict(out.get("data") or {})
        for k, v in out.pop("stringData").items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        out["data"] = data
    if out.get("kind") in ("Role", "ClusterRole") and out.get("rules") == []:
        out["rules"] = None
    return out


def normalize_live(live: dict[str, Any], tracking_label: str | None = None) -> dict[str, Any]:
    """Drop what is never compared: server metadata, status, and the tracking marks.

    Tracking is normalized away as in Argo CD, so an object applied by hand
    (without the annotation) still compares equal; finding an app's objects
    is the tracking's job, not the diff's. Only the top level and
    ``metadata`` are copied: everything else is shared with ``live`` (cached
    objects are read-only), which keeps a comparison cheap.
    """
    out = dict(live)
    out.pop("status", None)
    meta = dict(out.get("metadata") or {})
    for f in SERVER_METADATA:
        meta.pop(f, None)
    for field_name, key in (("annotations", TRACKING_ANNOTATION), ("labels", tracking_label)):
        values = meta.get(field_name)
        if key and isinstance(values, dict) and key in values:
            values = dict(values)
            del values[key]
            if values:
                meta[field_name] = values
            else:
                del meta[field_name]
    out["metadata"] = meta
    return out


def diff_resource(
    target: dict[str, Any] | None,
    live: dict[str, Any] | None,
    *,
    manager: str = DEFAULT_MANAGER,
    rules: tuple[IgnoreRule, ...] = (),
    tracking_label: str | None = None,
) -> ResourceDiff:
    """Compare one desired object with its live counterpart (either may be None)."""
    key = key_of(target if target is not None else live or {})
    if target is None:
        masked_live = mask_secrets(normalize_live(live or {}))[0]
        return ResourceDiff(key, None, masked_live, None, False, "OutOfSync")
    norm_target = normalize_target(target)
    if live is None:
        masked_t = mask_secrets(norm_target)[0]
        return ResourceDiff(key, masked_t, None, masked_t, True, "OutOfSync")
    owned = owned_from_managed_fields(live, manager) or owned_from_last_applied(live)
    predicted = predict_live(live, norm_target, owned)
    norm_live, norm_pred = normalize_live(live, tracking_label), normalize_live(predicted, tracking_label)
    cmp_live, cmp_pred = apply_rules(rules, live, norm_live, norm_pred)
    modified = cmp_live != cmp_pred
    m_target, m_live, m_pred = mask_secrets(norm_target, cmp_live, cmp_pred)
    return ResourceDiff(key, m_target, m_live, m_pred, modified, "OutOfSync" if modified else "Synced")


def compare_options(obj: dict[str, Any] | None) -> set[str]:
    value = (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(COMPARE_OPTIONS, "")
    return {v.strip() for v in str(value).split(",") if v.strip()}
