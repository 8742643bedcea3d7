"""Adapters between the controller's knowledge and the sync engine and project checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from ..cluster.discovery import APIResource


@dataclass(frozen=True)
class _OneNamespace(APIResource):
    """A namespaced kind listed in one namespace only (see ``ScopedDiscovery``)."""

    only_namespace: str = ""

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
        return super().path(namespace or self.only_namespace, name, subresource)


class ScopedDiscovery:
    """Discovery that lists only what an operation touches (an adapter for ``SyncEngine``).

    The engine lists the live state before it plans. The controller already
    knows from its watched cache which kinds — and in which namespaces — hold
    the app's targets and the objects tracked to it, so listing only those
    kinds, and a kind found in one namespace only in that namespace, gives the
    engine the same objects for a fraction of the API traffic. Everything
    else is the real discovery.
    """

    def __init__(self, inner: Any, objects: list[dict[str, Any]]) -> None:
        self._inner = inner
        self._namespaces: dict[tuple[str, str], set[str]] = {}
        for o in objects:
            gk = (str(o.get("apiVersion", "")).rpartition("/")[0], str(o.get("kind", "")))
            self._namespaces.setdefault(gk, set()).add(str((o.get("metadata") or {}).get("namespace") or ""))

    def resources(self) -> list[Any]:
        out: list[Any] = []
        for r in self._inner.resources():
            namespaces = self._namespaces.get((r.group, r.kind))
            if namespaces is None:
                continue
            if r.namespaced and len(namespaces) == 1 and "" not in namespaces:
                out.append(_OneNamespace(**{f.name: getattr(r, f.name) for f in fields(r)},
                                         only_namespace=next(iter(namespaces))))
            else:
                out.append(r)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def namespaced_of(discovery: Any) -> Callable[[dict[str, Any]], bool]:
    def namespaced(obj: dict[str, Any]) -> bool:
        res = discovery.for_object(obj)
        return bool(res.namespaced) if res is not None else bool((obj.get("metadata") or {}).get("namespace"))
    return namespaced
