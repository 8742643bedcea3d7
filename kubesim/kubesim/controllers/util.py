"""Small helpers shared by the simulated controllers (all called under the store lock)."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

import orjson

from .. import gc
from ..api import now
from ..errors import ApiError
from ..store import Key

if TYPE_CHECKING:
    from ..api import Api

MANAGER = "kube-controller-manager"
KUBELET = "kubelet"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def get(api: Api, key: Key, ns: str, name: str) -> dict[str, Any] | None:
    e = api.store.get(key, ns, name)
    return None if e is None else e.obj


def live(obj: dict[str, Any] | None) -> bool:
    return obj is not None and not obj["metadata"].get("deletionTimestamp")


def set_status(api: Api, key: Key, ns: str, name: str, status: dict[str, Any],
               manager: str = MANAGER) -> None:
    e = api.store.get(key, ns, name)
    rt = gc.rt_for(api, key)
    if e is None or rt is None or e.obj.get("status") == status:
        return
    api._finish_update(rt, e, {**e.obj, "status": status}, manager=manager, operation="Update",
                       subresource="status", dry_run=False)


def update(api: Api, key: Key, new: dict[str, Any], manager: str = MANAGER,
           subresource: str = "") -> None:
    meta = new["metadata"]
    e = api.store.get(key, meta.get("namespace", ""), meta["name"])
    rt = gc.rt_for(api, key)
    if e is None or rt is None:
        return
    api._finish_update(rt, e, new, manager=manager, operation="Update",
                       subresource=subresource, dry_run=False)


def create(api: Api, key: Key, ns: str, obj: dict[str, Any]) -> dict[str, Any] | None:
    rt = gc.rt_for(api, key)
    if rt is None:
        return None
    return api.create(rt, ns, obj, manager=MANAGER)


def owned(api: Api, owner: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Objects of `kind` whose controller ownerReference is `owner`."""
    uid = owner["metadata"].get("uid", "")
    out = []
    for key, ns, name in api.store.dependents(uid):
        e = api.store.get(key, ns, name)
        if e is None or e.obj.get("kind") != kind:
            continue
        if any(r.get("uid") == uid and r.get("controller")
               for r in e.obj["metadata"].get("ownerReferences") or ()):
            out.append(e.obj)
    return out


def owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def template_hash(template: Any) -> str:
    digest = hashlib.sha256(orjson.dumps(template, option=orjson.OPT_SORT_KEYS)).digest()
    n = int.from_bytes(digest[:8], "big")
    out = []
    for _ in range(10):
        n, r = divmod(n, len(_SAFE))
        out.append(_SAFE[r])
    return "".join(out)


def condition(old: list[dict[str, Any]] | None, ctype: str, status: str, reason: str,
              message: str, *, update_time: bool = False) -> dict[str, Any]:
    """A condition keeping lastTransitionTime when its status did not change."""
    prev = next((c for c in old or [] if c.get("type") == ctype), None)
    t = now()
    c: dict[str, Any] = {"type": ctype, "status": status}
    if update_time:
        keep = prev is not None and prev.get("status") == status and prev.get("reason") == reason
        c["lastUpdateTime"] = prev.get("lastUpdateTime", t) if keep and prev else t
    c["lastTransitionTime"] = (prev.get("lastTransitionTime", t)
                               if prev is not None and prev.get("status") == status else t)
    c["reason"] = reason
    c["message"] = message
    return c


def pod_ready(pod: dict[str, Any]) -> bool:
    st = pod.get("status") or {}
    return st.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])


def pod_from_template(owner: dict[str, Any], name: str | None, generate: str | None,
                      extra_labels: dict[str, str]) -> dict[str, Any]:
    tmpl = (owner.get("spec") or {}).get("template") or {}
    tmeta = tmpl.get("metadata") or {}
    meta: dict[str, Any] = {
        "labels": {**(tmeta.get("labels") or {}), **extra_labels},
        "ownerReferences": [owner_ref(owner)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": orjson.loads(orjson.dumps(tmpl.get("spec") or {}))}


def event(api: Api, obj: dict[str, Any], reason: str, message: str, *,
          component: str, etype: str = "Normal") -> None:
    """Record a core/v1 Event about `obj`, as the real controllers and kubelet do."""
    meta = obj["metadata"]
    ns = meta.get("namespace") or "default"
    t = now()
    try:
        _create_event(api, ns, obj, meta, reason, message, component, etype, t)
    except ApiError:
        pass  # e.g. the namespace is terminating; events are best effort, as in Kubernetes


_last_ns = [0]


def _event_suffix() -> int:
    """Nanosecond clock, strictly increasing: names sort by time, as real Events do."""
    _last_ns[0] = max(time.time_ns(), _last_ns[0] + 1)
    return _last_ns[0]


def _create_event(api: Api, ns: str, obj: dict[str, Any], meta: dict[str, Any], reason: str,
                  message: str, component: str, etype: str, t: str) -> None:
    create(api, ("", "events"), ns, {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{_event_suffix():x}"},
        "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                           "name": meta["name"], "namespace": meta.get("namespace"),
                           "uid": meta.get("uid"),
                           "resourceVersion": meta.get("resourceVersion")},
        "reason": reason, "message": message, "type": etype,
        "source": {"component": component}, "reportingComponent": component,
        "reportingInstance": "", "firstTimestamp": t, "lastTimestamp": t, "count": 1,
        "eventTime": None})
