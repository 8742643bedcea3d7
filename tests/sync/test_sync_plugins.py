"""``syncwright_sync_hook``: the order of events of a hook/wave sync, and a veto before any write."""

from __future__ import annotations

from typing import Any

import pytest

from syncwright.api import OperationVetoed, SyncEvent, hookimpl
from syncwright.plugins import Hooks

pytestmark = pytest.mark.kubesim_only


def test_events_in_order(senv: Any, make: Any) -> None:
    senv.create_ns()
    op = senv.sync([make.job("pre", "PreSync"), make.configmap("a", wave=-1), make.configmap("b", wave=1),
                    make.job("post", "PostSync")])
    assert op.phase == "Succeeded", op.message
    got = [(e.kind, e.phase, e.wave, e.resource.name if e.resource else "", e.status) for e in senv.log.events]
    assert got == [
        ("start", "", None, "", ""),
        ("phase", "PreSync", 0, "", ""), ("wave", "PreSync", 0, "", ""), ("resource", "PreSync", 0, "pre", "Synced"),
        ("phase", "Sync", -1, "", ""), ("wave", "Sync", -1, "", ""), ("resource", "Sync", -1, "a", "Synced"),
        ("wave", "Sync", 1, "", ""), ("resource", "Sync", 1, "b", "Synced"),
        ("phase", "PostSync", 0, "", ""), ("wave", "PostSync", 0, "", ""),
        ("resource", "PostSync", 0, "post", "Synced"),
        ("end", "", None, "", "Succeeded"),
    ]
    assert all(e.operation_id == op.id and e.app == senv.name for e in senv.log.events)


class Veto:
    @hookimpl
    def syncwright_sync_hook(self, event: SyncEvent) -> None:
        if event.kind == "start":
            raise OperationVetoed("change freeze until Monday")


class Broken:
    @hookimpl
    def syncwright_sync_hook(self, event: SyncEvent) -> None:
        if event.kind != "start":
            raise RuntimeError("observer bug")


def test_veto_writes_nothing(senv: Any, make: Any) -> None:
    senv.create_ns()
    senv.recorder.events.clear()
    engine = senv.engine(hooks=Hooks.load(extra_plugins=[Veto(), senv.log]))
    from syncwright.sync import SyncRequest

    op = engine.run([make.configmap("a"), make.job("pre", "PreSync")], SyncRequest(timeout=10))
    assert op.phase == "Failed"
    assert op.message == "operation vetoed by a plugin: change freeze until Monday"
    assert senv.recorder.writes() == []
    assert senv.store.load(senv.name).phase == "Failed"


def test_observer_errors_after_start_do_not_break_the_sync(senv: Any, make: Any) -> None:
    senv.create_ns()
    engine = senv.engine(hooks=Hooks.load(extra_plugins=[Broken()]))
    from syncwright.sync import SyncRequest

    assert engine.run([make.configmap("a")], SyncRequest(timeout=10)).phase == "Succeeded"
