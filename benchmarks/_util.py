"""Small shared helpers for the benchmark scripts: timing with medians, tables."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any


def median_time(fn: Callable[[], Any], runs: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in seconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run_cmd(argv: Sequence[str], **kw: Any) -> Callable[[], None]:
    """A callable that runs ``argv`` and fails loudly if it fails."""

    def call() -> None:
        res = subprocess.run(list(argv), capture_output=True, **kw)
        if res.returncode != 0:
            raise SystemExit(f"{argv[0]} failed: {res.stderr.decode()[-2000:]}")

    return call


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
