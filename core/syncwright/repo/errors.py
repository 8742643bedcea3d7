"""Repo-layer errors, settings and the cache root."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import RenderError


class RepoError(RenderError):
    """A repository could not be reached, resolved, fetched or checked out."""


class RevisionNotFound(RepoError):
    """The target revision names no branch, tag, commit or matching version."""


class AuthError(RepoError):
    """The repository refused the credentials (the message never holds them)."""


def cache_root() -> Path:
    """``$SYNCWRIGHT_CACHE`` or ``~/.cache/syncwright`` (created 0700: mirrors may hold private code)."""
    root = Path(os.environ.get("SYNCWRIGHT_CACHE") or Path.home() / ".cache" / "syncwright").expanduser()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def env_float(name: str, default: float) -> float:
    """A numeric setting from the environment; a bad value is ignored with the default."""
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


def env_int(name: str, default: int) -> int:
    return int(env_float(name, default))
