"""Checks on the kustomization tree before kustomize runs.

Two things kustomize does not do for us:

* its parse errors do not name the file (``invalid Kustomization: yaml: line
  3: ...``), so every local kustomization reachable from the app is parsed
  here first and a YAML error names the file and line;
* its load restrictor covers files only, and only relative to each
  kustomization's own root (off entirely with ``--load-restrictor
  LoadRestrictionsNone``): a ``resources:`` entry naming a *directory* may
  point anywhere on the machine. Argo CD relies on the repo server's
  sandboxing for that; syncwright refuses every local reference (directory or
  file) that resolves outside the repository root, before kustomize runs.

The check runs on the checkout, not on the private copy, so a path means the
same thing whether or not options were applied. Files outside a
kustomization's root but inside the repo are left to kustomize's own
restrictor, whose message is passed on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from syncwright.api import PathEscapeError

from .edits import find_kustomization, load_kustomization

MAX_KUSTOMIZATIONS = 2000


def is_remote(entry: str) -> bool:
    """Kustomize's remote targets: URLs, ``git@``/``ssh`` and ``github.com/...`` shorthands."""
    return (
        "://" in entry
        or entry.startswith(("git@", "github.com/", "gitlab.com/", "bitbucket.org/"))
        or "?ref=" in entry
        or "?version=" in entry
    )


def check_tree(start: Path, root: Path) -> int:
    """Parse every local kustomization reachable from ``start``; keep references inside ``root``.

    Returns the number of kustomizations checked. Raises RenderError (bad
    YAML, with file and line) or PathEscapeError (a reference leaving ``root``).
    """
    root = root.resolve()
    seen: set[Path] = set()
    todo = [start.resolve()]
    while todo and len(seen) < MAX_KUSTOMIZATIONS:
        kdir = todo.pop()
        if kdir in seen:
            continue
        seen.add(kdir)
        kfile = find_kustomization(kdir)
        if kfile is None:
            continue
        shown = _rel(kfile, root)
        doc = load_kustomization(kfile, shown)
        for fld, entry in _references(doc):
            target = Path(os.path.realpath(kdir / entry))
            if not (target == root or target.is_relative_to(root)):
                kind = "a directory" if target.is_dir() else "a path"
                raise PathEscapeError(f"{shown}: {fld} entry {entry!r} is {kind} outside the repository root")
            if fld in _DIRECTORY_FIELDS and target.is_dir():
                todo.append(target)
    return len(seen)


_DIRECTORY_FIELDS = ("resources", "bases", "components")
_LIST_FIELDS = (*_DIRECTORY_FIELDS, "patchesStrategicMerge", "crds", "configurations", "generators",
                "transformers", "validators")
_PATH_LIST_FIELDS = ("patches", "patchesJson6902", "replacements")


def _references(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, local path) for every file or directory a kustomization refers to."""
    for fld in _LIST_FIELDS:
        for entry in _as_list(doc.get(fld)):
            if isinstance(entry, str):
                yield fld, entry
    for fld in _PATH_LIST_FIELDS:
        for entry in _as_list(doc.get(fld)):
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                yield fld, entry["path"]
    for fld in ("configMapGenerator", "secretGenerator"):
        for gen in _as_list(doc.get(fld)):
            if not isinstance(gen, dict):
                continue
            for item in _as_list(gen.get("files")):
                if isinstance(item, str):
                    yield fld, item.split("=", 1)[-1]
            envs = [*_as_list(gen.get("envs")), gen.get("env")]
            for item in envs:
                if isinstance(item, str) and item:
                    yield fld, item
    openapi = doc.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        yield "openapi", openapi["path"]


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return []
    # inline YAML (patches, generator configs) and remote targets are not paths
    return [v for v in value if not (isinstance(v, str) and ("\n" in v or not v or is_remote(v)))]


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)

