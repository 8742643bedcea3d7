"""``FileStore.save`` never loses a termination request to the engine's ``Running`` progress writes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from syncwright.sync.operation import FileStore, OperationState, request_terminate


def test_running_progress_does_not_overwrite_terminating(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    op = OperationState("app", kind="sync", phase="Running")
    store.save(op)
    assert request_terminate(store, "app") is not None
    op.message = "wave 2"
    store.save(op)  # the engine's next progress write
    stored = store.load("app")
    assert stored is not None and stored.phase == "Terminating" and stored.message == "wave 2"
    assert op.phase == "Terminating"  # the engine sees the request on its own object too
    op.phase, op.message = "Failed", "terminated"
    store.save(op)  # a final phase is written as is
    assert store.load("app").phase == "Failed"  # type: ignore[union-attr]
    other = OperationState("app", kind="sync", phase="Running")
    store.save(other)
    request_terminate(store, "app")
    store.save(OperationState("app", kind="sync", phase="Running"))  # a new operation (new id) is not affected
    assert store.load("app").phase == "Running"  # type: ignore[union-attr]


def _hammer(root: str, op_id: str, n: int) -> None:
    store = FileStore(Path(root))
    op = OperationState("app", kind="sync", phase="Running", id=op_id)
    for i in range(n):
        op.phase, op.message = "Running", f"step {i}"
        store.save(op)


def test_terminate_survives_concurrent_progress_writes(tmp_path: Path) -> None:
    """Each store is its own open file (as separate processes are), so the flock really serializes them."""
    store = FileStore(tmp_path)
    op = OperationState("app", kind="sync", phase="Running")
    store.save(op)
    writers = [threading.Thread(target=_hammer, args=(str(tmp_path), op.id, 400)) for _ in range(2)]
    for w in writers:
        w.start()
    end = time.monotonic() + 30
    while store.load("app").message == "" and time.monotonic() < end:  # type: ignore[union-attr]
        time.sleep(0.001)
    assert request_terminate(store, "app") is not None
    for w in writers:
        w.join(60)
    final = store.load("app")
    assert final is not None and final.phase == "Terminating" and final.message == "step 399"
