"""System-wide settings in Argo CD's ``argocd-cm`` shape, read from a file.

One file (``SYNCWRIGHT_SETTINGS``; the health layer also reads
``SYNCWRIGHT_HEALTH_SETTINGS``) holds the keys Argo CD users already have:
an ``argocd-cm`` ConfigMap manifest, or a plain mapping of its ``data``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import SpecError
from .manifests import load_yaml_documents

ENV = "SYNCWRIGHT_SETTINGS"


def read_settings(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """The ``data`` mapping of an argocd-cm file.

    A multi-document file may hold several objects; the ConfigMap named
    ``argocd-cm`` is used, or the only ConfigMap.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read settings file: {e}", context=source) from e
    docs = [doc for _, doc in load_yaml_documents(text, source) if doc is not None]
    if not docs:
        return {}
    maps = [d for d in docs if isinstance(d, Mapping)]
    if len(maps) != len(docs):
        raise SpecError("expected a ConfigMap or a mapping of argocd-cm keys", context=source)
    cms = [d for d in maps if d.get("kind") == "ConfigMap"]
    if cms:
        named = [d for d in cms if (d.get("metadata") or {}).get("name") == "argocd-cm"]
        if len(named) != 1 and len(cms) != 1:
            raise SpecError("several ConfigMaps and none (or several) named argocd-cm", context=source)
        data = (named or cms)[0].get("data") or {}
    elif len(maps) == 1:
        data = maps[0]
    else:
        raise SpecError("several documents but no ConfigMap", context=source)
    if not isinstance(data, Mapping):
        raise SpecError("ConfigMap data is not a mapping", context=source)
    return data


def from_env() -> tuple[Mapping[str, Any], str] | None:
    """The settings named by ``SYNCWRIGHT_SETTINGS`` and their source, or None when unset."""
    path = os.environ.get(ENV)
    return (read_settings(path), path) if path else None
