"""Private checkouts: a commit exported from a mirror into a fresh temp tree.

``git archive`` plus a careful tar extraction rather than a worktree: the
mirror is never modified by a render, so no lock is needed to read it, and
the extraction enforces the repo-content rules in one place: no member may
leave the tree (absolute paths, ``..``, symlinks pointing outside), and the
total size is bounded (Argo CD: 1 GiB extracted). Submodules are exported
from their own mirrors into their paths, recursively.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import PathEscapeError
from .errors import RepoError, env_int
from .gitmirror import Mirror
from .urls import join, safe

MAX_SUBMODULE_DEPTH = 5


def max_checkout_bytes() -> int:
    return env_int("SYNCWRIGHT_MAX_CHECKOUT_BYTES", 1024**3)


def extract_tar(archive: Path, dest: Path, *, what: str, strip: int = 0, limit: int | None = None) -> None:
    """Extract ``archive`` into ``dest`` refusing traversal and out-of-tree links, within ``limit`` bytes."""
    limit = max_checkout_bytes() if limit is None else limit
    total = 0

    def guard(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        nonlocal total
        if strip:
            parts = member.name.split("/")[strip:]
            if not parts or parts == [""]:
                return None
            member = member.replace(name="/".join(parts), deep=False)
            if member.islnk():
                member = member.replace(linkname="/".join(member.linkname.split("/")[strip:]), deep=False)
        total += max(member.size, 0)
        if total > limit:
            raise RepoError(f"{what} is larger than the checkout limit of {limit} bytes (SYNCWRIGHT_MAX_CHECKOUT_BYTES)")
        try:
            return tarfile.data_filter(member, path)
        except tarfile.LinkOutsideDestinationError:
            raise PathEscapeError(f"out of bounds symlink found: {member.name} points outside the repository") from None
        except tarfile.AbsoluteLinkError:
            raise PathEscapeError(f"out of bounds symlink found: {member.name} is an absolute symlink") from None
        except tarfile.FilterError as e:
            raise PathEscapeError(f"{what}: unsafe archive member {member.name!r} ({type(e).__name__})") from None

    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter=guard)
    except tarfile.TarError as e:
        raise RepoError(f"{what}: cannot unpack archive: {e}") from None


def export_commit(
    mirror: Mirror,
    sha: str,
    dest: Path,
    *,
    mirror_for: Callable[[str], Mirror],
    depth: int = 0,
) -> None:
    """Write the tree of ``sha`` (with submodules) into ``dest`` (created; must not exist)."""
    what = f"repo {safe(mirror.url)} at {sha[:12]}"
    limit = max_checkout_bytes()
    size, links = mirror.tree(sha)
    if size > limit:
        raise RepoError(f"{what} is larger than the checkout limit of {limit} bytes (SYNCWRIGHT_MAX_CHECKOUT_BYTES)")
    dest.mkdir(parents=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix="sw-archive-", suffix=".tar")
    os.close(fd)
    try:
        mirror.archive(sha, Path(tmp))
        extract_tar(Path(tmp), dest, what=what, limit=limit)
    finally:
        os.unlink(tmp)
    if not links:
        return
    if depth >= MAX_SUBMODULE_DEPTH:
        raise RepoError(f"{what}: submodules nested deeper than {MAX_SUBMODULE_DEPTH} levels")
    urls = mirror.submodule_urls(sha)
    for path, sub_sha in links:
        url = urls.get(path)
        if not url:
            raise RepoError(f"{what}: submodule {path!r} has no url in .gitmodules")
        target = (dest / path)
        real = Path(os.path.realpath(target.parent))
        if not real.is_relative_to(dest.resolve()):
            raise PathEscapeError(f"{what}: submodule path {path!r} resolved to outside repository root")
        if target.exists():
            shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
        sub = mirror_for(join(mirror.url, url))
        sub.ensure_commit(sub_sha)
        export_commit(sub, sub_sha, target, mirror_for=mirror_for, depth=depth + 1)
