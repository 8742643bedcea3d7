"""The Application spec, in Argo CD's shape, parsed and validated at the boundary.

Field names and meanings follow ``argoproj.io/v1alpha1`` (Argo CD's
``pkg/apis/application/v1alpha1/types.go``) so an Argo CD manifest works by
changing nothing, or only the apiVersion to ``syncwright.dev/v1alpha1``.
Unknown fields are errors: a misspelled ``valueFile`` silently ignored is a
deployment gone wrong.

The spec types are plain frozen dataclasses, cheap to import; pydantic
validates them (camelCase names, types, unknown fields) only when a document
is parsed, so the render path does not pay for importing pydantic unless it
reads an Application file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from .errors import SpecError

if TYPE_CHECKING:
    from pydantic import TypeAdapter

API_VERSIONS = ("argoproj.io/v1alpha1", "syncwright.dev/v1alpha1")
_ALIASES = {"repo_url": "repoURL"}


def _camel(name: str) -> str:
    if name in _ALIASES:
        return _ALIASES[name]
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


T = TypeVar("T", bound="Spec")
_ADAPTERS: dict[type, TypeAdapter[Any]] = {}


def _adapter(cls: type) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        # pydantic scans every installed distribution for its own plugins on first
        # use; syncwright has none, and the scan costs tens of milliseconds per run.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
        from pydantic import TypeAdapter

        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


class Spec:
    """Base for spec dataclasses: camelCase names, unknown fields rejected by pydantic."""

    __pydantic_config__: ClassVar[dict[str, Any]] = {
        "extra": "forbid", "populate_by_name": True, "alias_generator": _camel,
    }

    @classmethod
    def model_validate(cls: type[T], data: Any) -> T:
        """Validate a mapping (Argo CD's camelCase field names) into this type."""
        result: T = _adapter(cls).validate_python(data)
        return result

    def model_dump(self, *, by_alias: bool = False, exclude_none: bool = False,
                   exclude_defaults: bool = False) -> dict[str, Any]:
        """This object as plain data (camelCase with ``by_alias``)."""
        out: dict[str, Any] = _adapter(type(self)).dump_python(
            self, by_alias=by_alias, exclude_none=exclude_none, exclude_defaults=exclude_defaults, mode="json")
        return out


def _set(obj: object, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


# --- tool options ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class HelmParameter(Spec):
    name: str
    value: str | int | float | bool = ""
    force_string: bool = False

    def __post_init__(self) -> None:
        # YAML turns `value: true` / `value: 2` into non-strings; helm wants text.
        v = self.value
        _set(self, "value", str(v).lower() if isinstance(v, bool) else str(v))


@dataclass(frozen=True, kw_only=True)
class HelmFileParameter(Spec):
    name: str
    path: str


@dataclass(frozen=True, kw_only=True)
class HelmOptions(Spec):
    value_files: tuple[str, ...] = ()
    values: str | dict[str, Any] = ""
    values_object: dict[str, Any] | None = None
    parameters: tuple[HelmParameter, ...] = ()
    file_parameters: tuple[HelmFileParameter, ...] = ()
    release_name: str = ""
    namespace: str = ""
    skip_crds: bool = False
    skip_schema_validation: bool = False
    skip_tests: bool = False
    ignore_missing_value_files: bool = False
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()
    pass_credentials: bool = False
    version: str = ""

    def __post_init__(self) -> None:
        # Argo CD accepts ``values`` as a string; some users write a mapping.
        if isinstance(self.values, dict):
            import yaml

            _set(self, "values", yaml.safe_dump(self.values, sort_keys=False))


@dataclass(frozen=True, kw_only=True)
class KustomizeReplica(Spec):
    name: str
    count: int | str


@dataclass(frozen=True, kw_only=True)
class KustomizeSelector(Spec):
    group: str = ""
    version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    label_selector: str = ""
    annotation_selector: str = ""


@dataclass(frozen=True, kw_only=True)
class KustomizePatch(Spec):
    path: str = ""
    patch: str = ""
    target: KustomizeSelector | None = None
    options: dict[str, bool] | None = None


@dataclass(frozen=True, kw_only=True)
class KustomizeOptions(Spec):
    name_prefix: str = ""
    name_suffix: str = ""
    images: tuple[str, ...] = ()
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)
    common_annotations_envsubst: bool = False
    force_common_labels: bool = False
    force_common_annotations: bool = False
    label_without_selector: bool = False
    label_include_templates: bool = False
    namespace: str = ""
    replicas: tuple[KustomizeReplica, ...] = ()
    patches: tuple[KustomizePatch, ...] = ()
    components: tuple[str, ...] = ()
    ignore_missing_components: bool = False
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()
    version: str = ""

    def is_empty(self) -> bool:
        return self == KustomizeOptions()


@dataclass(frozen=True, kw_only=True)
class JsonnetVar(Spec):
    name: str
    value: str = ""
    code: bool = False


@dataclass(frozen=True, kw_only=True)
class JsonnetOptions(Spec):
    ext_vars: tuple[JsonnetVar, ...] = ()
    tlas: tuple[JsonnetVar, ...] = ()
    libs: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DirectoryOptions(Spec):
    recurse: bool = False
    include: str = ""
    exclude: str = ""
    jsonnet: JsonnetOptions = JsonnetOptions()
    disable_extension_filter: bool = False


@dataclass(frozen=True, kw_only=True)
class EnvEntry(Spec):
    name: str
    value: str = ""


@dataclass(frozen=True, kw_only=True)
class PluginParameter(Spec):
    name: str
    string: str | None = None
    array: tuple[str, ...] | None = None
    map: dict[str, str] | None = None


@dataclass(frozen=True, kw_only=True)
class PluginOptions(Spec):
    name: str = ""
    env: tuple[EnvEntry, ...] = ()
    parameters: tuple[PluginParameter, ...] = ()


# --- sources, destination, policy -----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Source(Spec):
    repo_url: str
    path: str = ""
    target_revision: str = ""
    chart: str = ""
    ref: str = ""
    name: str = ""
    tag_prefix: str = ""
    helm: HelmOptions | None = None
    kustomize: KustomizeOptions | None = None
    directory: DirectoryOptions | None = None
    plugin: PluginOptions | None = None

    def __post_init__(self) -> None:
        tools = [t for t in ("helm", "kustomize", "directory", "plugin") if getattr(self, t) is not None]
        if len(tools) > 1:
            raise ValueError(f"multiple tool blocks set ({', '.join(tools)}); a source uses one tool")

    @property
    def explicit_tool(self) -> str | None:
        """The tool named by the spec's tool block, which skips discovery."""
        for tool in ("helm", "kustomize", "plugin"):
            if getattr(self, tool) is not None:
                return tool
        if self.directory is not None:
            return "directory"
        return None


@dataclass(frozen=True, kw_only=True)
class Destination(Spec):
    server: str = ""
    name: str = ""
    namespace: str = ""

    def __post_init__(self) -> None:
        if self.server and self.name:
            raise ValueError("can't have both name and server defined")


@dataclass(frozen=True, kw_only=True)
class Automated(Spec):
    enabled: bool | None = None
    prune: bool = False
    self_heal: bool = False
    allow_empty: bool = False


@dataclass(frozen=True, kw_only=True)
class Backoff(Spec):
    duration: str | int = "5s"
    factor: int = 2
    max_duration: str | int = "3m"


@dataclass(frozen=True, kw_only=True)
class Retry(Spec):
    limit: int = 0
    refresh: bool = False
    backoff: Backoff = Backoff()


@dataclass(frozen=True, kw_only=True)
class ManagedNamespaceMetadata(Spec):
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SyncPolicy(Spec):
    automated: Automated | None = None
    sync_options: tuple[str, ...] = ()
    retry: Retry | None = None
    managed_namespace_metadata: ManagedNamespaceMetadata | None = None


@dataclass(frozen=True, kw_only=True)
class IgnoreDifference(Spec):
    group: str = ""
    kind: str
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class InfoEntry(Spec):
    name: str
    value: str


@dataclass(frozen=True, kw_only=True)
class ApplicationSpec(Spec):
    project: str = "default"
    source: Source | None = None
    sources: tuple[Source, ...] = ()
    destination: Destination = Destination()
    sync_policy: SyncPolicy | None = None
    ignore_differences: tuple[IgnoreDifference, ...] = ()
    revision_history_limit: int = 10
    info: tuple[InfoEntry, ...] = ()

    def __post_init__(self) -> None:
        if self.source is None and not self.sources:
            raise ValueError("one of source or sources is required")

    def effective_sources(self) -> tuple[Source, ...]:
        """Argo CD's ``GetSources``: non-empty ``sources`` wins over ``source``."""
        if self.sources:
            return self.sources
        assert self.source is not None
        return (self.source,)


_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@dataclass(frozen=True, kw_only=True)
class ObjectMeta(Spec):
    name: str
    namespace: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    finalizers: tuple[str, ...] = ()
    uid: str = ""
    resourceVersion: str = ""
    generation: int = 0
    creationTimestamp: str | None = None
    managedFields: list[Any] | None = None

    def __post_init__(self) -> None:
        if len(self.name) > 253 or not _NAME.match(self.name):
            raise ValueError("name must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.')")


@dataclass(frozen=True, kw_only=True)
class Application(Spec):
    apiVersion: Literal["argoproj.io/v1alpha1", "syncwright.dev/v1alpha1"]
    kind: Literal["Application"]
    metadata: ObjectMeta
    spec: ApplicationSpec
    operation: dict[str, Any] | None = None
    status: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def dest_namespace(self) -> str:
        return self.spec.destination.namespace


# --- loading --------------------------------------------------------------------------


def _describe(err: dict[str, Any]) -> str:
    loc = ""
    for part in err["loc"]:
        if isinstance(part, int):
            loc += f"[{part}]"
        elif part in ("function-after", "function-before") or str(part).startswith("function-"):
            continue
        else:
            loc += f".{part}" if loc else str(part)
    kind = err["type"]
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        msg = "unknown field (not part of the spec; check the spelling)"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind == "literal_error":
        msg = f"expected one of {err['ctx'].get('expected')}" if err.get("ctx") else err["msg"]
    else:
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err.get("input") is not None and kind.endswith("_type"):
            msg = f"{msg}, got {type(err['input']).__name__}"
    return f"{loc}: {msg}" if loc else msg


_HINTS: dict[type, dict[str, Any]] = {}


def _build(tp: Any, value: Any) -> Any:
    """Rebuild spec dataclasses from data pydantic validated before (the spec cache)."""
    if value is None:
        return None
    if is_dataclass(tp) and isinstance(tp, type):
        hints = _HINTS.get(tp)
        if hints is None:
            hints = _HINTS[tp] = typing.get_type_hints(tp)
        return tp(**{f.name: _build(hints[f.name], value[f.name]) for f in fields(tp) if f.name in value})
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if is_dataclass(arg) and isinstance(value, dict):
                return _build(arg, value)
            if typing.get_origin(arg) is tuple and isinstance(value, list):
                return _build(arg, value)
        return value
    if origin is tuple:
        return tuple(_build(typing.get_args(tp)[0], v) for v in value)
    return value


def _spec_cache_path(kind: str, doc: dict[str, Any]) -> Path | None:
    from . import __version__
    from .paths import cache_root

    try:
        text = json.dumps(doc, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return None
    digest = hashlib.sha256(f"{__version__}\0{kind}\0{text}".encode()).hexdigest()
    return cache_root() / "specs" / f"{digest}.json"


def validate_cached(cls: type[T], doc: dict[str, Any], validate: Any) -> T:
    """``validate(doc)`` (pydantic), remembered on disk by the document's content.

    Validation costs ~0.2 s of imports and schema building per process, so a
    valid document's result is kept in the cache directory, keyed by the
    document's content, the type and syncwright's version; a hit rebuilds the
    dataclasses without pydantic. Only validated data is ever cached, and a
    damaged entry is ignored.
    """
    cached = _spec_cache_path(cls.__name__, doc)
    if cached is not None:
        try:
            return typing.cast(T, _build(cls, json.loads(cached.read_text())))
        except (OSError, ValueError, TypeError, KeyError):
            pass
    result: T = validate(doc)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(_adapter(cls).dump_python(result, mode="json")))
            os.replace(tmp, cached)
        except OSError:
            pass  # a read-only cache only costs speed
    return result


def parse_application(doc: Any, source: str) -> Application:
    """Validate one Application document; errors name ``source`` and each field path."""
    if not isinstance(doc, dict):
        return _validate_application(doc, source)
    return validate_cached(Application, doc, lambda d: _validate_application(d, source))


def parse_source(doc: dict[str, Any], source: str) -> Source:
    """Validate one ``source`` mapping (e.g. built from CLI flags)."""

    def validate(d: dict[str, Any]) -> Source:
        from pydantic import ValidationError

        try:
            return Source.model_validate(d)
        except ValidationError as e:
            problems = "; ".join(_describe(err) for err in e.errors())  # type: ignore[arg-type]
            raise SpecError(f"invalid source options: {problems}", context=source) from None

    return validate_cached(Source, doc, validate)


def _validate_application(doc: Any, source: str) -> Application:
    if not isinstance(doc, dict):
        raise SpecError(f"expected an Application mapping, got {type(doc).__name__}", context=source)
    if doc.get("kind") != "Application":
        raise SpecError(f"kind is {doc.get('kind')!r}, expected 'Application'", context=source)
    from pydantic import ValidationError

    try:
        return Application.model_validate(doc)
    except ValidationError as e:
        problems = "; ".join(_describe(err) for err in e.errors())  # type: ignore[arg-type]
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        where = f"{source} (Application {name})" if name else source
        raise SpecError(f"invalid Application spec: {problems}", context=where) from None


def load_applications(path: Path) -> list[Application]:
    """All Applications in a YAML/JSON file (several documents allowed)."""
    from .manifests import load_yaml_documents

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(f"cannot read: {e.strerror}", context=str(path)) from None
    apps = [parse_application(doc, f"{path}:{line}") for line, doc in load_yaml_documents(text, str(path)) if doc is not None]
    if not apps:
        raise SpecError("no Application found", context=str(path))
    return apps
