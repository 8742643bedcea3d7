"""The repository tree as a compressed tar: written in one pass, extracted defensively.

The engine sends a sidecar the whole repository (without ``.git``), as Argo CD
does, so references across the repo (``../../chart``) keep working. The
archive comes from another process and is untrusted on the server side:
every entry is checked before anything is written (no ``..``, no absolute
path, no link leading outside, no device file or FIFO, never writing through
a symlink), and the extracted size and entry count are capped. Any violation
aborts the whole extraction with an error naming the entry.
"""

from __future__ import annotations

import fnmatch
import gzip
import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...

from syncwright.api import PathEscapeError, RenderError, check_symlinks, not_source

#: Defaults, as Argo CD's streamed-tar limits (``--streamed-manifest-max-extracted-size`` 1 GiB).
DEFAULT_MAX_BYTES = int(os.environ.get("SYNCWRIGHT_CMP_MAX_EXTRACTED_BYTES", str(1024 * 1024 * 1024)))
DEFAULT_MAX_FILES = int(os.environ.get("SYNCWRIGHT_CMP_MAX_FILES", "100000"))
COMPRESS_LEVEL = 1  # the socket is local: favour speed over ratio

#: How many times this process has walked a tree into a tar (the benchmark proves one per render).
TAR_PASSES = 0


@dataclass(frozen=True)
class ArchiveStats:
    files: int
    bytes: int


def tar_exclusions() -> tuple[str, ...]:
    """``SYNCWRIGHT_CMP_TAR_EXCLUDE``: ``;``-separated globs of repo paths not sent to sidecars
    (Argo CD's ``ARGOCD_REPO_SERVER_PLUGIN_TAR_EXCLUSIONS``)."""
    return tuple(g for g in os.environ.get("SYNCWRIGHT_CMP_TAR_EXCLUDE", "").split(";") if g)


def write_archive(root: Path, out: IO[bytes], exclude: tuple[str, ...] | None = None) -> ArchiveStats:
    """Write ``root`` (minus every ``.git`` and the excluded globs) to ``out`` as tar.gz, in one walk."""
    global TAR_PASSES
    TAR_PASSES += 1
    exclude = tar_exclusions() if exclude is None else exclude

    def excluded(arc: str) -> bool:
        return any(fnmatch.fnmatchcase(arc, g) for g in exclude)

    files = total = 0
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=COMPRESS_LEVEL, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root)
            skipped = not_source(dirpath, dirnames)  # .git, virtualenvs, caches: as the local copy skips
            dirnames[:] = sorted(
                d for d in dirnames
                if d not in skipped and not excluded(d if rel_dir == "." else f"{rel_dir}/{d}")
            )
            for name in sorted(dirnames):
                full = os.path.join(dirpath, name)
                arc = name if rel_dir == "." else f"{rel_dir}/{name}"
                info = tar.gettarinfo(full, arcname=arc)
                if info.issym():
                    dirnames.remove(name)  # a symlinked dir travels as the link, not its content
                tar.addfile(_anonymous(info))
            for name in sorted(filenames):
                if name == ".git":
                    continue  # a submodule's .git file
                full = os.path.join(dirpath, name)
                arc = name if rel_dir == "." else f"{rel_dir}/{name}"
                if excluded(arc):
                    continue
                info = _anonymous(tar.gettarinfo(full, arcname=arc))
                files += 1
                if info.isreg():
                    total += info.size
                    with open(full, "rb") as fh:
                        tar.addfile(info, fh)
                elif info.issym():
                    tar.addfile(info)
                # sockets, FIFOs and devices in a checkout are not repository content: skipped
    return ArchiveStats(files, total)


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if info.islnk():  # gettarinfo makes hard links of files seen twice; send content instead
        info.type = tarfile.REGTYPE
    return info


