"""Deletion, finalizers, garbage collection, namespace teardown and CRD lifecycle.

The real server does this in separate controllers a moment after the write;
kubesim does it synchronously inside the write (under the store lock), so a
client never sees an orphan that the real GC would have removed. The events a
watcher sees (MODIFIED with deletionTimestamp, then DELETED) are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .registry import ResourceType, types_from_crd
from .store import Entry, Key

if TYPE_CHECKING:
    from .api import Api

NS_KEY: Key = ("", "namespaces")
CRD_KEY: Key = ("apiextensions.k8s.io", "customresourcedefinitions")
GC_MANAGER = "kube-controller-manager"


def _busy(api: Api) -> set[str]:
    """Owners/namespaces whose GC processing is on the stack (guards re-entrance)."""
    return api.gc_busy


def rt_for(api: Api, key: Key) -> ResourceType | None:
    for rt in api.registry.all():
        if rt.key == key:
            return rt
    return None


def can_remove(rt: ResourceType, obj: dict[str, Any]) -> bool:
    """True when a deleting object has no finalizers left."""
    meta = obj["metadata"]
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    if rt.key == NS_KEY and (obj.get("spec") or {}).get("finalizers"):
        return False
    return True


# --- type-specific initialisation ----------------------------------------------------

def on_create(api: Api, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    name = obj["metadata"]["name"]
    if rt.key == NS_KEY:
        obj["metadata"]["labels"] = {**(obj["metadata"].get("labels") or {}),
                                     "kubernetes.io/metadata.name": name}
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
    elif rt.key == ("", "pods"):
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    elif rt.key == CRD_KEY:
        obj["status"] = crd_status(obj)
    elif rt.key == ("batch", "jobs"):
        _job_selector(obj)
    return obj


def _job_selector(job: dict[str, Any]) -> None:
    """The Job strategy's selector and pod labels derived from the Job's uid."""
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    uid = job["metadata"]["uid"]
    name = job["metadata"]["name"]
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    tmpl = spec.setdefault("template", {})
    tmeta = tmpl.setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), **labels}


def crd_status(crd: dict[str, Any]) -> dict[str, Any]:
    spec = crd.get("spec") or {}
    from .api import now
    t = now()
    storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    return {
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": t,
             "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": t,
             "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "acceptedNames": spec.get("names") or {},
        "storedVersions": storage,
    }


def before_update(api: Api, rt: ResourceType, old: dict[str, Any],
                  new: dict[str, Any]) -> dict[str, Any]:
    if rt.key == CRD_KEY and new.get("spec") != old.get("spec"):
        new = {**new, "status": crd_status(new)}
    if rt.key == NS_KEY and old["metadata"].get("deletionTimestamp"):
        new = {**new, "status": old.get("status")}
    return new


def after_write(api: Api, rt: ResourceType, old: dict[str, Any] | None,
                obj: dict[str, Any]) -> None:
    if rt.key == CRD_KEY and not obj["metadata"].get("deletionTimestamp"):
        api.registry.add_crd(obj["metadata"]["name"], types_from_crd(obj))
        api.schema.register_crd(obj)
    if obj["metadata"].get("deletionTimestamp"):
        if rt.key == NS_KEY:
            namespace_cleanup(api, obj["metadata"]["name"])
        else:
            process_finalizers(api, rt, obj)


# --- deletion ------------------------------------------------------------------------

def delete(api: Api, rt: ResourceType, old: Entry, policy: str,
           dry_run: bool) -> tuple[int, dict[str, Any]]:
    from .api import now
    obj = old.obj
    meta = obj["metadata"]
    if dry_run:
        return 200, obj
    if meta.get("deletionTimestamp"):
        return 202, obj
    fins = list(meta.get("finalizers") or [])
    if rt.key == NS_KEY:
        new = {**obj, "metadata": {**meta, "deletionTimestamp": now(),
                                   "deletionGracePeriodSeconds": 0},
               "status": {"phase": "Terminating"}}
        api._commit(rt, old, new, False)
        cur = api.store.get(rt.key, "", meta["name"])
        return 200, (cur.obj if cur else new)
    if policy == "Orphan" and "orphan" not in fins:
        fins.append("orphan")
    if policy == "Foreground" and "foregroundDeletion" not in fins:
        fins.append("foregroundDeletion")
    if fins:
        new = {**obj, "metadata": {**meta, "deletionTimestamp": now(),
                                   "deletionGracePeriodSeconds": 0, "finalizers": fins}}
        api._commit(rt, old, new, False)
        cur = api.store.get(rt.key, meta.get("namespace", ""), meta["name"])
        if cur is not None:
            return 202, cur.obj
        return 200, _success(rt, obj)
    final = {**obj, "metadata": {**meta, "deletionTimestamp": now(),
                                 "deletionGracePeriodSeconds": 0}}
    rv = api.store.next_rv()
    final["metadata"]["resourceVersion"] = str(rv)
    api.store.remove(rt.key, meta.get("namespace", ""), meta["name"], final, rv)
    after_delete(api, rt, final)
    if rt.key == ("", "pods") or not rt.builtin:
        return 200, final
    return 200, _success(rt, obj)


def _success(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {"name": obj["metadata"]["name"], "kind": rt.plural,
                               "uid": obj["metadata"].get("uid")}
    if rt.group:
        details["group"] = rt.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}


def delete_entry(api: Api, key: Key, ns: str, name: str, policy: str = "Background") -> None:
    """Delete an object on behalf of a controller; no error if it is already gone."""
    rt = rt_for(api, key)
    e = api.store.get(key, ns, name)
    if rt is None or e is None or e.obj["metadata"].get("deletionTimestamp"):
        return
    delete(api, rt, e, policy, False)


def _write(api: Api, key: Key, ns: str, name: str, new: dict[str, Any]) -> None:
    rt = rt_for(api, key)
    old = api.store.get(key, ns, name)
    if rt is None or old is None:
        return
    api._finish_update(rt, old, new, manager=GC_MANAGER, operation="Update", subresource="",
                       dry_run=False)


def _remove_finalizer(api: Api, rt: ResourceType, obj: dict[str, Any], fin: str) -> None:
    meta = obj["metadata"]
    fins = [f for f in meta.get("finalizers") or [] if f != fin]
    new = {**obj, "metadata": {**meta, "finalizers": fins}}
    if not fins:
        new["metadata"].pop("finalizers")
    _write(api, rt.key, meta.get("namespace", ""), meta["name"], new)


def process_finalizers(api: Api, rt: ResourceType, obj: dict[str, Any]) -> None:
    """Run the GC's part of `orphan` and `foregroundDeletion` for a deleting owner."""
    uid = obj["metadata"].get("uid", "")
    busy = _busy(api)
    if uid in busy:
        return
    busy.add(uid)
    try:
        fins = obj["metadata"].get("finalizers") or []
        if "orphan" in fins:
            for key, ns, name in api.store.dependents(uid):
                dep = api.store.get(key, ns, name)
                if dep is None:
                    continue
                refs = [r for r in dep.obj["metadata"].get("ownerReferences") or []
                        if r.get("uid") != uid]
                dmeta = {**dep.obj["metadata"], "ownerReferences": refs}
                if not refs:
                    dmeta.pop("ownerReferences")
                _write(api, key, ns, name, {**dep.obj, "metadata": dmeta})
            _remove_finalizer(api, rt, obj, "orphan")
        elif "foregroundDeletion" in fins:
            for key, ns, name in api.store.dependents(uid):
                delete_entry(api, key, ns, name, "Foreground")
            if not api.store.dependents(uid):
                cur = api.store.get(rt.key, obj["metadata"].get("namespace", ""),
                                    obj["metadata"]["name"])
                if cur is not None:
                    _remove_finalizer(api, rt, cur.obj, "foregroundDeletion")
    finally:
        busy.discard(uid)


