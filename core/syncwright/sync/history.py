"""Deployment history and rollback (Argo CD's ``RevisionHistory`` and ``app rollback``).

Every successful full sync appends an entry — id, revision, times, and the
sources pinned to the revisions they were rendered from — bounded by
``revisionHistoryLimit`` (default 10). A rollback re-syncs an entry's
sources; as in Argo CD it is refused while automated sync is on, because
the next auto-sync would undo it. Sources that have no revision (a local
directory) cannot be re-rendered as they were, so their entries carry the
applied manifests and a rollback re-applies those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import SpecError
from ..model import Application, parse_application
from .operation import HistoryEntry, OperationStore


def automated(app: Application) -> bool:
    policy = app.spec.sync_policy
    return bool(policy and policy.automated is not None and policy.automated.enabled is not False)


def pinned_sources(app: Application, revisions: Sequence[str]) -> list[dict[str, Any]]:
    """The app's sources as camelCase dicts, each ``targetRevision`` replaced by what was rendered."""
    out = []
    for i, source in enumerate(app.spec.effective_sources()):
        data = source.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
        rev = revisions[i] if i < len(revisions) else ""
        if rev:
            data["targetRevision"] = rev
        out.append(data)
    return out


def find_entry(store: OperationStore, app: Application, entry_id: int) -> HistoryEntry:
    entries = store.history(app.name)
    for entry in entries:
        if entry.id == entry_id:
            return entry
    known = ", ".join(str(e.id) for e in entries) or "none"
    raise SpecError(f"no history entry with id {entry_id} (known ids: {known})", context=f"app {app.name!r}")


def rollback_app(app: Application, entry: HistoryEntry) -> Application:
    """``app`` with its sources replaced by the entry's pinned ones; refused when auto-sync is on."""
    if automated(app):
        raise SpecError("rollback cannot be initiated when auto-sync is enabled (disable syncPolicy.automated)",
                        context=f"app {app.name!r}")
    if not entry.sources:
        return app
    doc = app.model_dump(by_alias=True, exclude_none=True)
    spec = doc["spec"]
    if spec.get("sources"):
        spec["sources"] = list(entry.sources)
    else:
        spec["source"] = dict(entry.sources[0])
    return parse_application(doc, f"history entry {entry.id} of app {app.name!r}")
