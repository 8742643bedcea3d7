"""The evaluation worker: reused across renders, replaced after a kill, bypassed when busy."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import ToolError
from syncwright_jsonnet.evaluate import EvalConfig, evaluate_files, worker_pid

CM = "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: '%s'}}"
SLOW = "std.foldl(function(acc, i) acc + i, std.range(0, 20000), 0)"


def test_worker_is_reused_and_replaced_after_timeout(tmp_path: Path, write_tree: Any) -> None:
    write_tree(tmp_path, {"a.jsonnet": CM % "a", "loop.jsonnet": "local f(x) = f(x + 1) tailstrict; f(0)"})
    cfg = EvalConfig(root=tmp_path)
    assert evaluate_files(["a.jsonnet"], cfg)
    first = worker_pid()
    assert first is not None
    assert evaluate_files(["a.jsonnet"], cfg)
    assert worker_pid() == first
    with pytest.raises(ToolError, match="loop.jsonnet timed out after 0.3s"):
        evaluate_files(["loop.jsonnet"], EvalConfig(root=tmp_path, timeout=0.3))
    assert worker_pid() is None
    assert evaluate_files(["a.jsonnet"], cfg) and worker_pid() not in (None, first)


def test_errors_keep_the_worker(tmp_path: Path, write_tree: Any) -> None:
    write_tree(tmp_path, {"a.jsonnet": CM % "a", "bad.jsonnet": "error 'nope'"})
    cfg = EvalConfig(root=tmp_path)
    evaluate_files(["a.jsonnet"], cfg)
    pid = worker_pid()
    with pytest.raises(ToolError, match="bad.jsonnet failed: RUNTIME ERROR: nope"):
        evaluate_files(["a.jsonnet", "bad.jsonnet"], cfg)
    assert worker_pid() == pid
    assert len(evaluate_files(["a.jsonnet", "a.jsonnet"], cfg)) == 2


def test_concurrent_renders_do_not_queue(tmp_path: Path, write_tree: Any) -> None:
    write_tree(tmp_path, {f"f{i}.jsonnet": SLOW for i in range(4)})
    cfg = EvalConfig(root=tmp_path)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = evaluate_files([f"f{i}.jsonnet"], cfg)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert all(json.loads(results[i][0]) == sum(range(20001)) for i in range(4))


def test_worker_does_not_keep_inherited_fds(tmp_path: Path, write_tree: Any) -> None:
    """A long-lived worker must not hold the parent's sockets or pipes open."""
    import os
    import select

    write_tree(tmp_path, {"a.jsonnet": "{}"})
    r, w = os.pipe()
    before = worker_pid()
    evaluate_files(["a.jsonnet"], EvalConfig(root=tmp_path, max_memory=123_456_789))  # a new worker
    assert worker_pid() not in (None, before)
    os.close(w)
    ready, _, _ = select.select([r], [], [], 2)
    assert ready and os.read(r, 1) == b""  # EOF: nobody else holds the write end
    os.close(r)
