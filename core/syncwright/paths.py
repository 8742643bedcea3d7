"""Keeping repo content inside the repo root.

Argo CD has had several advisories here (CVE-2022-24348, CVE-2022-24904,
CVE-2022-31036): value files, symlinks and app paths that reach outside the
repository. Every path that comes from an Application or from repo content
goes through ``resolve_in_root``; every checkout is walked by
``check_symlinks`` before a tool runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import PathEscapeError

MAX_SYMLINK_DEPTH = 10


def resolve_in_root(
    root: Path, path: str, *, base: Path | None = None, what: str = "path", allow_root: bool = False
) -> Path:
    """Resolve ``path`` (relative to ``base``, absolute = relative to ``root``) inside ``root``.

    Symlinks are followed; the result must lie under ``root`` and must not be
    ``root`` itself. The error names ``what`` and the user's path but never the
    resolved location on this machine.
    """
    root = root.resolve()
    if "\x00" in path:
        raise PathEscapeError(f"{what} {path!r} contains a NUL byte")
    if os.path.isabs(path):
        candidate = root / path.lstrip("/")
    else:
        candidate = (base or root) / path
    resolved = Path(os.path.realpath(candidate))
    if (resolved == root and not allow_root) or not resolved.is_relative_to(root):
        raise PathEscapeError(f"{what} {path!r} resolved to outside repository root")
    return resolved


def check_symlinks(base: Path, *, root: Path | None = None) -> None:
    """Reject absolute symlinks and symlinks leading outside ``root`` anywhere under ``base``.

    Matches Argo CD's ``CheckOutOfBoundsSymlinks``: the message names the link
    relative to ``base``.
    """
    base = base.resolve()
    root = (root or base).resolve()
    for dirpath, dirnames, filenames in os.walk(base):
        if ".git" in dirnames:
            dirnames.remove(".git")
        for name in (*dirnames, *filenames):
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                continue
            rel = os.path.relpath(full, base)
            target = os.readlink(full)
            if os.path.isabs(target):
                raise PathEscapeError(f"out of bounds symlink found: {rel} is an absolute symlink")
            real = Path(os.path.realpath(full))
            if not real.is_relative_to(root):
                raise PathEscapeError(f"out of bounds symlink found: {rel} points outside the repository")


def find_repo_root(path: Path) -> Path:
    """The enclosing Git work tree of ``path`` (without importing git), else ``path``."""
    path = path.resolve()
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return path


def cache_root() -> Path:
    """syncwright's cache directory: ``$SYNCWRIGHT_CACHE``, default ``~/.cache/syncwright``."""
    return Path(os.environ.get("SYNCWRIGHT_CACHE") or Path.home() / ".cache" / "syncwright")
