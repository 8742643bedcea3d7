"""The on-disk manifest cache and the persisted tool versions that are part of its key.

An entry is one rendered source: a JSON file named by the SHA-256 of its key
(so no URL, path or credential appears in a file name). Entries carry a
digest of their payload and are written atomically (temp file, fsync,
rename), so a crash mid-write leaves at most a stray temp file that is never
read, and a damaged entry is a miss, removed on sight. Size is bounded; the
least recently used entries (mtime, touched on each hit) go first.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import env_int
from .helmrepo import _atomic_write

FORMAT = 1


def cache_key(fields: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of every key field."""
    blob = json.dumps({"format": FORMAT, **fields}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class CachedRender:
    manifests: tuple[dict[str, Any], ...]
    tool: str
    tool_version: str | None
    warnings: tuple[str, ...]


class ManifestCache:
    """Rendered manifests by key, under ``<cache>/manifests``, at most ``max_bytes`` in total."""

    def __init__(self, root: Path, *, max_bytes: int | None = None) -> None:
        self.dir = root / "manifests"
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_bytes = max_bytes if max_bytes is not None else env_int(
            "SYNCWRIGHT_MANIFEST_CACHE_MAX_BYTES", 512 * 1024**2)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedRender | None:
        path = self._path(key)
        try:
            raw = path.read_bytes()
            doc = json.loads(raw)
            payload = doc["payload"]
            ok = doc.get("key") == key and hashlib.sha256(
                json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest() == doc.get("digest")
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            # A corrupt or foreign entry is never served; drop it.
            try:
                path.unlink()
            except OSError:
                pass
            self.misses += 1
            return None
        try:
            os.utime(path)  # LRU: a hit makes the entry young again
        except OSError:
            pass
        self.hits += 1
        return CachedRender(tuple(payload["manifests"]), payload["tool"], payload.get("tool_version"),
                            tuple(payload.get("warnings", ())))

    def put(self, key: str, render: CachedRender, *, meta: Mapping[str, Any] | None = None) -> None:
        payload = {"manifests": list(render.manifests), "tool": render.tool,
                   "tool_version": render.tool_version, "warnings": list(render.warnings)}
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        doc = {"key": key, "digest": digest, "created": time.time(), "meta": dict(meta or {}), "payload": payload}
        data = json.dumps(doc, separators=(",", ":")).encode()
        if len(data) > self.max_bytes:
            return  # larger than the whole cache: not worth keeping
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        _atomic_write(path, data)
        self.evict()

    def entries(self) -> list[tuple[Path, int, float]]:
        out = []
        for path in self.dir.glob("*/*.json"):
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((path, st.st_size, st.st_mtime))
        return out

    def evict(self) -> int:
        """Remove least recently used entries until the total is under the bound; returns how many."""
        with self._lock:
            entries = self.entries()
            total = sum(size for _, size, _ in entries)
            if total <= self.max_bytes:
                return 0
            removed = 0
            target = self.max_bytes * 0.9
            for path, size, _ in sorted(entries, key=lambda e: e[2]):
                if total <= target:
                    break
                try:
                    path.unlink()
                except OSError:
                    continue
                total -= size
                removed += 1
            return removed

    def stats(self) -> dict[str, int]:
        entries = self.entries()
        return {"entries": len(entries), "bytes": sum(s for _, s, _ in entries), "max_bytes": self.max_bytes}

    def clear(self) -> int:
        n = 0
        for path, _, _ in self.entries():
            try:
                path.unlink()
                n += 1
            except OSError:
                pass
        for tmp in self.dir.glob("*/.*.tmp"):
            tmp.unlink(missing_ok=True)
        return n


class ToolVersions:
    """Tool binary versions for the cache key, without running any tool on a warm start.

    ``Hooks.source_types(versions=False)`` is cheap (plugins only locate their
    binaries); ``versions=True`` may run each tool's ``version`` command. The
    versions are persisted keyed by the loaded plugins (name, distribution,
    version) and, per tool, by the binary the plugin reports (real path, mtime,
    size). A later call only locates and stats the binaries; a replaced or
    re-pointed binary re-asks the plugins, so a stale version is never used.
    """

    def __init__(self, root: Path) -> None:
        self.path = root / "tool-versions.json"
        self._lock = threading.Lock()

    def get(self, hooks: Any) -> list[list[str | None]]:
        """``[[source type, tool version], ...]`` for every source type of the loaded plugins."""
        pkey = json.dumps([[p.name, p.distribution, p.version] for p in hooks.plugins()])
        stamps = [[st.name, _stamp(st.tool.path, st.tool.name) if st.tool else None]
                  for st in hooks.source_types(versions=False)]
        with self._lock:
            data = self._load()
            known = data.get(pkey)
            if isinstance(known, dict) and known.get("stamps") == stamps:
                return [list(v) for v in known["versions"]]
            versions: list[list[str | None]] = [[st.name, st.tool_version] for st in hooks.source_types(versions=True)]
            data[pkey] = {"stamps": stamps, "versions": versions}
            if len(data) > 50:
                data = dict(list(data.items())[-50:])
            try:
                _atomic_write(self.path, json.dumps(data).encode())
            except OSError:
                pass
            return versions

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}


def _stamp(path: str | None, name: str) -> str:
    """Identity of an installed binary: real path, mtime, size (``missing:NAME`` when absent)."""
    try:
        st = os.stat(path) if path else None
    except OSError:
        st = None
    if st is None or path is None:
        return f"missing:{name}"
    return f"{os.path.realpath(path)}|{st.st_mtime_ns}|{st.st_size}"
