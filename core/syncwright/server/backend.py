"""What the HTTP API needs from whatever runs the apps: a small protocol and its payloads.

The API layer never touches the controller, the cluster cache or the stores
directly; it calls a ``Backend``. The payloads are frozen dataclasses of plain
values (objects stay dicts), so a backend can be a fake in tests, the
standalone :mod:`local_backend`, or an adapter over the controller. Secret
masking is *not* a backend duty: the API masks every object it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import SyncwrightError


class BackendError(SyncwrightError):
    """A request the backend refuses; the subclass picks the HTTP status."""

    status = 500


class NotFound(BackendError):
    status = 404


class Conflict(BackendError):
    """The app is busy (an operation is running) or the state does not allow it."""

    status = 409


class Invalid(BackendError):
    """The request itself is wrong (unknown history id, bad selector, rollback under auto-sync)."""

    status = 400


@dataclass(frozen=True)
class Condition:
    type: str
    message: str
    last_transition: str = ""


@dataclass(frozen=True)
class AppSummary:
    """One row of ``app list`` (Argo CD's columns)."""

    name: str
    project: str
    server: str
    namespace: str
    repo_url: str
    path: str
    target_revision: str
    sync_status: str  # Synced | OutOfSync | Unknown
    health_status: str  # Healthy | Progressing | Degraded | Suspended | Missing | Unknown
    sync_policy: str = "Manual"  # Manual | Automated | Automated (Prune)
    revision: str = ""  # the revision last compared / synced to
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class ResourceStatus:
    group: str
    kind: str
    namespace: str
    name: str
    version: str = ""
    status: str = ""  # Synced | OutOfSync
    health: str = ""
    health_message: str = ""
    hook: str = ""
    wave: int = 0
    requires_pruning: bool = False
    message: str = ""


@dataclass(frozen=True)
class TreeNode:
    """A live object in the app's resource tree; children point at parents by uid (Argo CD's shape)."""

    group: str
    kind: str
    namespace: str
    name: str
    uid: str
    parent_uids: tuple[str, ...] = ()
    health: str = ""
    health_message: str = ""


@dataclass(frozen=True)
class OperationInfo:
    id: str
    kind: str  # sync | rollback
    phase: str  # Running | Terminating | Succeeded | Failed | Error
    message: str = ""
    revision: str = ""
    started_at: str = ""
    finished_at: str = ""
    dry_run: bool = False
    prune: bool = False
    retry_count: int = 0
    resources: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class HistoryItem:
    id: int
    revision: str
    deployed_at: str
    started_at: str = ""
    sources: tuple[dict[str, Any], ...] = ()
    operation_id: str = ""


@dataclass(frozen=True)
class AppDetail:
    """``app get``: the summary plus resources, tree, conditions, operation and history."""

    summary: AppSummary
    health_message: str = ""
    sources: tuple[dict[str, Any], ...] = ()
    resources: tuple[ResourceStatus, ...] = ()
    tree: tuple[TreeNode, ...] = ()
    operation: OperationInfo | None = None
    history: tuple[HistoryItem, ...] = ()
    reconciled_at: str = ""


@dataclass(frozen=True)
class ResourceDiffItem:
    """One resource's comparison: normalized live and predicted-live objects (unmasked is fine here)."""

    group: str
    kind: str
    namespace: str
    name: str
    status: str
    live: dict[str, Any] | None = None
    target: dict[str, Any] | None = None
    requires_pruning: bool = False
    hook: bool = False


@dataclass(frozen=True)
class AppDiff:
    name: str
    sync_status: str
    resources: tuple[ResourceDiffItem, ...] = ()


@dataclass(frozen=True)
class SyncOptions:
    """The body of a sync request (Argo CD's ``app sync`` flags that make sense over the API)."""

    prune: bool = False
    dry_run: bool = False
    revision: str = ""
    resources: tuple[str, ...] = ()  # GROUP:KIND:[NAMESPACE/]NAME
    sync_options: tuple[str, ...] = ()
    timeout: float | None = None


@dataclass(frozen=True)
class PushEvent:
    """A Git push, whichever provider sent it."""

    provider: str  # github | gitlab | gitea | bitbucket | bitbucket-server
    repo_urls: tuple[str, ...]  # every URL form the payload names (https, ssh, git@)
    ref: str  # refs/heads/main, refs/tags/v1
    sha: str = ""
    default_branch: str = ""  # "" when the payload does not say
    changed_files: tuple[str, ...] = field(default=())

    @property
    def is_tag(self) -> bool:
        return self.ref.startswith("refs/tags/")

    @property
    def revision(self) -> str:
        """The branch or tag name."""
        for prefix in ("refs/heads/", "refs/tags/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix):]
        return self.ref

    @property
    def touched_head(self) -> bool:
        """Did the push move the default branch (what ``HEAD`` means)? Unknown → assume yes."""
        if self.is_tag:
            return False
        return not self.default_branch or self.revision == self.default_branch


@runtime_checkable
class Backend(Protocol):
    """The controller as the API sees it. Unknown apps raise ``NotFound``."""

    def ready(self) -> tuple[bool, str]:
        """(ready, reason): readiness for ``/readyz`` (caches synced, state store reachable)."""

    def list_apps(self) -> list[AppSummary]: ...

    def get_app(self, name: str) -> AppDetail | None: ...

    def diff(self, name: str) -> AppDiff: ...

    def manifests(self, name: str, source: str = "git") -> list[dict[str, Any]]:
        """The rendered (``git``) or live (``live``) objects of the app."""

    def sync(self, name: str, options: SyncOptions) -> str:
        """Start a sync; returns the operation id at once (the sync runs on)."""

    def refresh(self, name: str, hard: bool = False) -> None:
        """Re-compare soon; ``hard`` also bypasses the manifest cache."""

    def rollback(self, name: str, history_id: int, *, prune: bool = False, dry_run: bool = False) -> str: ...

    def terminate(self, name: str) -> bool:
        """Ask the running operation to stop; False when none runs."""

    def apps_for_push(self, push: PushEvent) -> list[str]:
        """Names of the apps whose source repo and target revision the push touches."""
