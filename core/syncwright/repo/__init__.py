"""Remote sources: Git mirrors, Helm repositories, revision resolution, manifest cache.

The layer between an Application's ``repoURL``/``targetRevision`` and the
local directory tree ``syncwright.render`` works on. Importing this package is
cheap on purpose: GitPython is imported only when a remote Git repository is
actually used, so the render path for local sources never pays for it.

Public entry points (imported lazily): ``RepoService`` (``repo.service``),
``ManifestCache`` (``repo.cache``), ``CredentialStore`` (``repo.creds``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["RepoService", "ManifestCache", "CredentialStore", "RepoError", "cache_root"]

_LAZY = {
    "RepoService": "service",
    "ManifestCache": "cache",
    "CredentialStore": "creds",
    "RepoError": "errors",
    "cache_root": "errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
