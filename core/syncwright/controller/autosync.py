"""Argo CD's auto-sync rules (``controller/appcontroller.go`` ``autoSync``, ``docs/user-guide/auto_sync.md``).

- Only an app with ``syncPolicy.automated`` (not ``enabled: false``) that is
  ``OutOfSync`` is synced.
- One attempt per (revision, parameters): the last operation is compared by
  its revision and pinned sources. A *failed* attempt is never repeated
  automatically; the engine already retried it within the operation when
  ``syncPolicy.retry`` asks for it, so "unless retry" is honoured there. An
  operation that was *interrupted* (the controller died) does not count as an
  attempt, so the app converges after a restart.
- A *successful* attempt is repeated only with ``selfHeal`` — that is drift.
  Self-heal attempts back off as Argo CD's do: immediately, then 2 s, 6 s,
  18 s, ... capped at 300 s; the count resets when the revision changes or
  after ``self_heal_cooldown`` (330 s) without a self-heal. No self-heal
  starts within ``self_heal_settle`` (0.5 s) of the end of the last sync:
  the watch may not have delivered the sync's own writes yet.
- ``allowEmpty: false`` (the default) refuses to sync a render with zero
  resources ("auto-sync will wipe out all resources").
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Any

from ..model import Application
from ..sync.operation import OperationState

INTERRUPTED = "operation interrupted"


@dataclass
class HealState:
    attempts: int = 0
    last: float = 0.0
    revision: str = ""

    def attempted(self, at: float) -> None:
        self.attempts += 1
        self.last = at


@dataclass(frozen=True)
class Decision:
    sync: bool = False
    prune: bool = False
    self_heal: bool = False
    condition: str = ""  # a SyncError message to show, if any
    retry_in: float | None = None  # refresh again after this long (self-heal back-off)
    reason: str = ""


def _age(stamp: str) -> float:
    """Seconds since an operation timestamp (``...Z``); large when unknown."""
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return 1e9
    return (datetime.now(timezone.utc) - when).total_seconds()


def params_digest(sources: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> str:
    return hashlib.sha256(json.dumps(list(sources), sort_keys=True, default=str).encode()).hexdigest()


def heal_delay(attempts: int, backoff: tuple[float, float, float]) -> float:
    """Wait before self-heal attempt number ``attempts + 1`` (the first is immediate)."""
    if attempts <= 0:
        return 0.0
    duration, factor, cap = backoff
    return float(min(duration * factor ** (attempts - 1), cap))


def decide(app: Application, sync_status: str, n_targets: int, revisions: list[str],
           pinned: list[dict[str, Any]], last: OperationState | None, heal: HealState, settings: Any,
           at: float | None = None) -> Decision:
    """Whether to start an automatic sync now, and what to report if not."""
    policy = app.spec.sync_policy
    auto = policy.automated if policy else None
    if auto is None or auto.enabled is False:
        return Decision(reason="manual sync policy")
    if sync_status != "OutOfSync":
        return Decision(reason=f"sync status {sync_status}")
    if last is not None and last.phase in ("Running", "Terminating"):
        return Decision(reason="an operation is in progress")
    revision = ",".join(r for r in revisions if r)
    if n_targets == 0 and not auto.allow_empty:
        return Decision(condition="auto-sync will wipe out all resources: the render has no resources and "
                                  "syncPolicy.automated.allowEmpty is false", reason="empty render")
    now = time.monotonic() if at is None else at
    if heal.revision != revision:
        heal.revision, heal.attempts, heal.last = revision, 0, 0.0
    elif heal.attempts and now - heal.last > settings.self_heal_cooldown:
        heal.attempts = 0
    attempted = (last is not None and last.kind == "sync" and last.revision == revision
                 and params_digest(last.sources) == params_digest(pinned)
                 and not (last.phase == "Error" and last.message.startswith(INTERRUPTED)))
    if not attempted:
        return Decision(sync=True, prune=auto.prune, reason=f"OutOfSync at revision {revision or '(local)'}")
    assert last is not None
    if not last.succeeded:
        short = revision[:12] or "(local)"
        return Decision(condition=f"Failed last sync attempt to {short}: {last.message} (auto-sync does not "
                                  "retry a failed revision; push a new commit or sync by hand)",
                        reason="failed attempt")
    if not auto.self_heal:
        return Decision(reason=f"already synced to {revision or '(local)'}; selfHeal is off")
    wait = heal_delay(heal.attempts, settings.self_heal_backoff) - (now - heal.last)
    settle = getattr(settings, "self_heal_settle", 0.0) - _age(last.finished_at)
    if settle > 0 and at is None:
        # right after a sync the watch may not have delivered our own writes yet: what looks
        # like drift is often lag, and a spurious self-heal would only grow the back-off
        return Decision(retry_in=settle, reason="waiting for the live state to settle after the last sync")
    if wait > 0:
        return Decision(retry_in=wait, reason=f"self-heal back-off ({wait:.1f}s left)")
    return Decision(sync=True, prune=auto.prune, self_heal=True, reason="self-heal")
