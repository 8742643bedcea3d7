"""Predicting the live object after an apply, from live state and ownership.

``predict_live(live, target, owned)`` merges the target into the live object
the way server-side apply does for the fields that matter to a comparison:
fields the target sets take its values; fields the server or other managers
added (defaults, status, injected sidecars) stay; fields this manager applied
before and the target no longer sets are removed. Ownership comes from the
live object's ``managedFields`` (our manager's Apply entries) or, for objects
applied client-side, from the ``kubectl.kubernetes.io/last-applied-configuration``
annotation. Comparing the prediction with the live object then tells whether
an apply would change anything — without an API call.
"""

from __future__ import annotations

import json
from typing import Any

from .quantity import equivalent, is_quantity_path

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

#: Associative lists and their keys (Kubernetes' patch merge keys / list-map keys).
LIST_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "env": ("name",), "volumes": ("name",), "volumeMounts": ("mountPath",), "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",), "hostAliases": ("ip",), "conditions": ("type",),
    "readinessGates": ("conditionType",), "resourceClaims": ("name",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"), "ownerReferences": ("uid",),
}
KEY_DEFAULTS = {"protocol": "TCP"}
#: metadata fields the server owns; never compared, never taken from the target.
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")

Owned = dict[str, Any]  # a FieldsV1 tree: {"f:spec": {"f:replicas": {}}, "k:{...}": {...}}


def list_key_fields(field: str | None, items: list[Any]) -> tuple[str, ...] | None:
    """The key fields of an associative list, or None for an atomic/positional list."""
    dicts = [i for i in items if isinstance(i, dict)]
    if not dicts or len(dicts) != len(items):
        return None
    if field == "ports":
        if all("containerPort" in i for i in dicts):
            return ("containerPort", "protocol")
        if all("port" in i for i in dicts):
            return ("port", "protocol")
        return None
    keys = LIST_KEYS.get(field or "")
    if keys and all(keys[0] in i for i in dicts):
        return keys
    if all("name" in i for i in dicts) and field not in ("args", "command"):
        return ("name",)
    return None


def item_key(item: dict[str, Any], fields: tuple[str, ...]) -> str:
    """The FieldsV1 element for a list item: ``k:{"name":"app"}`` (compact, sorted keys)."""
    keys = {f: item.get(f, KEY_DEFAULTS.get(f)) for f in fields if f in item or f in KEY_DEFAULTS}
    return "k:" + json.dumps(keys, sort_keys=True, separators=(",", ":"))


def owned_from_managed_fields(live: dict[str, Any], manager: str) -> Owned | None:
    """Union of the FieldsV1 trees of ``manager``'s Apply entries on ``live``."""
    trees = [
        e.get("fieldsV1") or {}
        for e in (live.get("metadata") or {}).get("managedFields") or []
        if e.get("manager") == manager and e.get("operation") == "Apply" and not e.get("subresource")
    ]
    if not trees:
        return None
    out: Owned = {}
    for tree in trees:
        _union(out, tree)
    return out


def owned_by_managers(live: dict[str, Any], managers: tuple[str, ...]) -> Owned:
    """Union of the FieldsV1 trees of any entries of the named managers."""
    out: Owned = {}
    for e in (live.get("metadata") or {}).get("managedFields") or []:
        if e.get("manager") in managers:
            _union(out, e.get("fieldsV1") or {})
    return out


def _union(into: Owned, tree: Owned) -> None:
    for k, v in tree.items():
        if isinstance(v, dict):
            _union(into.setdefault(k, {}), v)


def owned_from_last_applied(live: dict[str, Any]) -> Owned | None:
    """The fields a client-side ``kubectl apply`` set, from its annotation."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not isinstance(text, str):
        return None
    try:
        applied = json.loads(text)
    except ValueError:
        return None
    return _tree(applied, None)


def _tree(value: Any, field: str | None) -> Owned:
    if isinstance(value, dict):
        return {f"f:{k}": _tree(v, k) for k, v in value.items()}
    if isinstance(value, list):
        keys = list_key_fields(field, value)
        if keys:
            return {item_key(i, keys): _tree(i, None) for i in value}
    return {}


def predict_live(live: Any, target: Any, owned: Owned | None, field: str | None = None,
                 parent: str | None = None) -> Any:
    """``live`` as it would be after applying ``target`` (see the module docstring)."""
    if isinstance(live, dict) and isinstance(target, dict):
        out = dict(live)
        for k, tv in target.items():
            if tv is None:
                out.pop(k, None)
            elif k in live:
                out[k] = predict_live(live[k], tv, (owned or {}).get(f"f:{k}"), k, field)
            else:
                out[k] = tv
        if owned:
            for k in live:
                if k not in target and f"f:{k}" in owned:
                    del out[k]
        return out
    if isinstance(live, list) and isinstance(target, list):
        return _merge_list(live, target, owned, field)
    if is_quantity_path(parent, field) and equivalent(live, target):
        return live
    if isinstance(live, (int, float)) and isinstance(target, (int, float)) and not isinstance(live, bool) \
            and not isinstance(target, bool) and live == target:
        return live
    return target


def _merge_list(live: list[Any], target: list[Any], owned: Owned | None, field: str | None) -> list[Any]:
    keys = list_key_fields(field, target) if target else list_key_fields(field, live)
    if keys and list_key_fields(field, live) in (keys, None) and all(isinstance(i, dict) for i in live):
        wanted = {item_key(i, keys): i for i in target}
        result: list[Any] = []
        seen: set[str] = set()
        for item in live:
            k = item_key(item, keys)
            if k in wanted:
                result.append(predict_live(item, wanted[k], (owned or {}).get(k), None, field))
                seen.add(k)
            elif not (owned and k in owned):
                result.append(item)
        result.extend(i for k, i in wanted.items() if k not in seen)
        return result
    if len(live) == len(target) and all(isinstance(i, dict) for i in (*live, *target)):
        # positional lists (e.g. NetworkPolicy ports): keep server defaults inside items
        return [predict_live(li, ti, None, None, field) for li, ti in zip(live, target)]
    return list(target)
