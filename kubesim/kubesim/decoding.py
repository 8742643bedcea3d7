"""What a real API server does while decoding a write: type checks and field validation.

`check_fields(obj, gvk, schema, validation)` answers like kube-apiserver for the
`fieldValidation` query parameter (`Strict`, `Warn`, `Ignore`; kubectl sends Strict):
- values of the wrong JSON type are always rejected (400, "cannot be handled as a ..."),
- undeclared fields are rejected under Strict (400, "strict decoding error: unknown
  field ..."), reported as warnings under Warn, and dropped silently under Ignore.
Dropping mirrors decoding into Go structs (built-in kinds) and structural pruning (CRDs).
"""

from __future__ import annotations

from typing import Any

from .schema import GVK, JSON, Schema, TypeNode


class FieldValidationError(Exception):
    """A write the server refuses while decoding: 400 BadRequest (422 Invalid for a custom
    resource that does not match its schema)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = 400
        self.reason = "BadRequest"


_JSON_NAME = {dict: "object", list: "array", str: "string", bool: "bool", int: "number",
              float: "number"}


def _go_type(node: TypeNode) -> str:
    raw = node.raw
    t = raw.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t == "integer":
        return "int64" if raw.get("format") == "int64" else "int32"
    if t == "number":
        return "float64"
    if t == "boolean":
        return "bool"
    if t == "array":
        return "[]" + _go_type(node.item())
    if node.kind == "map":
        return "map[string]" + _go_type(node.child(""))
    if t == "object":
        return "struct"
    return "string"


def _accepts(node: TypeNode, value: Any) -> bool:
    if value is None or node.kind == "any":
        return True
    raw = node.raw
    if node.kind == "scalar":
        if "oneOf" in raw or "anyOf" in raw or raw.get("x-kubernetes-int-or-string") or \
                raw.get("format") == "int-or-string":
            return isinstance(value, (str, int, float)) and not isinstance(value, bool)
        t = raw.get("type")
        if isinstance(t, list):
            t = next((x for x in t if x != "null"), None)
        if t == "string":
            return isinstance(value, str)
        if t == "integer":
            return isinstance(value, int) and not isinstance(value, bool) or \
                (isinstance(value, float) and value.is_integer())
        if t == "number":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if t == "boolean":
            return isinstance(value, bool)
        return True
    if node.kind == "list":
        return isinstance(value, list)
    return isinstance(value, dict)


def _walk(value: Any, node: TypeNode, path: str, struct: str, unknown: list[str],
          bad: list[str], crd: bool, go_path: str = "") -> Any:
    """Check and prune `value`; `go_path` is the path Go's decoder names (no indexes or
    map keys)."""
    if not _accepts(node, value):
        got = _JSON_NAME.get(type(value), "value")
        if crd:  # CRs are validated against their OpenAPI schema, not decoded into structs
            t = node.raw.get("type") or ("object" if node.kind in ("struct", "map") else "string")
            kind = {"bool": "boolean", "number": "integer" if isinstance(value, int) else
                    "number"}.get(got, got)
            bad.append(f'{path}: Invalid value: "{kind}": {path} in body must be of type {t}: '
                       f'"{kind}"')
            return value
        bad.append(f"json: cannot unmarshal {got} into Go struct field {struct}.{go_path} of "
                   f"type {_go_type(node)}")
        return value
    raw = node.raw
    if isinstance(value, dict) and node.kind == "struct":
        props = raw.get("properties") or {}
        keep_all = bool(raw.get("x-kubernetes-preserve-unknown-fields"))
        embedded = bool(raw.get("x-kubernetes-embedded-resource"))
        name = node.name or struct
        out: JSON = {}
        for k, v in value.items():
            sub = f"{path}.{k}" if path else k
            if k in props:
                out[k] = _walk(v, node.child(k), sub, name, unknown, bad, crd,
                               f"{go_path}.{k}" if go_path else k)
            elif keep_all or (embedded and k in ("apiVersion", "kind", "metadata")):
                out[k] = v
            else:
                unknown.append(sub)
        return out
    if isinstance(value, dict) and node.kind == "map":
        return {k: _walk(v, node.child(k), f"{path}.{k}" if path else k, struct, unknown, bad,
                         crd, go_path) for k, v in value.items()}
    if isinstance(value, dict) and crd and node.kind == "any" and raw.get("type") == "object" \
            and not raw.get("x-kubernetes-preserve-unknown-fields") \
            and "additionalProperties" not in raw:
        unknown.extend(f"{path}.{k}" if path else k for k in value)
        return {}
    if isinstance(value, list) and node.kind == "list":
        return [_walk(v, node.item(), f"{path}[{i}]", struct, unknown, bad, crd, go_path)
                for i, v in enumerate(value)]
    return value


def check_fields(obj: JSON, gvk: GVK, schema: Schema,
                 validation: str = "Strict") -> tuple[JSON, list[str]]:
    """(object with undeclared fields dropped, warnings); raises FieldValidationError."""
    root = schema.root(gvk)
    if root is None:
        return obj, []
    unknown: list[str] = []
    bad: list[str] = []
    crd = not schema.is_builtin(gvk)
    pruned = _walk(obj, root, "", gvk.kind, unknown, bad, crd)
    prefix = f'{gvk.kind} in version "{gvk.version}" cannot be handled as a {gvk.kind}: '
    if bad and crd:
        name = (obj.get("metadata") or {}).get("name", "")
        err = FieldValidationError(f'{gvk.kind}.{gvk.group} "{name}" is invalid: '
                                   + ", ".join(bad))
        err.code, err.reason = 422, "Invalid"
        raise err
    if bad:
        raise FieldValidationError(prefix + bad[0])
    if not unknown:
        return pruned, []
    quoted = [f'unknown field "{p}"' for p in unknown]
    mode = (validation or "").lower()
    if mode == "strict":
        raise FieldValidationError(prefix + "strict decoding error: " + ", ".join(quoted))
    if mode == "warn":
        return pruned, quoted
    return pruned, []
