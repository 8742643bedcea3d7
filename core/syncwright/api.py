"""The public API for plugin authors: the only syncwright module plugins import.

Everything a source-type, health or sync plugin needs is here: the ``hookimpl``
marker, the context objects hooks receive, the frozen result types hooks
return, the error types, ``run`` for subprocesses and the manifest parser.
Names not listed in ``__all__`` are not part of the contract.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from .errors import (
    ManifestError,
    OperationVetoed,
    PathEscapeError,
    RenderError,
    SpecError,
    SyncwrightError,
    ToolError,
    ToolNotFoundError,
)
from .execution import DEFAULT_TIMEOUT, ToolBinary, ToolResult, find_tool, redact, scrubbed_env
from .execution import run as _run
from .manifests import ResourceKey, dump_yaml, key_of, parse_manifests
from .model import (
    DirectoryOptions,
    HelmOptions,
    JsonnetOptions,
    KustomizeOptions,
    PluginOptions,
    Source,
)
from .paths import check_symlinks, resolve_in_root
from .sources import (
    SelectedFile,
    glob_match,
    max_dir_manifests_bytes,
    read_manifest_file,
    read_manifest_files,
    select_files,
)

__all__ = [
    "hookimpl", "PROJECT",
    "RenderContext", "Rendered", "Discovered", "SourceType", "SourceTypes", "ToolParameter",
    "HealthContext", "HealthStatus", "HEALTH_CODES", "SyncEvent",
    "SyncwrightError", "SpecError", "RenderError", "ToolError", "ToolNotFoundError",
    "ManifestError", "PathEscapeError", "OperationVetoed",
    "ToolBinary", "ToolResult", "find_tool", "redact",
    "parse_manifests", "dump_yaml", "key_of", "ResourceKey",
    "resolve_in_root", "check_symlinks", "envsubst", "not_source",
    "SelectedFile", "select_files", "read_manifest_file", "read_manifest_files", "glob_match",
    "max_dir_manifests_bytes",
    "Source", "HelmOptions", "KustomizeOptions", "DirectoryOptions", "JsonnetOptions", "PluginOptions",
    "DISCOVERY_PRIORITY", "DEFAULT_KUBE_VERSION", "DEFAULT_API_VERSIONS",
]

PROJECT = "syncwright"
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Discovery precedence (lower wins), as Argo CD: a matching CMP, then helm,
#: kustomize, jsonnet, and the plain directory as the fallback.
DISCOVERY_PRIORITY: Mapping[str, int] = {
    "cmp": 0, "helm": 100, "kustomize": 200, "jsonnet": 300, "directory": 1000,
}

#: Used when no cluster is known (``render`` alone); documented in the README.
DEFAULT_KUBE_VERSION = os.environ.get("SYNCWRIGHT_KUBE_VERSION", "1.34.0")
DEFAULT_API_VERSIONS: tuple[str, ...] = (
    "v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
    "policy/v1", "autoscaling/v2", "coordination.k8s.io/v1", "apiextensions.k8s.io/v1",
    "storage.k8s.io/v1", "admissionregistration.k8s.io/v1", "scheduling.k8s.io/v1",
)

#: Never part of a source: VCS data, virtualenvs, package and tool caches of a work tree.
_SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache",
                        ".tox", ".nox", ".hypothesis"})


def not_source(directory: str, names: list[str]) -> set[str]:
    """The entries of ``directory`` that are never part of a source (VCS data, virtualenvs, caches).

    Usable as a ``shutil.copytree`` ignore function; every plugin that copies
    or archives a source tree uses it, so all of them see the same tree.
    """
    return {n for n in names if n in _SKIP_DIRS or os.path.isfile(os.path.join(directory, n, "pyvenv.cfg"))}


_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def envsubst(value: str, env: Mapping[str, str]) -> str:
    """Argo CD's ``Env.Envsubst``: ``$VAR``/``${VAR}`` from ``env`` only, ``$$`` → ``$``, unknown → ""."""
    if "$" not in value:
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1) or m.group(2), "")

    return _VAR.sub(sub, value)


