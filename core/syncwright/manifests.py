"""Parsing manifest streams safely, and object identity.

Repo content is untrusted, so parsing has limits: a byte cap on the stream,
and a cap on the node count after alias expansion (the "billion laughs" YAML
bomb expands to gigabytes only when something walks it, which we would).
The common case (no anchors in the text) pays nothing for the bomb check.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import ManifestError

try:  # the C loader is 10x faster; fall back for platforms without libyaml
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

MAX_STREAM_BYTES = int(os.environ.get("SYNCWRIGHT_MAX_MANIFEST_BYTES", str(100 * 1024 * 1024)))
#: Nodes a stream may expand to through aliases (anchors reused via ``*name``).
MAX_EXPANDED_NODES = int(os.environ.get("SYNCWRIGHT_MAX_YAML_NODES", "1000000"))


@dataclass(frozen=True, order=True, slots=True)
class ResourceKey:
    """Identity of a Kubernetes object: group, kind, namespace, name."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        gk = f"{self.group}/{self.kind}" if self.group else self.kind
        return f"{gk} {self.namespace}/{self.name}" if self.namespace else f"{gk} {self.name}"


def group_of(api_version: str) -> str:
    """``apps/v1`` → ``apps``; ``v1`` → ``""``."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def key_of(obj: dict[str, Any], default_namespace: str = "") -> ResourceKey:
    meta = obj.get("metadata") or {}
    return ResourceKey(
        group_of(str(obj.get("apiVersion", ""))),
        str(obj.get("kind", "")),
        str(meta.get("namespace") or default_namespace),
        str(meta.get("name") or meta.get("generateName") or ""),
    )


def _check_alias_expansion(text: str, source: str) -> None:
    """Count nodes after alias expansion using parser events; raise above the cap."""
    sizes: dict[str, int] = {}
    stack: list[tuple[int, str | None]] = []  # (count so far, anchor) per open collection
    total = 0

    def add(n: int) -> None:
        nonlocal total
        total += n
        if stack:
            count, anchor = stack[-1]
            stack[-1] = (count + n, anchor)
        if total > MAX_EXPANDED_NODES:
            raise ManifestError(
                f"YAML expands to more than {MAX_EXPANDED_NODES} nodes through aliases "
                "(possible alias bomb; limit SYNCWRIGHT_MAX_YAML_NODES)",
                context=source,
            )

    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                stack.append((1, event.anchor))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                count, anchor = stack.pop()
                if anchor:
                    sizes[anchor] = count
                if stack:
                    c, a = stack[-1]
                    stack[-1] = (c + count, a)
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor:
                    sizes[event.anchor] = 1
                add(1)
            elif isinstance(event, yaml.AliasEvent):
                add(sizes.get(str(event.anchor), 1))
    except yaml.YAMLError:
        return  # the real parse reports the syntax error with its line


def _mark(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)


def load_yaml_documents(text: str, source: str) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, document)`` for each document of a YAML stream, 1-based lines."""
    if "&" in text and "*" in text:
        _check_alias_expansion(text, source)
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else 0
            yield line, loader.construct_document(node)
    except yaml.YAMLError as e:
        raise ManifestError(f"invalid YAML at {_mark(e)}", context=source) from None
    finally:
        loader.dispose()


def parse_manifests(
    data: str | bytes,
    source: str,
    *,
    fmt: str = "yaml",
    max_bytes: int | None = None,
    require_name: bool = True,
) -> list[dict[str, Any]]:
    """Parse a YAML (multi-document) or JSON stream into Kubernetes objects.

    Empty documents are skipped; ``kind: List`` and ``*List`` with ``items``
    are flattened. Each object must be a mapping with ``apiVersion``, ``kind``
    and ``metadata.name`` (or ``metadata.generateName``). ``source`` names the
    file or tool in every error.
    """
    limit = MAX_STREAM_BYTES if max_bytes is None else max_bytes
    if len(data) > limit:
        raise ManifestError(f"manifest stream is {len(data)} bytes, over the {limit}-byte cap", context=source)
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    docs: Iterable[tuple[int, Any]]
    if fmt == "json":
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as e:
            raise ManifestError(f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}", context=source) from None
        docs = [(1, d) for d in parsed] if isinstance(parsed, list) else [(1, parsed)]
    else:
        docs = load_yaml_documents(text, source)
    out: list[dict[str, Any]] = []
    for line, doc in docs:
        if doc is None:
            continue
        _collect(doc, f"{source}:{line}" if line else source, out, require_name)
    return out


def _collect(doc: Any, where: str, out: list[dict[str, Any]], require_name: bool) -> None:
    if not isinstance(doc, dict):
        raise ManifestError(f"document is a {type(doc).__name__}, not a mapping (a Kubernetes object)", context=where)
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        for i, item in enumerate(doc["items"]):
            if item is not None:
                _collect(item, f"{where} items[{i}]", out, require_name)
        return
    validate_object(doc, where, require_name=require_name)
    out.append(doc)


def validate_object(obj: dict[str, Any], where: str, *, require_name: bool = True) -> None:
    """Check the fields every Kubernetes object needs; the error names what is missing."""
    missing = [f for f in ("apiVersion", "kind") if not isinstance(obj.get(f), str) or not obj.get(f)]
    meta = obj.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise ManifestError("metadata is not a mapping", context=where)
    if require_name and not ((meta or {}).get("name") or (meta or {}).get("generateName")):
        missing.append("metadata.name")
    if missing:
        what = f"{obj.get('kind')} " if isinstance(obj.get("kind"), str) else ""
        raise ManifestError(f"{what}object is missing {', '.join(missing)}", context=where)


def check_unique(objs: Iterable[dict[str, Any]], source: str, default_namespace: str = "") -> None:
    """Two objects with the same group/kind/namespace/name are an error (not last-wins)."""
    seen: set[ResourceKey] = set()
    for obj in objs:
        if not (obj.get("metadata") or {}).get("name"):
            continue  # generateName objects get unique names at apply time
        key = key_of(obj, default_namespace)
        if key in seen:
            raise ManifestError(f"duplicate resource {key}: defined more than once", context=source)
        seen.add(key)


def dump_yaml(objs: Iterable[dict[str, Any]]) -> str:
    """Manifests as a YAML stream, fast (C dumper) and with stable key order."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return "".join(
        "---\n" + yaml.dump(o, Dumper=dumper, default_flow_style=False, sort_keys=False) for o in objs
    )
