"""The three PATCH flavours kube-apiserver accepts besides server-side apply.

- RFC 6902 JSON patch (through the `jsonpatch` library),
- RFC 7386 JSON merge patch,
- Kubernetes strategic merge patch (SMP): lists merge by their
  `x-kubernetes-patch-merge-key` where `x-kubernetes-patch-strategy` says "merge",
  with the `$patch`, `$retainKeys`, `$deleteFromPrimitiveList/<f>` and
  `$setElementOrder/<f>` directives, as apimachinery's `strategicpatch` applies them
  on the server (unmatched nulls ignored). SMP is refused for custom resources,
  like a real server does (415).

None of the functions mutates its inputs.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from .schema import GVK, Schema, TypeNode

JSON = dict[str, Any]
DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
SET_ORDER = "$setElementOrder/"


class PatchError(Exception):
    """A patch that cannot be applied; `code` is the HTTP status a real server answers."""

    code = 422
    reason = "Invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedPatch(PatchError):
    """The patch body itself is not a valid patch document (400 BadRequest)."""

    code = 400
    reason = "BadRequest"


class UnsupportedPatchType(PatchError):
    """Strategic merge patch sent for a custom resource (415 UnsupportedMediaType)."""

    code = 415
    reason = "UnsupportedMediaType"


def apply_json_patch(obj: JSON, ops: Any) -> JSON:
    """Apply an RFC 6902 operation list to a copy of `obj`."""
    if not isinstance(ops, list):
        raise MalformedPatch("json patch must be a list of operations, got "
                             f"{type(ops).__name__}")
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise MalformedPatch(f"json patch operation {i} must be an object with 'op' and "
                                 "'path'")
    try:
        result = jsonpatch.JsonPatch(ops).apply(obj, in_place=False)
    except jsonpatch.JsonPatchTestFailed as e:
        raise PatchError(f"the server rejected our request due to an error in our request: "
                         f"json patch test operation failed: {e}") from e
    except jsonpatch.InvalidJsonPatch as e:
        raise MalformedPatch(f"invalid json patch: {e}") from e
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
        raise PatchError(f"the server rejected our request due to an error in our request: "
                         f"{e}") from e
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise PatchError(f"json patch cannot be applied: {e!r}") from e
    if not isinstance(result, dict):
        raise PatchError("json patch result is not an object")
    return result


def apply_merge_patch(obj: JSON, patch: Any) -> JSON:
    """Apply an RFC 7386 merge patch to a copy of `obj`."""
    if not isinstance(patch, dict):
        raise MalformedPatch("merge patch must be a JSON object, got "
                             f"{type(patch).__name__}")
    result: JSON = _merge_patch(obj, patch)
    return result


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge_patch(out.get(k), v)
    return out


def apply_strategic_merge_patch(obj: JSON, patch: Any, schema: Schema, gvk: GVK) -> JSON:
    """Apply a Kubernetes strategic merge patch to a copy of `obj`, using the type of `gvk`."""
    if not schema.is_builtin(gvk):
        raise UnsupportedPatchType(
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, "
            "application/apply-patch+yaml")
    if not isinstance(patch, dict):
        raise MalformedPatch("strategic merge patch must be a JSON object, got "
                             f"{type(patch).__name__}")
    root = schema.root(gvk) or schema.any_node
    return _merge_map(copy.deepcopy(obj), patch, root, "")


def _clean(value: Any) -> Any:
    """A patch value inserted where nothing existed: drop directives and nulls."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()
                if v is not None and not k.startswith("$")}
    if isinstance(value, list):
        return [_clean(v) for v in value
                if not (isinstance(v, dict) and v.get(DIRECTIVE) in ("delete", "replace"))]
    return copy.deepcopy(value)


