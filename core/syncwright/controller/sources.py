"""Where the controller's Applications and AppProjects come from.

Local mode reads YAML/JSON files (a file, or every ``*.yaml|yml|json`` in a
directory, recursively) and notices changes by polling file signatures. An
invalid document does not stop anything else: an Application whose name can
be read becomes an entry with an ``error`` (shown as an ``InvalidSpecError``
condition); a document without a usable name is reported as a source error
naming the file and line. In-cluster mode (``crds.py``) builds the same
``Snapshot`` from the custom resources.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SyncwrightError
from ..manifests import load_yaml_documents
from ..model import Application, parse_application
from .projects import AppProject, parse_project

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class AppEntry:
    """One Application as declared: parsed, or the reason it could not be."""

    name: str
    app: Application | None
    digest: str  # of the raw document: a changed digest is a spec change
    source: str  # file:line, or namespace/name for a custom resource
    base_dir: Path | None = None  # relative repoURLs resolve against this
    error: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class Snapshot:
    apps: dict[str, AppEntry] = field(default_factory=dict)
    projects: dict[str, AppProject] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def digest(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def entry_from_doc(doc: dict[str, Any], source: str, base_dir: Path | None) -> AppEntry | None:
    """Parse one Application document; None when it has no usable name."""
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = meta.get("name") if isinstance(meta, dict) else None
    try:
        app = parse_application(doc, source)
    except SyncwrightError as e:
        if not isinstance(name, str) or not name:
            return None
        return AppEntry(name, None, digest(doc), source, base_dir, str(e), doc)
    return AppEntry(app.name, app, digest(doc), source, base_dir, "", doc)


def add_document(snap: Snapshot, doc: Any, source: str, base_dir: Path | None) -> None:
    if not isinstance(doc, dict):
        snap.errors.append(f"{source}: expected a mapping (an Application or AppProject), got {type(doc).__name__}")
        return
    kind = doc.get("kind")
    if kind == "AppProject":
        try:
            project = parse_project(doc, source)
        except SyncwrightError as e:
            snap.errors.append(str(e))
            return
        if project.name in snap.projects:
            snap.errors.append(f"{source}: AppProject {project.name!r} is already defined in "
                               f"{snap.projects[project.name].source}; ignored")
            return
        snap.projects[project.name] = project
        return
    if kind != "Application":
        snap.errors.append(f"{source}: kind {kind!r} is neither Application nor AppProject; ignored")
        return
    entry = entry_from_doc(doc, source, base_dir)
    if entry is None:
        snap.errors.append(f"{source}: an Application without a valid metadata.name; ignored")
        return
    if entry.name in snap.apps:
        snap.errors.append(f"{source}: Application {entry.name!r} is already defined in "
                           f"{snap.apps[entry.name].source}; ignored")
        return
    snap.apps[entry.name] = entry


def _files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in SUFFIXES and f.is_file()
                          and not any(part.startswith(".") for part in f.relative_to(p).parts))
        else:
            out.append(p)
    return out


class FileSource:
    """Applications and AppProjects from files or directories, reloaded when a file changes."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = [Path(p).resolve() for p in paths]
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._snapshot = Snapshot()

    def _sign(self) -> tuple[tuple[str, int, int], ...]:
        sig = []
        for f in _files(self.paths):
            try:
                st = f.stat()
            except OSError:
                continue
            sig.append((str(f), st.st_mtime_ns, st.st_size))
        return tuple(sig)

    def poll(self) -> Snapshot | None:
        """A new snapshot when any file changed since the last call, else None."""
        sig = self._sign()
        if sig == self._signature:
            return None
        self._signature = sig
        self._snapshot = self.load()
        return self._snapshot

    def load(self) -> Snapshot:
        snap = Snapshot()
        for p in self.paths:
            if not p.exists():
                snap.errors.append(f"{p}: no such file or directory")
        for f in _files(self.paths):
            try:
                text = f.read_text(encoding="utf-8")
                for line, doc in load_yaml_documents(text, str(f)):
                    if doc is not None:
                        add_document(snap, doc, f"{f}:{line}", f.parent)
            except (OSError, UnicodeDecodeError) as e:
                snap.errors.append(f"{f}: cannot read: {e}")
            except SyncwrightError as e:
                snap.errors.append(str(e))
        return snap
