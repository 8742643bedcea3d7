"""Server-side apply and `metadata.managedFields` bookkeeping.

Follows sigs.k8s.io/structured-merge-diff as kube-apiserver uses it:
- `apply`: merge the applied configuration into the live object by list type
  (atomic lists replaced, `set` lists unioned, `map` lists merged by their keys,
  maps/structs merged unless `x-kubernetes-map-type: atomic`), detect conflicts with
  other managers whose fields would change value, take ownership with `force`, and
  prune fields this manager applied last time, no longer applies, and nobody else owns.
- `record_update`: for create/update/patch writes, give the changed fields to
  (manager, Update) and take them away from every other manager.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import fieldpath as fp
from .fieldpath import MISSING, FieldSet, json_copy
from .schema import GVK, Schema, TypeNode

JSON = dict[str, Any]


class Conflict(Exception):
    """Apply would change fields other managers own; `conflicts` is [(manager, path)]."""

    def __init__(self, conflicts: list[tuple[str, str]], *,
                 described: list[str] | None = None) -> None:
        self.conflicts = conflicts
        self.described = described or [f'"{m}"' for m, _ in conflicts]
        self.message = _conflict_message(conflicts, self.described)
        super().__init__(self.message)

    @property
    def causes(self) -> list[JSON]:
        """`status.details.causes` entries as the real server sends them."""
        return [{"reason": "FieldManagerConflict", "message": f"conflict with {d}", "field": p}
                for (_, p), d in zip(self.conflicts, self.described)]


def _conflict_message(conflicts: list[tuple[str, str]], described: list[str]) -> str:
    if len(conflicts) == 1:
        return f"Apply failed with 1 conflict: conflict with {described[0]}: {conflicts[0][1]}"
    by_manager: dict[str, list[str]] = {}
    for (_, path), d in zip(conflicts, described):
        by_manager.setdefault(d, []).append(path)
    lines: list[str] = []
    for d in sorted(by_manager):
        lines.append(f"conflicts with {d}:")
        lines += [f"- {p}" for p in by_manager[d]]
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


@dataclass
class _Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet = field(default_factory=set)
    changed: bool = False

    @property
    def key(self) -> tuple[str, str, str, str]:
        # Update entries are per apiVersion; Apply entries are not (as on the real server)
        return (self.manager, self.operation, self.subresource,
                self.api_version if self.operation == "Update" else "")

    def describe(self) -> str:
        s = f'"{self.manager}"'
        if self.subresource:
            s += f' with subresource "{self.subresource}"'
        if self.operation == "Update":
            s += f" using {self.api_version}"
        return s


def _read_entries(obj: JSON | None) -> dict[tuple[str, str, str, str], _Entry]:
    out: dict[tuple[str, str, str, str], _Entry] = {}
    for raw in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        if not isinstance(raw, dict) or not raw.get("manager") and not raw.get("fieldsV1"):
            continue
        e = _Entry(str(raw.get("manager", "")), str(raw.get("operation", "Update")),
                   str(raw.get("apiVersion", "")), str(raw.get("subresource", "")),
                   raw.get("time"), fp.decode(raw.get("fieldsV1")))
        prev = out.get(e.key)
        if prev is not None:
            prev.fields |= e.fields
        else:
            out[e.key] = e
    return out


def _write_entries(obj: JSON, entries: dict[tuple[str, str, str, str], _Entry]) -> None:
    rows = []
    for e in entries.values():
        if not e.fields:
            continue
        row: JSON = {"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version}
        if e.time:
            row["time"] = e.time
        row["fieldsType"] = "FieldsV1"
        row["fieldsV1"] = fp.encode(e.fields)
        if e.subresource:
            row["subresource"] = e.subresource
        rows.append(row)
    rows.sort(key=lambda r: (r["operation"], r.get("time") or "", r["manager"], r["apiVersion"],
                             r.get("subresource", "")))
    meta = obj.setdefault("metadata", {})
    if rows:
        meta["managedFields"] = rows
    else:
        meta.pop("managedFields", None)


def _without_managed(obj: JSON | None) -> JSON:
    if not obj:
        return {}
    out = dict(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def _scope_config(applied: JSON, schema: Schema, gvk: GVK, subresource: str) -> JSON:
    """Drop what this endpoint ignores: status on the main resource, all but status on
    /status (for kinds with a status subresource)."""
    cfg = _without_managed(applied)
    if not schema.has_status_subresource(gvk):
        return cfg
    if subresource == "status":
        return {k: v for k, v in cfg.items() if k in ("apiVersion", "kind", "status")} | {
            "metadata": {k: v for k, v in (cfg.get("metadata") or {}).items()
                         if k in ("name", "namespace")}}
    return {k: v for k, v in cfg.items() if k != "status"}


def merge(live: Any, cfg: Any, node: TypeNode) -> Any:
    """Merge an applied configuration value into a live value. Containers the
    configuration touches are copied; untouched subtrees are shared with `live`."""
    if isinstance(cfg, dict) and isinstance(live, dict) and \
            node.kind in ("struct", "map", "any") and not node.atomic:
        out = dict(live)
        for k, v in cfg.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = merge(live.get(k, MISSING), v, node.child(k))
        return out
    if isinstance(cfg, list) and isinstance(live, list) and fp.granular_list(node):
        return _merge_items(live, cfg, node)
    return json_copy(cfg)


def _merge_items(live: list[Any], cfg: list[Any], node: TypeNode) -> list[Any]:
    """Associative/set list merge with structured-merge-diff's ordering: shared items follow
    the applied order, live-only items keep their place, new items go where applied."""
    item_node = node.item()
    lpes = [fp.item_element(x, node, i) for i, x in enumerate(live)]
    rpes = [fp.item_element(x, node, i) for i, x in enumerate(cfg)]
    lmap, rmap = dict(zip(lpes, live)), dict(zip(rpes, cfg))
    shared = [p for p in rpes if p in lmap]
    next_shared = shared[0] if shared else None
    si = 1
    done: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                done.add(pe)
                out.append(merge(lmap[pe], rmap[pe], item_node))
                li, ri = li + 1, ri + 1
                next_shared = shared[si] if si < len(shared) else None
                si += 1
                continue
            if pe in rmap and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in rmap:
                out.append(live[li])
                li += 1
                continue
            if pe in done or ri >= len(rpes):
                li += 1
                continue
        if ri < len(rpes):
            pe = rpes[ri]
            done.add(pe)
            out.append(merge(lmap[pe], rmap[pe], item_node) if pe in lmap
                       else json_copy(rmap[pe]))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared[si] if si < len(shared) else None
                si += 1
    return out


def _is_new_container(obj: JSON, path: fp.Path, root: TypeNode) -> bool:
    """A map/struct that appeared only to hold new children is not itself a changed value
    (structured-merge-diff compares leaves), so it cannot conflict."""
    value, _ = fp.lookup(obj, path, root)
    return isinstance(value, dict) and bool(value) and not path[-1].startswith("k:")


def _drop_emptied(obj: JSON, path: fp.Path, root: TypeNode, builtin: bool) -> None:
    """Remove maps that pruning left empty, as Go's `omitempty` does on a real server
    (always under metadata; everywhere for built-in kinds). Lists stay: some list fields
    are not omitempty (e.g. containers)."""
    while path and (builtin or path[0] == "f:metadata"):
        value, node = fp.lookup(obj, path, root)
        if value is MISSING or value or node.kind not in ("map", "any") or \
                not isinstance(value, dict):
            return
        fp.remove_path(obj, path, root)
        path = path[:-1]


def apply(live: JSON | None, applied: JSON, *, manager: str, force: bool, schema: Schema,
          gvk: GVK, now: str, subresource: str = "") -> JSON:
    """Server-side apply `applied` onto `live` (None for create); returns the new object with
    its managedFields. Raises Conflict unless `force`."""
    node = schema.root(gvk) or schema.any_node
    entries = _read_entries(live)
    base = json_copy(_without_managed(live))
    cfg = _scope_config(applied, schema, gvk, subresource)
    cfg_set = fp.strip(fp.to_field_set(cfg, node))
    api_version = str(applied.get("apiVersion") or gvk.api_version)
    merged = merge(base, cfg, node)
    builtin = schema.is_builtin(gvk)
    if builtin:
        empties = fp.empty_maps(cfg, node)
        if empties:
            merged = json_copy(merged)
            for p in empties:
                _drop_emptied(merged, p, node, builtin)
    me = _Entry(manager, "Apply", api_version, subresource, None)
    previous = entries.pop(me.key, None)
    last_set = previous.fields if previous else set()
    # prune: fields applied last time, not now, and owned by no one else
    if not last_set <= cfg_set:
        owned = set(cfg_set)
        for e in entries.values():
            owned |= e.fields
        owned_named = fp.ensure_named(owned)
        last_named = fp.ensure_named(last_set)
        gone = [p for p in fp.to_field_set(merged, node)
                if p in last_named and p not in owned_named]
        if gone:
            merged = json_copy(merged)  # pruning must not reach subtrees shared with `base`
            for p in sorted(gone, key=len):
                fp.remove_path(merged, p, node)
            for p in gone:
                _drop_emptied(merged, p[:-1], node, builtin)
    added, modified, removed = fp.compare(base, merged, node)
    changed = added | modified
    conflicts: list[tuple[str, str]] = []
    described: list[str] = []
    taken: dict[tuple[str, str, str, str], FieldSet] = {}
    for key, e in sorted(entries.items()):
        hit = {p for p in e.fields & changed if not _is_new_container(merged, p, node)}
        if hit:
            taken[key] = hit
            for p in sorted(hit, key=fp.display):
                conflicts.append((e.manager, fp.display(p)))
                described.append(e.describe())
    if conflicts and not force:
        raise Conflict(conflicts, described=described)
    for key, hit in taken.items():
        entries[key].fields -= hit
    for e in entries.values():
        e.fields -= removed
    object_changed = bool(added or modified or removed)
    me.fields = cfg_set
    same = previous is not None and previous.fields == cfg_set and \
        previous.api_version == api_version
    me.time = previous.time if same and not object_changed and previous else now
    entries[me.key] = me
    result: JSON = merged
    _write_entries(result, entries)
    return result


def record_update(old: JSON | None, new: JSON, *, manager: str, operation: str = "Update",
                  subresource: str = "", schema: Schema, gvk: GVK, now: str) -> JSON:
    """Record a non-apply write (create/update/patch) in `new`'s managedFields; returns a
    shallow copy of `new` with the updated metadata.managedFields."""
    node = schema.root(gvk) or schema.any_node
    old_entries = _read_entries(old)
    sent = ((new.get("metadata") or {}).get("managedFields"))
    old_sent = ((old or {}).get("metadata") or {}).get("managedFields")
    entries = _read_entries(new) if sent and sent != old_sent else old_entries
    added, modified, removed = fp.compare(_without_managed(old), _without_managed(new), node)
    added, modified, removed = fp.strip(added), fp.strip(modified), fp.strip(removed)
    result = dict(new)
    result["metadata"] = dict(new.get("metadata") or {})
    if not (added or modified or removed):
        _write_entries(result, entries)
        return result
    changed = added | modified
    for e in entries.values():
        e.fields -= changed
        e.fields -= removed
    api_version = str(new.get("apiVersion") or gvk.api_version)
    me = _Entry(manager, operation, api_version, subresource, now)
    prev = entries.get(me.key)
    if prev is not None:
        me.fields = prev.fields
    me.fields = (me.fields - removed) | changed
    entries[me.key] = me
    _write_entries(result, entries)
    return result

