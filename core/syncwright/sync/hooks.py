"""Resource hooks: turning hook objects into tasks, naming, and delete policies.

gitops-engine's ``pkg/sync/hook``: a hook with several types becomes one task
per phase; a hook with ``metadata.generateName`` gets a fresh name per run
(``<generateName><revision[:7]>-<phase>-<unix start>``); delete policies are
``BeforeHookCreation`` (the default), ``HookSucceeded`` and ``HookFailed``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ..annotations import delete_policies, hook_types, sync_wave
from ..manifests import key_of
from .tasks import PHASES, SyncTask

_BAD = re.compile(r"[^a-z0-9.-]+")


def hook_name(generate_name: str, revision: str, phase: str, started_unix: int) -> str:
    """Argo CD's name for a ``generateName`` hook in one operation."""
    rev = revision[:7].lower()
    middle = f"{rev}-" if rev else ""
    name = f"{generate_name}{middle}{phase.lower()}-{started_unix}"
    return _BAD.sub("-", name.lower())[:253].strip("-.")


def hook_tasks(hook: dict[str, Any], *, revision: str, started_unix: int) -> list[SyncTask]:
    """One task per valid hook phase of ``hook`` (Skip/ignored hooks give none)."""
    out: list[SyncTask] = []
    for phase in hook_types(hook):
        if phase not in PHASES:
            continue
        obj = copy.deepcopy(hook)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = hook_name(str(meta["generateName"]), revision, phase, started_unix)
            del meta["generateName"]
        out.append(SyncTask(phase, sync_wave(obj), key_of(obj), obj, None, hook_type=phase))
    return out


def policies(task: SyncTask) -> list[str]:
    return delete_policies(task.obj)


def delete_before_creation(task: SyncTask) -> bool:
    """Must an existing object of this hook's name be deleted before it runs again?"""
    return task.is_hook and task.live is not None and "BeforeHookCreation" in policies(task)


def delete_after(task: SyncTask, succeeded: bool) -> bool:
    """Delete this hook once it finished (HookSucceeded / HookFailed)?"""
    wanted = "HookSucceeded" if succeeded else "HookFailed"
    return task.is_hook and wanted in policies(task)