@dataclass(frozen=True)
class ToolParameter:
    """A parameter a source type accepts, announced for ``syncwright plugins``."""

    name: str
    description: str = ""
    type: str = "string"


@dataclass(frozen=True)
class SourceType:
    """A tool a plugin provides (the answer of ``syncwright_source_types``)."""

    name: str
    description: str = ""
    tool: ToolBinary | None = None
    tool_version: str | None = None
    discover: str = ""
    parameters: tuple[ToolParameter, ...] = ()


@dataclass(frozen=True)
class SourceTypes:
    """All source types one plugin provides."""

    items: tuple[SourceType, ...]


@dataclass(frozen=True)
class Discovered:
    """A plugin's claim on a source directory: ``tool`` should render it."""

    tool: str
    priority: int
    reason: str = ""


@dataclass(frozen=True)
class Rendered:
    """Manifests rendered by a tool, in the tool's output order."""

    manifests: tuple[dict[str, Any], ...]
    tool: str
    tool_version: str | None = None
    warnings: tuple[str, ...] = ()


HEALTH_CODES = ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")


@dataclass(frozen=True)
class HealthStatus:
    """A resource's health, with Argo CD's status codes."""

    status: str
    message: str = ""


@dataclass(frozen=True)
class HealthContext:
    """What a health check may know besides the object itself."""

    app_name: str | None = None
    children: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class SyncEvent:
    """One moment of a sync operation, for ``syncwright_sync_hook`` observers.

    ``kind`` is one of ``start`` (a plugin may raise OperationVetoed here),
    ``phase``, ``wave``, ``resource``, ``end``.
    """

    kind: str
    app: str
    operation_id: str
    revision: str = ""
    phase: str = ""
    wave: int | None = None
    resource: ResourceKey | None = None
    status: str = ""
    message: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class RenderContext:
    """Everything a source plugin needs to discover or render one source.

    ``source_dir`` is the app path inside ``repo_root``; treat both as read
    only and call ``writable_dir()`` to get a private copy you may change
    (kustomize edits, helm dependency builds). ``run`` is the only way to
    start a tool.
    """

    app_name: str
    app_namespace: str
    source: Source
    source_dir: Path
    repo_root: Path
    project: str = "default"
    revision: str = ""
    tool: str | None = None
    kube_version: str = DEFAULT_KUBE_VERSION
    api_versions: tuple[str, ...] = DEFAULT_API_VERSIONS
    timeout: float = DEFAULT_TIMEOUT
    max_output: int | None = None
    max_manifest_bytes: int = 10 * 1024 * 1024
    secrets: tuple[str, ...] = ()
    private: bool = False
    #: multi-source ``ref`` name → that source's repo root, for ``$name/path`` value files
    refs: Mapping[str, Path] = field(default_factory=dict)
    _scratch: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # -- identity and environment -------------------------------------------------
    @property
    def revision_short(self) -> str:
        return self.revision[:7]

    def build_env(self) -> dict[str, str]:
        """The ``ARGOCD_APP_*`` build environment Argo CD gives tools."""
        return {
            "ARGOCD_APP_NAME": self.app_name,
            "ARGOCD_APP_NAMESPACE": self.app_namespace,
            "ARGOCD_APP_PROJECT_NAME": self.project,
            "ARGOCD_APP_REVISION": self.revision,
            "ARGOCD_APP_REVISION_SHORT": self.revision[:7],
            "ARGOCD_APP_REVISION_SHORT_8": self.revision[:8],
            "ARGOCD_APP_SOURCE_REPO_URL": self.source.repo_url,
            "ARGOCD_APP_SOURCE_PATH": self.source.path,
            "ARGOCD_APP_SOURCE_TARGET_REVISION": self.source.target_revision,
        }

    def envsubst(self, value: str) -> str:
        """Substitute ``$VAR`` from the build environment, as Argo CD does for tool options."""
        return envsubst(value, self.build_env())

    # -- files ----------------------------------------------------------------------
    def resolve(self, path: str, *, what: str = "path", base: Path | None = None) -> Path:
        """A user/repo path resolved inside the repo root (relative to the app dir)."""
        return resolve_in_root(self.repo_root, path, base=base or self.source_dir, what=what)

    def resolve_ref(self, path: str, *, what: str = "value file") -> Path | None:
        """Resolve ``$name/rest`` against the ``ref`` source ``name`` (Argo CD multi-source).

        Returns None when ``path`` does not start with ``$``; raises
        SpecError for an unknown ref and PathEscapeError when the result
        leaves that source's repository root.
        """
        if not path.startswith("$"):
            return None
        name, _, rest = path[1:].partition("/")
        root = self.refs.get(name)
        if root is None:
            known = ", ".join(sorted(self.refs)) or "none"
            raise SpecError(f"{what} {path!r} refers to unknown source ref {name!r} (refs: {known})")
        return resolve_in_root(root, rest, base=root, what=what)

    def writable_dir(self) -> Path:
        """A private, writable copy of the source (made once per render, removed after).

        The whole repo root is copied (without ``.git``) so relative references
        such as ``../base`` keep working; a checkout that is already private is
        returned as is.
        """
        if self.private:
            return self.source_dir
        cached = self._scratch.get("writable")
        if cached is not None:
            return Path(cached)
        tmp = Path(tempfile.mkdtemp(prefix="sw-src-"))
        self._scratch.setdefault("cleanup", []).append(tmp)
        dest_root = tmp / "repo"
        shutil.copytree(self.repo_root, dest_root, symlinks=True, ignore=not_source)
        dest = dest_root / self.source_dir.resolve().relative_to(self.repo_root.resolve())
        self._scratch["writable"] = str(dest)
        self._scratch["writable_root"] = str(dest_root)
        return dest

    def scratch_dir(self) -> Path:
        """An empty private temp dir for tool homes and caches, removed after the render."""
        tmp = Path(tempfile.mkdtemp(prefix="sw-tmp-"))
        self._scratch.setdefault("cleanup", []).append(tmp)
        return tmp

    @property
    def shared(self) -> dict[str, Any]:
        """Storage for one render, shared by the discover and render calls of a source.

        (E.g. a plugin discovers by building an archive and renders with the same one.)
        """
        shared: dict[str, Any] = self._scratch.setdefault("shared", {})
        return shared

    def on_cleanup(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` when the render is over (after success or failure), e.g. to close a file."""
        self._scratch.setdefault("callbacks", []).append(fn)

    def cleanup(self) -> None:
        """Run cleanup callbacks and remove every temp dir this context made (called by the core)."""
        for fn in self._scratch.pop("callbacks", []):
            try:
                fn()
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        for tmp in self._scratch.pop("cleanup", []):
            shutil.rmtree(tmp, ignore_errors=True)
        self._scratch.pop("writable", None)
        self._scratch.pop("shared", None)

    # -- running tools ----------------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        what: str | None = None,
    ) -> ToolResult:
        """Run a tool: argv list, this context's timeout and output cap, scrubbed env.

        The tool's environment is the pass-through set (PATH, HOME, locale,
        proxies) plus the build env plus ``env``; nothing else of syncwright's
        environment leaks into it.
        """
        full_env = scrubbed_env({**self.build_env(), **(env or {})})
        return _run(
            argv,
            cwd=cwd or self.source_dir,
            env=full_env,
            timeout=self.timeout,
            max_output=self.max_output,
            stdin=stdin,
            secrets=self.secrets,
            what=what,
        )

    def parse(self, data: str | bytes, source: str, *, fmt: str = "yaml") -> list[dict[str, Any]]:
        """Parse a tool's output or a repo file into objects (limits applied)."""
        return parse_manifests(data, source, fmt=fmt)
