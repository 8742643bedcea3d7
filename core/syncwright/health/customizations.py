"""User Lua health customizations: where scripts come from, which one applies, and the plugin.

Two sources, Argo CD's:

* a directory laid out like Argo CD's ``resource_customizations``:
  ``<group>/<Kind>/health.lua`` for grouped kinds and ``<Kind>/health.lua`` for
  the core group; ``_`` in a directory name stands for ``*``
  (``_.crossplane.io/_/health.lua``);
* argocd-cm settings (a ConfigMap manifest or a plain mapping of its
  ``data``): keys ``resource.customizations.health.<group>_<kind>`` (the
  first ``_`` separates group and kind; ``<kind>`` alone for the core group;
  ``all`` means every kind) and the ``resource.customizations`` block
  (``"<group-glob>/<kind-glob>": {health.lua: ...}``). A per-key entry wins
  over the same key in the block, as in Argo CD.

Lookup for an object with key ``<group>/<Kind>`` (``<Kind>`` for core), as
Argo CD's ``GetHealthScript``: an exact settings key, then a wildcard
settings key, then the directory's exact ``<group>/<Kind>``, then its
wildcard directories. Patterns are globs over the whole key (``*`` also
matches ``/``, as Argo CD's). Where Argo CD picks among several matching
wildcards in map order, we pick the most specific (most literal characters),
then the alphabetically first, so the choice is stable.

``LuaHealthPlugin`` is a plugin *object* holding its configuration; register it
with ``Hooks.load(extra_plugins=[plugin])``. Its ``syncwright_health`` runs
``tryfirst``, so a customization beats the built-in check for the same kind.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..api import HealthContext, HealthStatus, hookimpl
from ..errors import SpecError
from ..manifests import load_yaml_documents

if TYPE_CHECKING:
    from .lua import LuaRunner

HEALTH_SCRIPT = "health.lua"
KEY_PREFIX = "resource.customizations.health."
OPEN_LIBS_PREFIX = "resource.customizations.useOpenLibs."
BLOCK_KEY = "resource.customizations"
MAX_SCRIPT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Customization:
    """One health script and the ``<group>/<Kind>`` glob it applies to."""

    pattern: str
    script: str
    source: str

    @property
    def is_wildcard(self) -> bool:
        return any(c in self.pattern for c in "*?[")

    @property
    def specificity(self) -> int:
        return sum(1 for c in self.pattern if c not in "*?[]")


def object_key(group: str, kind: str) -> str:
    """Argo CD's ``GetConfigMapKey``: ``<group>/<Kind>``, or ``<Kind>`` for the core group."""
    return f"{group}/{kind}" if group else kind


def _settings_key(suffix: str) -> str:
    """``<group>_<kind>`` → ``<group>/<kind>``; ``all`` → ``*/*`` (Argo CD's settings keys)."""
    if suffix == "all":
        return "*/*"
    return suffix.replace("_", "/", 1)


def _block_key(key: str) -> str:
    return key[1:] if key.startswith("/") else key


@dataclass
class Customizations:
    """All configured scripts, in lookup tiers (settings before directory)."""

    settings: list[Customization] = field(default_factory=list)
    directory: list[Customization] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.settings or self.directory)

    def lookup(self, group: str, kind: str) -> Customization | None:
        """The script for ``group``/``kind`` (see the module doc for the order), or None."""
        key = object_key(group, kind)
        for tier in (self.settings, self.directory):
            for c in tier:
                if not c.is_wildcard and c.pattern == key:
                    return c
            matches = [c for c in tier if c.is_wildcard and fnmatch.fnmatchcase(key, c.pattern)]
            if matches:
                return min(matches, key=lambda c: (-c.specificity, c.pattern))
        return None

    def merged(self, other: Customizations) -> Customizations:
        return Customizations([*self.settings, *other.settings], [*self.directory, *other.directory])


