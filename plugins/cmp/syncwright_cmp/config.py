"""The ``plugin.yaml`` format (Argo CD's ConfigManagementPlugin), parsed and validated.

A user who already has an Argo CD sidecar config must be able to use it
unchanged, so the field names and meanings are Argo CD's
(``cmpserver/plugin/config.go``). Validation is stricter than Argo CD's in
two places, both of which catch real mistakes: unknown ``spec`` keys are
errors (a misspelled ``generate`` is not silently ignored), and setting more
than one discover rule is an error (Argo CD evaluates only the first).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from syncwright.api import SpecError

API_VERSIONS = ("argoproj.io/v1alpha1", "syncwright.dev/v1alpha1")
KIND = "ConfigManagementPlugin"
#: Tool names of CMPs (``syncwright.render.CMP_PREFIX``; plugins may not import render).
CMP_PREFIX = "cmp:"
MAX_CONFIG_BYTES = 1024 * 1024

_SPEC_KEYS = {
    "version", "init", "generate", "discover", "parameters",
    "preserveFileMode", "provideGitCreds",
    # Argo CD fields kept for compatibility; sidecars never share a checkout, so they change nothing.
    "allowConcurrency", "lockRepo",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_COLLECTIONS = ("", "string", "array", "map")


@dataclass(frozen=True)
class Command:
    """A command of the plugin: ``command`` + ``args``, run as an argv list (never a shell string)."""

    command: tuple[str, ...]
    args: tuple[str, ...] = ()

    @property
    def argv(self) -> list[str]:
        return [*self.command, *self.args]


@dataclass(frozen=True)
class Discover:
    """The discover rule: at most one of ``fileName``, ``find.glob``, ``find.command``."""

    file_name: str = ""
    glob: str = ""
    command: Command | None = None

    @property
    def kind(self) -> str:
        """``fileName``, ``glob``, ``command`` or ``""`` (no rule: explicit use only)."""
        if self.file_name:
            return "fileName"
        if self.glob:
            return "glob"
        if self.command is not None:
            return "command"
        return ""

    def describe(self) -> str:
        """The rule in words, for ``syncwright plugins``."""
        if self.file_name:
            return f"a file matching {self.file_name!r} in the app directory (discover.fileName)"
        if self.glob:
            return f"a path matching {self.glob!r} under the app directory (discover.find.glob)"
        if self.command is not None:
            return f"`{' '.join(self.command.argv)}` exits 0 with output (discover.find.command)"
        return "none: used only when an Application names it (plugin.name)"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.file_name:
            out["fileName"] = self.file_name
        if self.glob:
            out["glob"] = self.glob
        if self.command is not None:
            out["command"] = self.command.argv
        return out


@dataclass(frozen=True)
class PluginConfig:
    """One validated ConfigManagementPlugin."""

    name: str
    generate: Command
    version: str = ""
    init: Command | None = None
    discover: Discover = Discover()
    static_parameters: tuple[dict[str, Any], ...] = ()
    dynamic_parameters: Command | None = None
    preserve_file_mode: bool = False
    provide_git_creds: bool = False
    path: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def plugin_name(self) -> str:
        """The name Applications use: ``<metadata.name>[-<spec.version>]``."""
        return f"{self.name}-{self.version}" if self.version else self.name

    @property
    def tool(self) -> str:
        return CMP_PREFIX + self.plugin_name


def _fail(where: str, message: str) -> SpecError:
    return SpecError(message, context=where)


def _strings(value: Any, where: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        raise _fail(where, f"{what} must be a list of strings")
    return tuple(str(v) for v in value)


def _command(value: Any, where: str, what: str, *, required: bool = False) -> Command | None:
    if value is None or value == {}:
        if required:
            raise _fail(where, f"{what}.command is missing: a plugin needs a generate command")
        return None
    if not isinstance(value, dict):
        raise _fail(where, f"{what} must be a mapping with command and args")
    unknown = sorted(set(value) - {"command", "args"})
    if unknown:
        raise _fail(where, f"{what} has unknown field(s) {', '.join(unknown)} (expected command, args)")
    command = _strings(value.get("command"), where, f"{what}.command")
    args = _strings(value.get("args"), where, f"{what}.args")
    if not command or not command[0]:
        if required:
            raise _fail(where, f"{what}.command is empty: a plugin needs a generate command")
        if args:
            raise _fail(where, f"{what} has args but no command")
        return None
    return Command(command, args)


def _check_pattern(pattern: str, where: str, what: str) -> str:
    if not isinstance(pattern, str):
        raise _fail(where, f"{what} must be a string")
    parts = pattern.replace("\\", "/").split("/")
    if pattern.startswith("/") or ".." in parts or "\x00" in pattern:
        raise _fail(where, f"{what} {pattern!r} must be a relative pattern inside the app directory")
    return pattern


def _discover(value: Any, where: str) -> Discover:
    if value is None:
        return Discover()
    if not isinstance(value, dict):
        raise _fail(where, "spec.discover must be a mapping")
    unknown = sorted(set(value) - {"fileName", "find"})
    if unknown:
        raise _fail(where, f"spec.discover has unknown field(s) {', '.join(unknown)} (expected fileName, find)")
    find = value.get("find") or {}
    if not isinstance(find, dict):
        raise _fail(where, "spec.discover.find must be a mapping")
    unknown = sorted(set(find) - {"glob", "command", "args"})
    if unknown:
        raise _fail(where, f"spec.discover.find has unknown field(s) {', '.join(unknown)} (expected glob, command)")
    file_name = _check_pattern(value.get("fileName") or "", where, "spec.discover.fileName")
    glob = _check_pattern(find.get("glob") or "", where, "spec.discover.find.glob")
    command = _command({k: find[k] for k in ("command", "args") if k in find} or None, where, "spec.discover.find")
    rules = [n for n, v in (("fileName", file_name), ("find.glob", glob), ("find.command", command)) if v]
    if len(rules) > 1:
        raise _fail(where, f"spec.discover sets both {' and '.join(rules)}; set exactly one discover rule")
    return Discover(file_name, glob, command)


def _static(value: Any, where: str) -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(where, "spec.parameters.static must be a list")
    out = []
    for i, item in enumerate(value):
        what = f"spec.parameters.static[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise _fail(where, f"{what} needs a name")
        ctype = item.get("collectionType") or ""
        if ctype not in _COLLECTIONS:
            raise _fail(where, f"{what}.collectionType {ctype!r} must be one of string, array, map")
        out.append(dict(item))
    return tuple(out)


def parse_config(doc: Any, where: str) -> PluginConfig:
    """Validate one ``plugin.yaml`` document; ``where`` (the file) names every error."""
    if not isinstance(doc, dict):
        raise _fail(where, "a ConfigManagementPlugin must be a mapping")
    api_version = doc.get("apiVersion")
    if api_version not in API_VERSIONS:
        raise _fail(where, f"apiVersion {api_version!r} is not one of {', '.join(API_VERSIONS)}")
    if doc.get("kind") != KIND:
        raise _fail(where, f"kind {doc.get('kind')!r} is not {KIND}")
    meta = doc.get("metadata") or {}
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise _fail(where, "metadata.name is missing")
    if not _NAME.match(name):
        raise _fail(where, f"metadata.name {name!r} may hold only letters, digits, '.', '_' and '-'")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise _fail(where, "spec is missing (it needs at least generate.command)")
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        raise _fail(where, f"spec has unknown field(s) {', '.join(unknown)}")
    version = spec.get("version") or ""
    if not isinstance(version, (str, int, float)) or not _NAME.match(str(version) or "x"):
        raise _fail(where, f"spec.version {version!r} may hold only letters, digits, '.', '_' and '-'")
    generate = _command(spec.get("generate"), where, "spec.generate", required=True)
    assert generate is not None
    params = spec.get("parameters") or {}
    if not isinstance(params, dict):
        raise _fail(where, "spec.parameters must be a mapping with static and dynamic")
    for flag in ("preserveFileMode", "provideGitCreds", "allowConcurrency", "lockRepo"):
        if flag in spec and not isinstance(spec[flag], bool):
            raise _fail(where, f"spec.{flag} must be true or false")
    return PluginConfig(
        name=name,
        version=str(version),
        generate=generate,
        init=_command(spec.get("init"), where, "spec.init"),
        discover=_discover(spec.get("discover"), where),
        static_parameters=_static(params.get("static"), where),
        dynamic_parameters=_command(params.get("dynamic"), where, "spec.parameters.dynamic"),
        preserve_file_mode=bool(spec.get("preserveFileMode", False)),
        provide_git_creds=bool(spec.get("provideGitCreds", False)),
        path=where,
        raw=doc,
    )


def load_config_file(path: Path) -> list[PluginConfig]:
    """Every ConfigManagementPlugin in one YAML file (a stream may hold several)."""
    where = str(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise _fail(where, f"plugin config is larger than {MAX_CONFIG_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise _fail(where, f"cannot read plugin config: {e.strerror or e}") from e
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise _fail(where, f"invalid YAML: {e}") from None
    if not docs:
        raise _fail(where, "plugin config is empty")
    return [parse_config(d, where) for d in docs]


def config_files(cmp_dir: Path) -> list[Path]:
    """``*.yaml``/``*.yml`` in the dir, plus ``<sub>/plugin.yaml`` (an Argo CD sidecar's config dir)."""
    if not cmp_dir.is_dir():
        return []
    out = []
    for entry in sorted(os.scandir(cmp_dir), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.name.endswith((".yaml", ".yml")):
            out.append(Path(entry.path))
        elif entry.is_dir():
            for candidate in ("plugin.yaml", "plugin.yml"):
                p = Path(entry.path) / candidate
                if p.is_file():
                    out.append(p)
                    break
    return out


_CACHE: dict[tuple[str, tuple[tuple[str, int, int], ...]], list[PluginConfig]] = {}


def load_dir(cmp_dir: Path) -> list[PluginConfig]:
    """All local plugins of a dir, sorted by tool name; duplicates are an error naming both files."""
    files = config_files(cmp_dir)
    sig = tuple((str(p), int(p.stat().st_mtime_ns), p.stat().st_size) for p in files)
    key = (str(cmp_dir), sig)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    configs: dict[str, PluginConfig] = {}
    for path in files:
        for cfg in load_config_file(path):
            other = configs.get(cfg.plugin_name)
            if other is not None:
                raise _fail(cfg.path, f"plugin {cfg.plugin_name!r} is also defined in {other.path}")
            configs[cfg.plugin_name] = cfg
    result = [configs[k] for k in sorted(configs)]
    _CACHE.clear()
    _CACHE[key] = result
    return result


def default_cmp_dir() -> Path:
    """``SYNCWRIGHT_CMP_DIR`` (set by ``--cmp-dir``), else ``~/.config/syncwright/plugins/``."""
    explicit = os.environ.get("SYNCWRIGHT_CMP_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return Path("~/.config/syncwright/plugins").expanduser()
