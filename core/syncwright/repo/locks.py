"""A per-repository lock that holds across threads and processes.

A thread lock alone would let two ``syncwright`` processes fetch into one
mirror at once; a file lock alone does not exclude threads of one process
(``flock`` is per open file description, and we open one per acquisition, so
it would — but only after a thread switch storm). Both together give "one
fetch per repo at a time, everywhere".
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import RepoError

_GUARD = threading.Lock()
_THREAD_LOCKS: dict[str, threading.Lock] = {}


def _thread_lock(path: Path) -> threading.Lock:
    with _GUARD:
        return _THREAD_LOCKS.setdefault(str(path), threading.Lock())


@contextmanager
def repo_lock(path: Path, *, timeout: float = 600.0, what: str = "repository") -> Iterator[None]:
    """Hold the lock file ``path`` exclusively (thread lock first, then ``flock``)."""
    tlock = _thread_lock(path)
    if not tlock.acquire(timeout=timeout):
        raise RepoError(f"timed out after {timeout:g}s waiting for the lock on {what}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise RepoError(f"timed out after {timeout:g}s waiting for the lock on {what}") from None
                    time.sleep(0.02)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        tlock.release()
