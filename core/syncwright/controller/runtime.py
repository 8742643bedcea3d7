"""The controller's settings and per-app runtime state (plain data, shared by the loop and its tests)."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from typing import Any

from . import autosync
from .sources import AppEntry
from .status import Conditions


@dataclass
class Settings:
    resync: float = 180.0  # seconds between periodic refreshes (Argo CD: 120 s + up to 60 s jitter)
    jitter: float = 0.2  # the period is stretched by up to this fraction, at random per app
    status_workers: int = 4
    operation_workers: int = 4
    poll_interval: float = 1.0  # app files and CLI requests
    self_heal_backoff: tuple[float, float, float] = (2.0, 3.0, 300.0)  # duration, factor, cap (Argo CD)
    self_heal_cooldown: float = 330.0  # attempts reset after this long without a self-heal
    self_heal_settle: float = 0.5  # no self-heal this soon after a sync ended (the watch may lag our writes)
    control_namespace: str = ""
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    cache_timeout: float = 60.0


@dataclass
class Rendered:
    manifests: list[dict[str, Any]]
    revisions: list[str]
    local: bool
    warnings: tuple[str, ...] = ()
    cached: bool = False  # every source came from the manifest cache (no tool ran)


#: The repo service's warning when it fell back to a stale resolution because the remote is unreachable.
STALE_WARNING = re.compile(r"; using (revision )?[0-9a-f]{7,}")


@dataclass
class AppRuntime:
    """What the controller knows about one app between refreshes."""

    entry: AppEntry
    conditions: Conditions = field(default_factory=Conditions)
    status: dict[str, Any] = field(default_factory=dict)
    rendered: Rendered | None = None
    cluster: str = ""
    next_refresh: float = 0.0
    heal: autosync.HealState = field(default_factory=autosync.HealState)
    recovered: bool = False  # an operation a dead process left Running was looked for


@dataclass(frozen=True)
class OpRequest:
    kind: str = "sync"  # sync | rollback
    prune: bool = False
    auto: bool = False
    dry_run: bool = False
    history_id: int | None = None
    reason: str = ""