def _read_script(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_SCRIPT_BYTES:
            raise SpecError(f"{size} bytes, over the {MAX_SCRIPT_BYTES}-byte cap for a health script", context=str(path))
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read health script: {e}", context=str(path)) from e


def load_directory(root: str | os.PathLike[str]) -> Customizations:
    """Scripts from ``<group>/<Kind>/health.lua`` and ``<Kind>/health.lua`` under ``root``."""
    base = Path(root)
    if not base.is_dir():
        raise SpecError("health customizations directory does not exist or is not a directory", context=str(base))
    found: list[Customization] = []
    for path in sorted(base.rglob(HEALTH_SCRIPT)):
        rel = path.relative_to(base).parts[:-1]
        if len(rel) not in (1, 2):
            continue  # e.g. testdata copies deeper down; not a customization
        pattern = "/".join(part.replace("_", "*") for part in rel)
        found.append(Customization(pattern, _read_script(path), str(path)))
    return Customizations(directory=found)


def settings_from_mapping(data: Mapping[str, Any], source: str) -> Customizations:
    """Scripts from argocd-cm ``data`` keys (see the module doc)."""
    by_key: dict[str, Customization] = {}
    block = data.get(BLOCK_KEY)
    if block is not None:
        where = f"{source}: {BLOCK_KEY}"
        try:
            parsed = yaml.safe_load(block) if isinstance(block, str) else block
        except yaml.YAMLError as e:
            raise SpecError(f"invalid YAML: {e}", context=where) from None
        if parsed is not None and not isinstance(parsed, Mapping):
            raise SpecError("expected a mapping of <group>/<kind> to overrides", context=where)
        for key, override in (parsed or {}).items():
            if not isinstance(override, Mapping):
                raise SpecError(f"override for {key!r} is not a mapping", context=where)
            script = override.get("health.lua")
            if script is None:
                continue
            if not isinstance(script, str):
                raise SpecError(f"health.lua of {key!r} is not a string", context=where)
            pattern = _block_key(str(key))
            by_key[pattern] = Customization(pattern, script, f"{where} {key}")
    for key, value in data.items():
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
            continue
        if not isinstance(value, str):
            raise SpecError(f"value of {key} is not a string (a Lua script)", context=source)
        pattern = _settings_key(key[len(KEY_PREFIX):])
        by_key[pattern] = Customization(pattern, value, f"{source}: {key}")
    return Customizations(settings=list(by_key.values()))


def load_settings(path: str | os.PathLike[str]) -> Customizations:
    """Scripts from a settings file: an argocd-cm ConfigMap manifest or a plain mapping of its data."""
    from ..settings import read_settings

    return settings_from_mapping(read_settings(path), str(path))


def load(
    directories: Iterable[str | os.PathLike[str]] = (), settings: Iterable[str | os.PathLike[str]] = ()
) -> Customizations:
    """All customizations from the given directories and settings files (earlier wins on ties)."""
    out = Customizations()
    for s in settings:
        out = out.merged(load_settings(s))
    for d in directories:
        out = out.merged(load_directory(d))
    return out


class LuaHealthPlugin:
    """The user-customization plugin: configured scripts run ``tryfirst`` in one sandboxed runtime."""

    def __init__(
        self, customizations: Customizations, *, timeout: float | None = None, max_memory: int | None = None
    ) -> None:
        self.customizations = customizations
        self._timeout = timeout
        self._max_memory = max_memory
        self._runner: LuaRunner | None = None

    @property
    def runner(self) -> LuaRunner:
        if self._runner is None:  # lupa is imported only when a script is actually needed
            from .lua import DEFAULT_MAX_MEMORY, DEFAULT_TIMEOUT, LuaRunner

            self._runner = LuaRunner(
                timeout=DEFAULT_TIMEOUT if self._timeout is None else self._timeout,
                max_memory=DEFAULT_MAX_MEMORY if self._max_memory is None else self._max_memory,
            )
        return self._runner

    def evaluate(self, obj: Mapping[str, Any]) -> HealthStatus | None:
        """The customization's verdict (``HealthStatus("")`` = "no health"), or None if none applies."""
        api_version = str(obj.get("apiVersion") or "")
        group = api_version.rpartition("/")[0]
        found = self.customizations.lookup(group, str(obj.get("kind") or ""))
        if found is None:
            return None
        return self.runner.health(found.script, obj, name=found.source)

    @hookimpl(tryfirst=True)
    def syncwright_health(self, obj: dict[str, Any], ctx: HealthContext) -> HealthStatus | None:
        """User Lua health customizations (Argo CD compatible); they win over built-in checks."""
        return self.evaluate(obj)
