"""A work queue of app names: de-duplicated, delayed items, per-app exponential back-off.

client-go's rate-limited work queue in miniature: an app queued twice before
a worker takes it is processed once (flags such as ``hard`` are merged); an
app being processed is not handed to a second worker — if it is queued
meanwhile it comes back once the first worker calls ``done``; ``retry``
re-queues after ``base * 2**failures`` (capped) and ``forget`` resets the
count after a success.
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Item:
    app: str
    hard: bool = False
    reason: str = ""


@dataclass
class WorkQueue:
    name: str = "queue"
    base_delay: float = 0.5
    max_delay: float = 300.0
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _heap: list[tuple[float, int, str]] = field(default_factory=list)
    _pending: dict[str, Item] = field(default_factory=dict)  # queued, not yet taken
    _due: dict[str, float] = field(default_factory=dict)
    _active: set[str] = field(default_factory=set)
    _dirty: dict[str, Item] = field(default_factory=dict)  # queued again while active
    _failures: dict[str, int] = field(default_factory=dict)
    _seq: int = 0
    _closed: bool = False

    def add(self, app: str, *, hard: bool = False, reason: str = "", delay: float = 0.0) -> None:
        """Queue ``app`` (after ``delay`` seconds); merges with an entry already queued."""
        due = time.monotonic() + max(0.0, delay)
        with self._cond:
            if self._closed:
                return
            if app in self._active:
                old = self._dirty.get(app)
                self._dirty[app] = Item(app, hard or bool(old and old.hard), reason or (old.reason if old else ""))
                return
            old = self._pending.get(app)
            item = Item(app, hard or bool(old and old.hard), (old.reason if old and old.reason else reason))
            self._pending[app] = item
            if old is not None and self._due[app] <= due:
                return  # already due earlier
            self._due[app] = due
            self._seq += 1
            heapq.heappush(self._heap, (due, self._seq, app))
            self._cond.notify()

    def get(self, timeout: float | None = None) -> Item | None:
        """The next due item (marked active), or None on timeout/close."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                while self._heap:
                    due, _seq, app = self._heap[0]
                    if app not in self._pending or self._due.get(app) != due:
                        heapq.heappop(self._heap)  # superseded entry
                        continue
                    break
                if self._heap and self._heap[0][0] <= now:
                    _due, _seq, app = heapq.heappop(self._heap)
                    item = self._pending.pop(app)
                    self._due.pop(app, None)
                    self._active.add(app)
                    return item
                wait = self._heap[0][0] - now if self._heap else None
                if end is not None:
                    left = end - now
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)
            return None

    def done(self, item: Item) -> None:
        """The worker finished ``item``; a re-queue that arrived meanwhile is released now."""
        with self._cond:
            self._active.discard(item.app)
            again = self._dirty.pop(item.app, None)
        if again is not None:
            self.add(again.app, hard=again.hard, reason=again.reason)

    def retry(self, item: Item) -> float:
        """Re-queue after the app's next back-off delay; returns the delay."""
        with self._cond:
            n = self._failures.get(item.app, 0)
            self._failures[item.app] = n + 1
        delay = float(min(self.base_delay * (2 ** n), self.max_delay))
        self.add(item.app, hard=item.hard, reason="retry", delay=delay)
        return delay

    def forget(self, app: str) -> None:
        with self._cond:
            self._failures.pop(app, None)

    def failures(self, app: str) -> int:
        with self._cond:
            return self._failures.get(app, 0)

    def __len__(self) -> int:
        with self._cond:
            return len(self._pending)

    def active(self, app: str) -> bool:
        with self._cond:
            return app in self._active or app in self._pending

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
