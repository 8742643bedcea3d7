"""Field paths and field sets in the FieldsV1 format of `metadata.managedFields`.

A path is a tuple of FieldsV1 path elements: `f:<field>` (struct field or map key),
`k:{"name":"app"}` (item of a list-type=map list, keys sorted, compact JSON),
`v:<json>` (item of a list-type=set list) and `i:<index>` (other granular lists).
A field set is a `set` of paths; a path in the set is a "member". The rules for
which paths an object contributes follow sigs.k8s.io/structured-merge-diff.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from .schema import TypeNode

Path = tuple[str, ...]
FieldSet = set[Path]
MISSING: Any = object()

# list-map keys that the API server defaults before keying (so `ports` without a protocol
# is keyed with "TCP", as on a real server)
KEY_DEFAULTS = {"protocol": "TCP"}

# fields the server owns itself and never records in managedFields
STRIPPED: frozenset[Path] = frozenset([
    ("f:apiVersion",), ("f:kind",), ("f:metadata",),
    *((("f:metadata", "f:" + f)) for f in (
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
        "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")),
])


def json_copy(v: Any) -> Any:
    """Deep copy of a JSON value (several times faster than copy.deepcopy)."""
    if isinstance(v, dict):
        return {k: json_copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [json_copy(x) for x in v]
    return v


_enc_str = json.encoder.encode_basestring  # C-accelerated, like Go's encoding (no ASCII escaping)


def _compact(v: Any) -> str:
    """Compact JSON with sorted keys (the FieldsV1 `k:`/`v:` form), fast for scalars."""
    if isinstance(v, str):
        return _enc_str(v)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict) and all(isinstance(x, (str, int)) for x in v.values()):
        return "{" + ",".join(f"{_enc_str(k)}:{_compact(v[k])}" for k in sorted(v)) + "}"
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def item_element(item: Any, node: TypeNode, index: int) -> str:
    """The path element naming `item` inside the granular list typed by `node`."""
    if node.list_type == "map" and isinstance(item, dict) and node.map_keys:
        keys = {}
        for k in node.map_keys:
            if k in item:
                keys[k] = item[k]
            elif k in KEY_DEFAULTS:
                keys[k] = KEY_DEFAULTS[k]
        return "k:" + _compact(keys)
    if node.list_type == "set":
        return "v:" + _compact(item)
    return f"i:{index}"


def granular_list(node: TypeNode) -> bool:
    return node.kind == "list" and node.list_type in ("map", "set")


def to_field_set(value: Any, node: TypeNode, path: Path = (), out: FieldSet | None = None
                 ) -> FieldSet:
    """Fields an applied configuration sets (structured-merge-diff ToFieldSet rules)."""
    out = set() if out is None else out
    if isinstance(value, dict) and node.kind in ("struct", "map", "any") and not node.atomic:
        for k, v in value.items():
            p = path + ("f:" + k,)
            to_field_set(v, node.child(k), p, out)
            if v is None or (isinstance(v, dict) and not v) or not node.has_field(k):
                out.add(p)
        return out
    if isinstance(value, list) and granular_list(node):
        item_node = node.item()
        for i, item in enumerate(value):
            p = path + (item_element(item, node, i),)
            to_field_set(item, item_node, p, out)
            out.add(p)
        return out
    if path:
        out.add(path)
    return out


def empty_maps(value: Any, node: TypeNode, path: Path = (), out: FieldSet | None = None
               ) -> FieldSet:
    """Paths of empty map-typed values (which Go's `omitempty` drops on a real server)."""
    out = set() if out is None else out
    if isinstance(value, dict) and node.kind in ("struct", "map", "any") and not node.atomic:
        for k, v in value.items():
            child = node.child(k)
            if v == {} and child.kind == "map":
                out.add(path + ("f:" + k,))
            elif isinstance(v, (dict, list)):
                empty_maps(v, child, path + ("f:" + k,), out)
    elif isinstance(value, list) and granular_list(node):
        item_node = node.item()
        for i, item in enumerate(value):
            empty_maps(item, item_node, path + (item_element(item, node, i),), out)
    return out


def all_paths(value: Any, node: TypeNode, path: Path, out: FieldSet) -> None:
    """Every path inside `value` (used for whole subtrees appearing or disappearing)."""
    if isinstance(value, dict) and node.kind in ("struct", "map", "any") and not node.atomic:
        if path and (node.kind != "struct" or not value):
            out.add(path)
        for k, v in value.items():
            all_paths(v, node.child(k), path + ("f:" + k,), out)
        return
    if isinstance(value, list) and granular_list(node):
        if path and not value:
            out.add(path)
        item_node = node.item()
        for i, item in enumerate(value):
            p = path + (item_element(item, node, i),)
            out.add(p)
            all_paths(item, item_node, p, out)
        return
    if path:
        out.add(path)


def compare(old: Any, new: Any, node: TypeNode, path: Path = (),
            acc: tuple[FieldSet, FieldSet, FieldSet] | None = None
            ) -> tuple[FieldSet, FieldSet, FieldSet]:
    """(added, modified, removed) paths between two values of one type."""
    added, modified, removed = acc if acc is not None else (set(), set(), set())
    if old is MISSING and new is MISSING:
        return added, modified, removed
    if old is MISSING:
        all_paths(new, node, path, added)
        return added, modified, removed
    if new is MISSING:
        all_paths(old, node, path, removed)
        return added, modified, removed
    granular_map = node.kind in ("struct", "map", "any") and not node.atomic
    if isinstance(old, dict) and isinstance(new, dict) and granular_map:
        for k in list(old) + [k for k in new if k not in old]:
            compare(old.get(k, MISSING), new.get(k, MISSING), node.child(k),
                    path + ("f:" + k,), (added, modified, removed))
        return added, modified, removed
    if isinstance(old, list) and isinstance(new, list) and granular_list(node):
        item_node = node.item()
        olds = {item_element(x, node, i): x for i, x in enumerate(old)}
        news = {item_element(x, node, i): x for i, x in enumerate(new)}
        for pe in list(olds) + [pe for pe in news if pe not in olds]:
            p = path + (pe,)
            o, n = olds.get(pe, MISSING), news.get(pe, MISSING)
            if o is MISSING:
                added.add(p)
            elif n is MISSING:
                removed.add(p)
            compare(o, n, item_node, p, (added, modified, removed))
        return added, modified, removed
    if old != new and path:
        modified.add(path)
    return added, modified, removed


def strip(fields: Iterable[Path]) -> FieldSet:
    """Drop the server-owned fields (apiVersion, kind, metadata.name, ...)."""
    return {p for p in fields if p not in STRIPPED and
            not (len(p) > 2 and p[:2] == ("f:metadata", "f:managedFields"))}


def ensure_named(fields: FieldSet) -> FieldSet:
    """`fields` plus every named-field ancestor of its paths (SMD EnsureNamedFieldsAreMembers)."""
    out = set(fields)
    for p in fields:
        for i in range(1, len(p)):
            if p[i - 1].startswith("f:"):
                out.add(p[:i])
    return out


def _rank(element: str) -> tuple[int, str]:
    return ({"f": 0, "k": 1, "v": 2, "i": 3}.get(element[:1], 4), element)


def encode(fields: FieldSet) -> dict[str, Any]:
    """Field set -> FieldsV1 JSON (`{"f:spec": {"f:replicas": {}}}`, `.` marks members
    that also have children), with keys in the server's order."""
    trie: dict[str, Any] = {}
    members: set[Path] = set(fields)
    for p in fields:
        node = trie
        for el in p:
            node = node.setdefault(el, {})

    def render(node: dict[str, Any], prefix: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if node and prefix in members:
            out["."] = {}
        for el in sorted(node, key=_rank):
            out[el] = render(node[el], prefix + (el,))
        return out

    return render(trie, ())


def decode(fields_v1: Any) -> FieldSet:
    """FieldsV1 JSON -> field set; malformed input yields an empty set."""
    out: FieldSet = set()

    def walk(node: Any, prefix: Path) -> None:
        if not isinstance(node, dict):
            return
        if not node and prefix:
            out.add(prefix)
        for el, child in node.items():
            if el == ".":
                if prefix:
                    out.add(prefix)
                continue
            walk(child, prefix + (el,))

    walk(fields_v1, ())
    return out


def _go_value(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v)


def display(path: Path) -> str:
    """A path the way the API server prints it in conflicts: `.spec.containers[name="app"].image`."""
    parts: list[str] = []
    for el in path:
        kind, _, rest = el.partition(":")
        if kind == "f":
            parts.append("." + rest)
        elif kind == "k":
            try:
                keys = json.loads(rest)
            except ValueError:
                keys = {}
            parts.append("[" + ",".join(f"{k}={_go_value(v)}" for k, v in sorted(keys.items()))
                         + "]")
        elif kind == "v":
            parts.append(f"[={rest}]")
        else:
            parts.append(f"[{rest}]")
    return "".join(parts)


def remove_path(obj: Any, path: Path, node: TypeNode) -> None:
    """Delete the field or list item at `path` from `obj` (in place); absent paths are ignored."""
    if not path:
        return
    cur, cur_node = obj, node
    for el in path[:-1]:
        cur, cur_node = _step(cur, cur_node, el)
        if cur is MISSING:
            return
    last = path[-1]
    if last.startswith("f:") and isinstance(cur, dict):
        cur.pop(last[2:], None)
    elif isinstance(cur, list):
        for i, item in enumerate(cur):
            if item_element(item, cur_node, i) == last:
                del cur[i]
                return


def lookup(obj: Any, path: Path, node: TypeNode) -> tuple[Any, TypeNode]:
    """(value, type) at `path`, or (MISSING, last type) when absent."""
    cur, cur_node = obj, node
    for el in path:
        cur, cur_node = _step(cur, cur_node, el)
        if cur is MISSING:
            break
    return cur, cur_node


def _step(cur: Any, node: TypeNode, el: str) -> tuple[Any, TypeNode]:
    if el.startswith("f:"):
        if isinstance(cur, dict) and el[2:] in cur:
            return cur[el[2:]], node.child(el[2:])
        return MISSING, node
    if isinstance(cur, list):
        for i, item in enumerate(cur):
            if item_element(item, node, i) == el:
                return item, node.item()
    return MISSING, node
