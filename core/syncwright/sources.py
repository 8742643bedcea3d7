"""Selecting and parsing the manifest files of a directory-type source.

One implementation shared by the ``directory`` and ``jsonnet`` plugins, because
Argo CD's Directory source type covers both: it walks the app path
(``reposerver/repository/repository.go`` ``getPotentiallyValidManifests``),
keeps files matching ``^.*\\.(yaml|yml|json|jsonnet)$`` (unless
``disableExtensionFilter``), applies ``include``/``exclude`` globs to the path
relative to the app dir (exclude wins), checks that symlinked files resolve
inside the repo root and are regular files ("illegal filepath in symlink"),
and caps the combined size of the non-jsonnet files
(``--max-combined-directory-manifests-size``, 10 MB).

Where syncwright is stricter than Argo CD (documented in the directory
plugin's README): a malformed glob is a SpecError instead of "matches
nothing", every escaping symlink met during the walk is an error (not only
the selected ones; a dangling or non-regular target only when selected),
and files that belong to other tools are skipped (``kustomization.yaml|yml``,
``Kustomization``, ``Chart.yaml`` and ``values*.yaml|yml|json`` next to a
``Chart.yaml``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ManifestError, PathEscapeError, SpecError
from .manifests import parse_manifests
from .model import DirectoryOptions

#: Argo CD's ``manifestFile`` regex (``repository.go``).
MANIFEST_FILE = re.compile(r"^.*\.(yaml|yml|json|jsonnet)$")
JSONNET_SUFFIX = ".jsonnet"
#: Files that another tool owns; never parsed as plain manifests.
OTHER_TOOL_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization", "Chart.yaml"})
_HELM_VALUES = re.compile(r"^values.*\.(yaml|yml|json)$")
DEFAULT_MAX_DIR_MANIFESTS_BYTES = 10 * 1024 * 1024


def max_dir_manifests_bytes() -> int:
    """The combined-size cap of non-jsonnet files (env ``SYNCWRIGHT_MAX_DIR_MANIFESTS_BYTES``)."""
    raw = os.environ.get("SYNCWRIGHT_MAX_DIR_MANIFESTS_BYTES", "")
    try:
        return int(raw) if raw else DEFAULT_MAX_DIR_MANIFESTS_BYTES
    except ValueError:
        raise SpecError(f"SYNCWRIGHT_MAX_DIR_MANIFESTS_BYTES={raw!r} is not an integer") from None


@dataclass(frozen=True)
class SelectedFile:
    """One file chosen from a directory source.

    ``path`` is where the walk met it (inside the app dir), ``real`` the file
    it resolves to (inside the repo root), ``rel`` its path relative to the
    repo root (used in every message), ``app_rel`` relative to the app dir
    (what the globs match).
    """

    path: Path
    real: Path
    rel: str
    app_rel: str
    size: int

    @property
    def is_jsonnet(self) -> bool:
        return self.path.name.endswith(JSONNET_SUFFIX)

    @property
    def fmt(self) -> str:
        return "json" if self.path.name.endswith(".json") else "yaml"


# --- globs ---------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Translate a gobwas/glob pattern (as Argo CD's ``glob.Match``, no separators) to a regex.

    ``*`` and ``**`` match any run of characters including ``/``, ``?`` one
    character, ``[abc]``/``[a-z]``/``[!abc]`` a class, ``{a,b}`` alternatives
    (nestable), ``\\x`` a literal ``x``. A malformed pattern is a SpecError.
    """
    out: list[str] = []
    depth = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 1
            if i >= n:
                raise SpecError(f"glob {pattern!r}: trailing backslash")
            out.append(re.escape(pattern[i]))
        elif c == "*":
            while i + 1 < n and pattern[i + 1] == "*":
                i += 1
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] == "!" else i + 1)
            if end < 0:
                raise SpecError(f"glob {pattern!r}: unclosed '['")
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            if not body:
                raise SpecError(f"glob {pattern!r}: empty character class")
            escaped = "".join("\\" + ch if ch in "\\]^[" else ch for ch in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
            i = end
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "," and depth:
            out.append("|")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise SpecError(f"glob {pattern!r}: unclosed '{{'")
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as e:
        raise SpecError(f"glob {pattern!r}: {e}") from None


def glob_match(pattern: str, text: str) -> bool:
    """Argo CD's ``glob.Match(pattern, text)``: the whole of ``text`` must match."""
    return compile_glob(pattern).fullmatch(text) is not None


# --- the walk ------------------------------------------------------------------------------


def _owned_by_other_tool(name: str, dir_has_chart: bool) -> bool:
    if name in OTHER_TOOL_FILES:
        return True
    return dir_has_chart and _HELM_VALUES.match(name) is not None


def select_files(
    source_dir: Path,
    repo_root: Path,
    options: DirectoryOptions | None = None,
    *,
    max_bytes: int | None = None,
) -> list[SelectedFile]:
    """The files of a directory source, in Argo CD's walk order (sorted, depth-first).

    Raises PathEscapeError for a symlink leading outside ``repo_root`` (or
    to something that is not a regular file or directory), SpecError for a
    malformed glob, ManifestError when the non-jsonnet files together exceed
    ``max_bytes`` (default ``max_dir_manifests_bytes()``).
    """
    opts = options or DirectoryOptions()
    root = repo_root.resolve()
    app = source_dir.resolve()
    cap = max_dir_manifests_bytes() if max_bytes is None else max_bytes
    include = compile_glob(opts.include) if opts.include else None
    exclude = compile_glob(opts.exclude) if opts.exclude else None
    selected: list[SelectedFile] = []
    total = 0

    root_prefix = str(root).rstrip(os.sep) + os.sep
    app_prefix = str(app).rstrip(os.sep) + os.sep

    def walk(directory: str) -> None:
        # Plain strings, not Path objects: pathlib costs more than the stat calls here.
        nonlocal total
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as e:
            where = directory[len(root_prefix):] if directory.startswith(root_prefix) else "."
            raise ManifestError(f"cannot list directory: {e.strerror}", context=where or ".") from None
        has_chart = any(e.name == "Chart.yaml" for e in entries)
        for entry in entries:
            full = entry.path
            rel = full[len(root_prefix):]
            problem = ""  # what is wrong with a symlink's target, reported only if the file is selected
            size = 0
            real: str | None = None
            if entry.is_symlink():
                real = os.path.realpath(full)
                if not (real + os.sep).startswith(root_prefix):
                    raise PathEscapeError(f"illegal filepath in symlink: {rel} points outside the repository root")
                try:
                    st = os.stat(real)
                except OSError:
                    problem = "is a dangling link"
                else:
                    if stat.S_ISDIR(st.st_mode):
                        continue  # like Go's filepath.Walk, symlinked directories are not followed
                    if not stat.S_ISREG(st.st_mode):
                        problem = "is not a regular file"
                    size = st.st_size
            elif entry.is_dir():
                if entry.name == ".git" or not opts.recurse:
                    continue
                walk(full)
                continue
            else:
                st = entry.stat()
                if not stat.S_ISREG(st.st_mode):
                    continue  # sockets, fifos, devices: never manifests
                size = st.st_size
            name = entry.name
            if name.endswith(".libsonnet"):
                continue  # jsonnet libraries are imported, never evaluated on their own
            if not opts.disable_extension_filter and not MANIFEST_FILE.match(name):
                continue
            if _owned_by_other_tool(name, has_chart):
                continue
            app_rel = full[len(app_prefix):]
            if exclude is not None and exclude.fullmatch(app_rel):
                continue
            if include is not None and not include.fullmatch(app_rel):
                continue
            if problem:
                raise PathEscapeError(f"illegal filepath in symlink: {rel} {problem}")
            path = Path(full)
            f = SelectedFile(path, Path(real) if real is not None else path, rel, app_rel, size)
            if not f.is_jsonnet:
                total += f.size
                if total > cap:
                    raise ManifestError(
                        f"the manifest files of this directory exceed the combined size cap of {cap} bytes "
                        f"(reached at {rel}; limit SYNCWRIGHT_MAX_DIR_MANIFESTS_BYTES)"
                    )
            selected.append(f)

    walk(str(app))
    return selected


# --- parsing -------------------------------------------------------------------------------


def read_manifest_file(f: SelectedFile) -> list[dict[str, Any]]:
    """Parse one YAML (multi-document) or JSON file; errors name its repo-relative path."""
    try:
        data = f.real.read_bytes()
    except OSError as e:
        raise ManifestError(f"cannot read file: {e.strerror}", context=f.rel) from None
    return parse_manifests(data, f.rel, fmt=f.fmt)


def read_manifest_files(files: Iterable[SelectedFile]) -> list[dict[str, Any]]:
    """All objects of the non-jsonnet ``files``, in order (Lists flattened, empty docs skipped)."""
    out: list[dict[str, Any]] = []
    for f in files:
        if not f.is_jsonnet:
            out.extend(read_manifest_file(f))
    return out
