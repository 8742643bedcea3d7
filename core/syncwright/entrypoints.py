"""Installed entry points, remembered between runs.

``importlib.metadata`` costs ~20 ms to import and scan on every CLI start —
a fifth of syncwright's whole budget over the raw tool. The answer only
changes when packages are installed or removed, which changes the
modification time of a ``sys.path`` directory; so the table of every
``syncwright*`` entry-point group is kept in the cache directory, keyed by
those directories and their mtimes, and ``importlib.metadata`` is consulted
only when the key differs.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

from .paths import cache_root

GROUPS = ("syncwright", "syncwright.commands")


@dataclass(frozen=True)
class EntryPoint:
    """An entry point: ``name = "module:attr"`` from distribution ``dist`` at ``version``."""

    name: str
    value: str
    group: str
    dist: str | None = None
    version: str | None = None

    def load(self) -> Any:
        module, _, attr = self.value.partition(":")
        obj: Any = importlib.import_module(module.strip())
        for part in filter(None, attr.strip().split(".")):
            obj = getattr(obj, part)
        return obj


def _key() -> list[list[Any]]:
    out: list[list[Any]] = []
    for p in sys.path:
        try:
            out.append([p, os.stat(p or ".").st_mtime_ns])
        except OSError:
            out.append([p, None])
    return out


def _scan() -> dict[str, list[dict[str, Any]]]:
    from importlib import metadata

    table: dict[str, list[dict[str, Any]]] = {}
    for group in GROUPS:
        table[group] = [
            {"name": ep.name, "value": ep.value, "dist": ep.dist.name if ep.dist else None,
             "version": ep.dist.version if ep.dist else None}
            for ep in metadata.entry_points(group=group)
        ]
    return table


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group`` (one of GROUPS), from the cache when still valid."""
    path = cache_root() / "entry-points.json"
    key = _key()
    table: dict[str, list[dict[str, Any]]] | None = None
    try:
        cached = json.loads(path.read_text())
        if cached.get("key") == key and cached.get("python") == sys.executable:
            table = cached["groups"]
    except (OSError, ValueError, KeyError, AttributeError):
        table = None
    if table is None:
        table = _scan()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"key": key, "python": sys.executable, "groups": table}))
            os.replace(tmp, path)
        except OSError:
            pass
    return [EntryPoint(e["name"], e["value"], group, e.get("dist"), e.get("version")) for e in table.get(group, [])]
