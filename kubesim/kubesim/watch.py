"""Watch streams: replay from a resourceVersion, then follow the event log.

One thread per watch waits on the store's condition variable and writes
newline-delimited JSON events as HTTP chunks. Label/field selectors are
applied to both the old and new object so an object moving out of a
selector is seen as DELETED and one moving in as ADDED, like the real server.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from typing import TYPE_CHECKING, Any, Callable

import orjson

from . import errors, tables
from .registry import ResourceType
from .selectors import Matcher
from .store import Entry, Event

if TYPE_CHECKING:
    from .sim import Simulator

Write = Callable[[bytes], None]


def render_object(rt: ResourceType, entry: Entry) -> bytes:
    """The object's JSON as served at `rt`'s version (CRDs store one version)."""
    if entry.obj.get("apiVersion") == rt.api_version:
        return entry.raw
    return orjson.dumps({**entry.obj, "apiVersion": rt.api_version})


def _line(etype: str, raw: bytes) -> bytes:
    return b'{"type":"' + etype.encode() + b'","object":' + raw + b"}\n"


def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return _line("BOOKMARK", orjson.dumps({"kind": rt.kind, "apiVersion": rt.api_version,
                                           "metadata": meta}))


def _classify(ev: Event, ns: str | None, match: Matcher | None) -> str | None:
    if ns is not None and ev.namespace != ns:
        return None
    if match is None:
        return ev.type
    if ev.type == "DELETED":
        return "DELETED" if match(ev.entry.obj) else None
    now = match(ev.entry.obj)
    before = ev.old is not None and match(ev.old)
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    if before:
        return "DELETED"
    return None


def _client_gone(sock: Any) -> bool:
    """A watching client sends nothing, so a readable socket means it hung up."""
    try:
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return False
        if isinstance(sock, ssl.SSLSocket):
            return True
        return bool(sock.recv(1, socket.MSG_PEEK) == b"")
    except (OSError, ValueError):
        return True


def serve_watch(sim: Simulator, rt: ResourceType, ns: str | None, match: Matcher | None,
                q: dict[str, str], write: Write, sock: Any, as_table: bool = False) -> None:
    """Stream events until timeout, client disconnect, or an injected cut."""
    first = [True]

    def render(rt: ResourceType, entry: Entry) -> bytes:
        if not as_table:
            return render_object(rt, entry)
        out = orjson.dumps(tables.table(rt, [entry.obj], None, headers=first[0]))
        first[0] = False
        return out

    store = sim.store
    rv_param = q.get("resourceVersion", "")
    bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
    send_initial = q.get("sendInitialEvents") == "true"
    timeout = float(q.get("timeoutSeconds") or sim.config.watch_timeout)
    deadline = time.monotonic() + timeout
    cut_gen = sim.faults.state.watch_cut_generation
    pending: list[bytes] = []
    with store.lock:
        if rv_param in ("", "0") or send_initial:
            last = store.rv
            for _, _, e in store.iter(rt.key, ns):
                if match is None or match(e.obj):
                    pending.append(_line("ADDED", render(rt, e)))
            if send_initial and bookmarks:
                pending.append(_bookmark(rt, last, initial_end=True))
        else:
            try:
                last = int(rv_param)
            except ValueError:
                raise errors.bad_request(f'invalid resource version "{rv_param}"') from None
            if last < store.oldest_rv():
                status = errors.gone(last, store.oldest_rv()).status()
                write(_line("ERROR", orjson.dumps(status)))
                return
    if pending:
        write(b"".join(pending))
    next_bookmark = time.monotonic() + sim.config.bookmark_interval
    while True:
        with store.lock:
            evs = store.events_after(last)
            if not evs:
                store.changed.wait(min(1.0, max(0.0, deadline - time.monotonic())))
                evs = store.events_after(last)
            if evs:
                last = evs[-1].rv
        out = []
        for ev in evs:
            if ev.key != rt.key:
                continue
            etype = _classify(ev, ns, match)
            if etype:
                out.append(_line(etype, render(rt, ev.entry)))
        nowm = time.monotonic()
        if bookmarks and nowm >= next_bookmark:
            out.append(_bookmark(rt, last))
            next_bookmark = nowm + sim.config.bookmark_interval
        if out:
            write(b"".join(out))
        if sim.faults.state.watch_cut_generation != cut_gen:
            raise ConnectionAbortedError("watch cut by fault injection")
        if nowm >= deadline or sim.stopping:
            return
        if not evs and _client_gone(sock):
            return