def after_delete(api: Api, rt: ResourceType, obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    uid = meta.get("uid", "")
    for key, ns, name in api.store.dependents(uid):
        dep = api.store.get(key, ns, name)
        if dep is None:
            continue
        refs = dep.obj["metadata"].get("ownerReferences") or []
        alive = [r for r in refs if r.get("uid") != uid and api.store.by_uid(r.get("uid", ""))]
        if alive:
            _write(api, key, ns, name, {**dep.obj, "metadata": {**dep.obj["metadata"],
                                                                 "ownerReferences": alive}})
        else:
            delete_entry(api, key, ns, name, "Background")
    for ref in meta.get("ownerReferences") or []:
        loc = api.store.locate(ref.get("uid", ""))
        owner = api.store.get(*loc) if loc else None
        if loc and owner is not None and owner.obj["metadata"].get("deletionTimestamp"):
            ort = rt_for(api, loc[0])
            if ort is not None:
                process_finalizers(api, ort, owner.obj)
    ns_name = meta.get("namespace")
    if ns_name:
        nse = api.store.get(NS_KEY, "", ns_name)
        if nse is not None and nse.obj["metadata"].get("deletionTimestamp"):
            namespace_cleanup(api, ns_name)
    if rt.key == CRD_KEY:
        remove_crd(api, obj)


def namespace_cleanup(api: Api, ns: str) -> None:
    """Delete a terminating namespace's contents; drop the namespace once it is empty."""
    busy = _busy(api)
    if ("ns:" + ns) in busy:
        return
    busy.add("ns:" + ns)
    try:
        remaining = 0
        for rt in api.registry.all():
            if not rt.namespaced:
                continue
            for _, name, e in list(api.store.iter(rt.key, ns)):
                if not e.obj["metadata"].get("deletionTimestamp"):
                    delete_entry(api, rt.key, ns, name, "Background")
        for key in api.store.namespaced_keys():
            remaining += api.store.count(key, ns) if key != NS_KEY else 0
        if remaining == 0:
            cur = api.store.get(NS_KEY, "", ns)
            if cur is not None:
                ns_rt = rt_for(api, NS_KEY)
                assert ns_rt is not None
                new = {**cur.obj, "spec": {"finalizers": []}}
                api._commit(ns_rt, cur, new, False)
    finally:
        busy.discard("ns:" + ns)


def remove_crd(api: Api, crd: dict[str, Any]) -> None:
    """Stop serving a CRD's resources and delete every object of them."""
    spec = crd.get("spec") or {}
    key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
    for ns, name, e in list(api.store.iter(key, None)):
        final = {**e.obj}
        rv = api.store.next_rv()
        final["metadata"] = {**e.obj["metadata"], "resourceVersion": str(rv)}
        api.store.remove(key, ns, name, final, rv)
    api.store.drop_resource(key)
    api.registry.remove_crd(crd["metadata"]["name"])
    api.schema.unregister_crd(crd["metadata"]["name"])