def _clean_name(name: str, what: str) -> str:
    """The entry's path, normalised; ``..``, absolute paths and NULs are refused."""
    if "\x00" in name:
        raise PathEscapeError(f"archive {what} {name!r} contains a NUL byte")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise PathEscapeError(f"archive {what} {name!r} is an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PathEscapeError(f"archive {what} {name!r} contains '..' and would leave the extraction dir")
    return "/".join(parts)


class _Extractor:
    def __init__(self, dest: Path, max_bytes: int, max_files: int, preserve_mode: bool) -> None:
        self.dest = dest.resolve()
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.preserve_mode = preserve_mode
        self.real_dirs: set[str] = {str(self.dest)}
        self.files = 0
        self.entries = 0
        self.bytes = 0

    def _parent_ok(self, rel: str, name: str) -> Path:
        """The target path, after checking that no parent component is a symlink or a file."""
        target = self.dest / rel
        parent = target.parent
        key = str(parent)
        if key not in self.real_dirs:  # realpath is costly: each dir is checked once
            if os.path.realpath(parent) != key:
                raise PathEscapeError(f"archive entry {name!r} would be written through a symlinked directory")
            parent.mkdir(parents=True, exist_ok=True)
            if os.path.realpath(parent) != key:
                raise PathEscapeError(f"archive entry {name!r} would be written through a symlinked directory")
            self.real_dirs.add(key)
        if os.path.lexists(target) and (os.path.islink(target) or not os.path.isdir(target)):
            os.unlink(target)  # a later duplicate entry replaces, never writes through, an earlier one
        self.real_dirs.discard(str(target))
        return target

    def _count(self, name: str, size: int) -> None:
        self.entries += 1
        if self.entries > self.max_files:
            raise RenderError(f"archive has more than {self.max_files} entries (file-count cap), at {name!r}")
        self.bytes += size
        if self.bytes > self.max_bytes:
            raise RenderError(f"archive extracts to more than {self.max_bytes} bytes (size cap), at {name!r}")

    def member(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        rel = _clean_name(m.name, "entry")
        if not rel:
            return  # the root itself
        if m.ischr() or m.isblk():
            raise RenderError(f"archive entry {m.name!r} is a device file; refusing to extract it")
        if m.isfifo():
            raise RenderError(f"archive entry {m.name!r} is a FIFO; refusing to extract it")
        if m.isdir():
            self._count(m.name, 0)
            target = self.dest / rel
            if os.path.lexists(target) and not os.path.isdir(target):
                os.unlink(target)
            self._parent_ok(rel, m.name)
            target.mkdir(exist_ok=True)
            os.chmod(target, 0o755)
            return
        if m.issym():
            self._count(m.name, 0)
            link = m.linkname
            if not link or "\x00" in link or link.startswith("/"):
                raise PathEscapeError(f"archive symlink {m.name!r} -> {link!r} is absolute; it would leave the extraction dir")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), link))
            if resolved == ".." or resolved.startswith("../"):
                raise PathEscapeError(f"archive symlink {m.name!r} -> {link!r} leads outside the extraction dir")
            target = self._parent_ok(rel, m.name)
            os.symlink(link, target)
            return
        if m.islnk():
            self._count(m.name, 0)
            source_rel = _clean_name(m.linkname, "hardlink target")
            source = self.dest / source_rel
            if not source_rel or not os.path.lexists(source):
                raise PathEscapeError(f"archive hardlink {m.name!r} -> {m.linkname!r} points to no extracted file")
            if os.path.realpath(source) != str(source) or not stat.S_ISREG(os.lstat(source).st_mode):
                raise PathEscapeError(f"archive hardlink {m.name!r} -> {m.linkname!r} leads outside the extraction dir")
            target = self._parent_ok(rel, m.name)
            os.link(source, target, follow_symlinks=False)
            return
        if not m.isreg():
            raise RenderError(f"archive entry {m.name!r} has an unsupported type ({m.type!r})")
        self._count(m.name, m.size)
        self.files += 1
        target = self._parent_ok(rel, m.name)
        mode = (m.mode & 0o777) | 0o600 if self.preserve_mode else 0o644
        src = tar.extractfile(m)
        assert src is not None
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fd, mode)  # the umask must not change what preserveFileMode promises
            while chunk := src.read(1024 * 1024):
                fh.write(chunk)


def extract_archive(
    stream: Readable,
    dest: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_files: int = DEFAULT_MAX_FILES,
    preserve_mode: bool = False,
) -> ArchiveStats:
    """Extract a tar.gz read from ``stream`` into the existing empty dir ``dest``.

    Without ``preserve_mode`` every file is made ``0644`` (not executable), as
    Argo CD resets modes unless the plugin sets ``preserveFileMode``.
    """
    ex = _Extractor(dest, max_bytes, max_files, preserve_mode)
    try:
        with tarfile.open(fileobj=stream, mode="r|gz") as tar:  # type: ignore[call-overload]
            for m in tar:
                ex.member(tar, m)
    except (tarfile.TarError, EOFError, OSError) as e:
        if isinstance(e, OSError) and not isinstance(e, (EOFError,)) and e.errno is not None:
            raise RenderError(f"cannot extract archive: {e.strerror or e}") from e
        raise RenderError(f"archive is not a valid tar.gz stream: {e}") from e
    check_symlinks(dest)  # belt and braces: chains of in-bounds links that end outside
    return ArchiveStats(ex.files, ex.bytes)
