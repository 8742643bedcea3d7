"""Faults and bad input: dry-run rejection, shared resources, API errors, timeouts, termination, crashes."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from syncwright.sync.operation import recover, request_terminate

pytestmark = pytest.mark.kubesim_only


def test_invalid_object_rejected_by_dry_run_nothing_applied(senv: Any, make: Any) -> None:
    senv.create_ns()
    senv.recorder.events.clear()
    bad = make.configmap("bad")
    bad["data"] = {"k": 5}
    typo = make.configmap("typo")
    typo["spec"] = {"x": 1}
    op = senv.sync([make.configmap("good"), bad, typo, make.job("pre", "PreSync")])
    assert op.phase == "Failed"
    assert "nothing was applied" in op.message
    assert f"ConfigMap {senv.ns}/bad" in op.message and f"ConfigMap {senv.ns}/typo" in op.message
    assert 'unknown field "spec"' in op.message
    assert senv.recorder.writes() == []
    failed = {r.name for r in op.resources if r.status == "SyncFailed"}
    assert failed == {"bad", "typo"}


def test_fail_on_shared_resource(senv: Any, make: Any) -> None:
    from syncwright.tracking import Tracking

    senv.create_ns()
    other = Tracking().stamp({**make.configmap("shared"), "metadata": {"name": "shared", "namespace": senv.ns}},
                             "someone-else", senv.ns)
    senv.client.request("POST", f"/api/v1/namespaces/{senv.ns}/configmaps", body=other)
    senv.recorder.events.clear()
    app = senv.app(syncPolicy={"syncOptions": ["FailOnSharedResource=true"]})
    op = senv.sync([make.configmap("shared"), make.configmap("mine")], app=app)
    assert op.phase == "Failed"
    assert op.message == f"ConfigMap {senv.ns}/shared is part of applications {senv.name} and someone-else"
    assert senv.recorder.writes() == []
    # without the option the sync takes the object over (Argo CD only warns)
    assert senv.sync([make.configmap("shared")]).phase == "Succeeded"


def test_api_errors_for_a_while_then_retry_succeeds(fresh_senv: Any, make: Any) -> None:
    senv = fresh_senv
    senv.create_ns()
    sim = senv.cluster.sim
    sim.faults.set(error_rates={500: 1.0})
    threading.Timer(1.0, lambda: sim.faults.set(error_rates={500: 0.0})).start()
    app = senv.app(syncPolicy={"retry": {"limit": 10, "backoff": {"duration": "200ms", "factor": 2,
                                                                   "maxDuration": "1s"}}})
    op = senv.sync([make.configmap("a"), make.deployment("d")], app=app)
    assert op.phase == "Succeeded", op.message
    assert op.retry_count >= 1


def test_api_errors_without_retry_fail_clearly(fresh_senv: Any, make: Any) -> None:
    senv = fresh_senv
    senv.create_ns()
    senv.cluster.sim.faults.set(error_rates={500: 1.0})
    try:
        app = senv.app(syncPolicy={"retry": {"limit": 2, "backoff": {"duration": "100ms"}}})
        op = senv.sync([make.configmap("a")], app=app)
    finally:
        senv.cluster.sim.faults.set(error_rates={500: 0.0})
    assert op.phase == "Failed"
    assert op.retry_count == 2
    assert "Internal error occurred" in op.message


def test_wave_that_never_gets_healthy_times_out(senv: Any, make: Any) -> None:
    senv.create_ns()
    slow = make.job("slow", duration="60s", wave=1)
    t0 = time.monotonic()
    op = senv.sync([make.configmap("first"), slow, make.configmap("after", wave=2)], timeout=1.5)
    assert time.monotonic() - t0 < 10
    assert op.phase == "Failed"
    assert "timed out after 1.5s waiting for 1 resource(s) to become healthy" in op.message
    assert f"batch/Job {senv.ns}/slow (Progressing" in op.message
    assert senv.get(f"/api/v1/namespaces/{senv.ns}/configmaps/after") is None


def test_terminate_a_running_operation(senv: Any, make: Any) -> None:
    senv.create_ns()
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(
        op=senv.sync([make.job("long", "PreSync", duration="30s"), make.configmap("cfg")], timeout=60)))
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        current = senv.store.load(senv.name)
        if current is not None and current.resources:
            break
        time.sleep(0.05)
    assert request_terminate(senv.store, senv.name) is not None
    thread.join(10)
    op = result["op"]
    assert op.phase == "Failed" and op.message == "operation terminated"
    assert senv.get(f"/api/v1/namespaces/{senv.ns}/configmaps/cfg") is None


def test_interrupted_operation_is_marked_error_and_next_sync_converges(senv: Any, make: Any) -> None:
    from syncwright.sync import OperationState

    senv.create_ns()
    dead = OperationState(senv.name, pid=2**22 + 12345)  # no such process
    senv.store.save(dead)
    op = senv.sync([make.configmap("a")])
    assert op.phase == "Succeeded"
    history = senv.store.history(senv.name)
    assert history and history[-1].operation_id == op.id
    dead.id = "other"
    senv.store.save(dead)
    marked = recover(senv.store, senv.name)
    assert marked is not None and marked.phase == "Error" and "interrupted" in marked.message


def test_unknown_kind_and_missing_namespace_fail_the_dry_run_clearly(senv: Any, make: Any) -> None:
    senv.create_ns()
    widget = {"apiVersion": "nowhere.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    op = senv.sync([make.configmap("a"), widget])
    assert op.phase == "Failed"
    assert f"nowhere.example.com/Widget {senv.ns}/w: the server does not serve nowhere.example.com/v1 Widget" \
        in op.message
    elsewhere = make.configmap("b")
    elsewhere["metadata"]["namespace"] = f"{senv.ns}-missing"
    op = senv.sync([elsewhere])
    assert op.phase == "Failed" and "not found" in op.message and f"{senv.ns}-missing" in op.message
