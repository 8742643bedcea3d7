"""In-memory object storage with one cluster-wide, monotonically increasing resourceVersion.

Stored objects are never mutated after they are put: readers share them
freely, and each entry keeps its pre-serialised JSON so GET and LIST answer
without re-encoding. Every write appends an event to a bounded log that
watches replay from; a watch asking for a version older than the log is 410.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import orjson

Key = tuple[str, str]  # (group, plural)


@dataclass(frozen=True, slots=True)
class Entry:
    obj: dict[str, Any]
    raw: bytes


@dataclass(frozen=True, slots=True)
class Event:
    rv: int
    type: str                    # ADDED / MODIFIED / DELETED
    key: Key
    namespace: str
    name: str
    entry: Entry
    old: dict[str, Any] | None


Listener = Callable[[Event], None]


class Store:
    """Objects by (group, plural) -> namespace -> name, plus the event log."""

    def __init__(self, log_size: int = 20000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rv = 1
        self._data: dict[Key, dict[str, dict[str, Entry]]] = {}
        self._uids: dict[str, tuple[Key, str, str]] = {}
        self._owners: dict[str, set[tuple[Key, str, str]]] = {}
        self.log: collections.deque[Event] = collections.deque(maxlen=log_size)
        self.listeners: list[Listener] = []
        self.closed = False

    # --- reads ---------------------------------------------------------------

    def get(self, key: Key, namespace: str, name: str) -> Entry | None:
        ns = self._data.get(key)
        if ns is None:
            return None
        names = ns.get(namespace)
        return None if names is None else names.get(name)

    def iter(self, key: Key, namespace: str | None) -> Iterator[tuple[str, str, Entry]]:
        """Objects sorted by (namespace, name), like etcd's key order."""
        with self.lock:
            nsmap = self._data.get(key) or {}
            if namespace is not None:
                spaces = [namespace] if namespace in nsmap else []
            else:
                spaces = sorted(nsmap)
            snapshot = [(ns, sorted(nsmap[ns].items())) for ns in spaces]
        for ns, items in snapshot:
            for name, entry in items:
                yield ns, name, entry

    def count(self, key: Key, namespace: str | None = None) -> int:
        nsmap = self._data.get(key) or {}
        if namespace is not None:
            return len(nsmap.get(namespace) or {})
        return sum(len(v) for v in nsmap.values())

    def by_uid(self, uid: str) -> Entry | None:
        loc = self._uids.get(uid)
        return None if loc is None else self.get(*loc)

    def locate(self, uid: str) -> tuple[Key, str, str] | None:
        return self._uids.get(uid)

    def dependents(self, owner_uid: str) -> list[tuple[Key, str, str]]:
        return sorted(self._owners.get(owner_uid) or ())

    def namespaced_keys(self) -> list[Key]:
        return list(self._data)

    # --- writes (caller holds self.lock) -------------------------------------

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, key: Key, obj: dict[str, Any], rv: int, *, etype: str | None = None) -> Entry:
        """Store `obj` (already carrying resourceVersion `rv`) and emit an event."""
        meta = obj["metadata"]
        ns = meta.get("namespace") or ""
        name = meta["name"]
        entry = Entry(obj, orjson.dumps(obj))
        names = self._data.setdefault(key, {}).setdefault(ns, {})
        old = names.get(name)
        names[name] = entry
        uid = meta.get("uid")
        loc = (key, ns, name)
        if uid:
            self._uids[uid] = loc
        if old is not None:
            for ref in old.obj["metadata"].get("ownerReferences") or ():
                self._owners.get(ref.get("uid", ""), set()).discard(loc)
        for ref in meta.get("ownerReferences") or ():
            self._owners.setdefault(ref.get("uid", ""), set()).add(loc)
        self._emit(Event(rv, etype or ("MODIFIED" if old else "ADDED"), key, ns, name, entry,
                         old.obj if old else None))
        return entry

    def remove(self, key: Key, namespace: str, name: str, final: dict[str, Any], rv: int) -> None:
        """Delete an object; `final` is its last state with the deletion's resourceVersion."""
        names = self._data.get(key, {}).get(namespace, {})
        old = names.pop(name, None)
        if not names:
            self._data.get(key, {}).pop(namespace, None)
        if old is None:
            return
        uid = old.obj["metadata"].get("uid")
        if uid:
            self._uids.pop(uid, None)
        loc = (key, namespace, name)
        for ref in old.obj["metadata"].get("ownerReferences") or ():
            self._owners.get(ref.get("uid", ""), set()).discard(loc)
        self._emit(Event(rv, "DELETED", key, namespace, name, Entry(final, orjson.dumps(final)),
                         old.obj))

    def drop_resource(self, key: Key) -> None:
        """Forget every object of a resource without events (CRD removal already emitted)."""
        self._data.pop(key, None)

    def _emit(self, ev: Event) -> None:
        self.log.append(ev)
        for fn in self.listeners:
            fn(ev)
        self.changed.notify_all()

    def oldest_rv(self) -> int:
        """The oldest resourceVersion a watch can still resume from."""
        return self.log[0].rv - 1 if self.log else self.rv

    def events_after(self, rv: int) -> list[Event]:
        """Logged events with a resourceVersion greater than `rv` (caller holds lock)."""
        log = self.log
        if not log or log[-1].rv <= rv:
            return []
        # Binary search over the deque (indexable) for the first event after rv.
        lo, hi = 0, len(log)
        while lo < hi:
            mid = (lo + hi) // 2
            if log[mid].rv <= rv:
                lo = mid + 1
            else:
                hi = mid
        return [log[i] for i in range(lo, len(log))]