def _merge_map(original: JSON, patch: JSON, node: TypeNode, path: str) -> JSON:
    """Merge `patch` into `original` (owned, mutated) and return the result."""
    directive = patch.get(DIRECTIVE)
    if directive is not None:
        if directive == "replace":
            replaced: JSON = _clean(patch)
            return replaced
        if directive == "delete":
            return {}
        if directive != "merge":
            raise PatchError(f"unknown patch type: {directive!r} in map at {path or '.'}")
    retain = patch.get(RETAIN_KEYS)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError(f"$retainKeys at {path or '.'} must be a list")
        extra = [k for k in patch if not k.startswith("$") and k not in retain]
        if extra:
            raise PatchError(f"$retainKeys at {path or '.'} does not list the patched keys "
                             f"{sorted(extra)}")
        original = {k: v for k, v in original.items() if k in retain}
    orders: dict[str, Any] = {}
    before = {k[len(SET_ORDER):]: original.get(k[len(SET_ORDER):]) for k in patch
              if k.startswith(SET_ORDER)}
    for key, value in patch.items():
        if key in (DIRECTIVE, RETAIN_KEYS):
            continue
        if key.startswith(SET_ORDER):
            orders[key[len(SET_ORDER):]] = value
            continue
        if key.startswith(DELETE_PRIMITIVE):
            field = key[len(DELETE_PRIMITIVE):]
            if not isinstance(value, list):
                raise PatchError(f"{key} at {path or '.'} must be a list")
            current = original.get(field)
            if isinstance(current, list):
                original[field] = [x for x in current if x not in value]
            continue
        if key.startswith("$"):
            raise PatchError(f"unknown patch directive {key!r} at {path or '.'}")
        sub = f"{path}.{key}"
        if value is None or (isinstance(value, dict) and value.get(DIRECTIVE) == "delete"):
            original.pop(key, None)
            continue
        child = node.child(key)
        current = original.get(key)
        if key not in original or current is None:
            empty: Any = {} if isinstance(value, dict) else [] if isinstance(value, list) else None
            if empty is None:
                original[key] = copy.deepcopy(value)
            elif isinstance(value, dict):
                original[key] = _merge_map({}, value, child, sub)
            else:
                original[key] = _merge_list([], value, child, sub)
            continue
        if isinstance(value, dict) and isinstance(current, dict):
            original[key] = _merge_map(current, value, child, sub)
        elif isinstance(value, list) and isinstance(current, list):
            original[key] = _merge_list(current, value, child, sub)
        else:
            original[key] = _clean(value)
    for field, order in orders.items():
        if isinstance(original.get(field), list):
            server = before.get(field)
            original[field] = _reorder(original[field], order, node.child(field),
                                       server if isinstance(server, list) else [],
                                       f"{path}.{field}")
    return original


def _merge_list(original: list[Any], patch: list[Any], node: TypeNode, path: str) -> list[Any]:
    if "merge" not in node.patch_strategies:
        return list(_clean(patch))
    key = node.merge_key
    if not key:  # primitive list with merge strategy (e.g. finalizers): set union
        out = list(original)
        for item in patch:
            if isinstance(item, dict):
                if item.get(DIRECTIVE) == "replace":
                    return [x for x in _clean(patch)]
                raise PatchError(f"{path}: list of primitives cannot take object {item!r}")
            if item not in out:
                out.append(copy.deepcopy(item))
        return out
    if any(isinstance(p, dict) and p.get(DIRECTIVE) == "replace" for p in patch):
        return list(_clean(patch))
    out = list(original)
    item_node = node.item()
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"{path}: expected an object with merge key {key!r}, got {item!r}")
        if key not in item:
            raise PatchError(f"{path}: map {item!r} does not contain declared merge key: {key}")
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) ==
                    item[key]), None)
        directive = item.get(DIRECTIVE)
        if directive == "delete":
            out = [o for o in out if not (isinstance(o, dict) and o.get(key) == item[key])]
            continue
        if directive not in (None, "merge"):
            raise PatchError(f"{path}: unknown patch type {directive!r}")
        sub = f"{path}[{key}={item[key]}]"
        if idx is None:
            out.append(_merge_map({}, item, item_node, sub))
        else:
            out[idx] = _merge_map(copy.deepcopy(out[idx]), item, item_node, sub)
    return out


def _reorder(items: list[Any], order: Any, node: TypeNode, server: list[Any],
             path: str) -> list[Any]:
    """`$setElementOrder` as apimachinery applies it: listed items in the given order,
    server-only items in their live order, interleaved by their live positions."""
    if not isinstance(order, list):
        raise PatchError(f"$setElementOrder for {path} must be a list")
    key = node.merge_key

    def ident(x: Any) -> str:
        if key and isinstance(x, dict):
            return "k" + repr(x.get(key))
        return "v" + repr(x)

    rank = {ident(o): i for i, o in enumerate(order)}
    srank: dict[str, int] = {}
    for i, x in enumerate(server):
        srank.setdefault(ident(x), i)
    patched = sorted((x for x in items if ident(x) in rank), key=lambda x: rank[ident(x)])
    server_only = sorted((x for x in items if ident(x) not in rank),
                         key=lambda x: srank.get(ident(x), len(srank)))
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patched):
        if i >= len(server_only):
            out.append(patched[j])
            j += 1
        elif j >= len(patched):
            out.append(server_only[i])
            i += 1
        else:
            left, right = srank.get(ident(server_only[i])), srank.get(ident(patched[j]))
            if left is not None and right is not None and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patched[j])
                j += 1
    return out
