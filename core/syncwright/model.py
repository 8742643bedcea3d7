"""The Application spec, in Argo CD's shape, parsed and validated at the boundary.

Field names and meanings follow ``argoproj.io/v1alpha1`` (Argo CD's
``pkg/apis/application/v1alpha1/types.go``) so an Argo CD manifest works by
changing nothing, or only the apiVersion to ``syncwright.dev/v1alpha1``.
Unknown fields are errors: a misspelled ``valueFile`` silently ignored is a
deployment gone wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import SpecError

API_VERSIONS = ("argoproj.io/v1alpha1", "syncwright.dev/v1alpha1")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class Spec(BaseModel):
    """Base for spec objects: camelCase names, frozen, unknown fields rejected."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=_camel
    )


# --- tool options ---------------------------------------------------------------------


class HelmParameter(Spec):
    name: str
    value: str = ""
    force_string: bool = False

    @field_validator("value", mode="before")
    @classmethod
    def _stringify(cls, v: Any) -> Any:
        return str(v).lower() if isinstance(v, bool) else (str(v) if isinstance(v, (int, float)) else v)


class HelmFileParameter(Spec):
    name: str
    path: str


class HelmOptions(Spec):
    value_files: tuple[str, ...] = ()
    values: str = ""
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

    @field_validator("values", mode="before")
    @classmethod
    def _values_text(cls, v: Any) -> Any:
        # Argo CD accepts ``values`` as a string; some users write a mapping.
        if isinstance(v, dict):
            import yaml

            return yaml.safe_dump(v, sort_keys=False)
        return v


class KustomizeReplica(Spec):
    name: str
    count: int | str


class KustomizeSelector(Spec):
    group: str = ""
    version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    label_selector: str = ""
    annotation_selector: str = ""


class KustomizePatch(Spec):
    path: str = ""
    patch: str = ""
    target: KustomizeSelector | None = None
    options: dict[str, bool] | None = None


class KustomizeOptions(Spec):
    name_prefix: str = ""
    name_suffix: str = ""
    images: tuple[str, ...] = ()
    common_labels: dict[str, str] = Field(default_factory=dict)
    common_annotations: dict[str, str] = Field(default_factory=dict)
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


class JsonnetVar(Spec):
    name: str
    value: str = ""
    code: bool = False


class JsonnetOptions(Spec):
    ext_vars: tuple[JsonnetVar, ...] = ()
    tlas: tuple[JsonnetVar, ...] = ()
    libs: tuple[str, ...] = ()


class DirectoryOptions(Spec):
    recurse: bool = False
    include: str = ""
    exclude: str = ""
    jsonnet: JsonnetOptions = JsonnetOptions()
    disable_extension_filter: bool = False


class EnvEntry(Spec):
    name: str
    value: str = ""


class PluginParameter(Spec):
    name: str
    string: str | None = None
    array: tuple[str, ...] | None = None
    map: dict[str, str] | None = None


class PluginOptions(Spec):
    name: str = ""
    env: tuple[EnvEntry, ...] = ()
    parameters: tuple[PluginParameter, ...] = ()


# --- sources, destination, policy -----------------------------------------------------


class Source(Spec):
    repo_url: str = Field(alias="repoURL")
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

    @model_validator(mode="after")
    def _one_tool(self) -> Source:
        tools = [t for t in ("helm", "kustomize", "directory", "plugin") if getattr(self, t) is not None]
        if len(tools) > 1:
            raise ValueError(f"multiple tool blocks set ({', '.join(tools)}); a source uses one tool")
        return self

    @property
    def explicit_tool(self) -> str | None:
        """The tool named by the spec's tool block, which skips discovery."""
        for tool in ("helm", "kustomize", "plugin"):
            if getattr(self, tool) is not None:
                return tool
        if self.directory is not None:
            return "directory"
        return None


class Destination(Spec):
    server: str = ""
    name: str = ""
    namespace: str = ""

    @model_validator(mode="after")
    def _not_both(self) -> Destination:
        if self.server and self.name:
            raise ValueError("can't have both name and server defined")
        return self


class Automated(Spec):
    enabled: bool | None = None
    prune: bool = False
    self_heal: bool = False
    allow_empty: bool = False


class Backoff(Spec):
    duration: str | int = "5s"
    factor: int = 2
    max_duration: str | int = "3m"


class Retry(Spec):
    limit: int = 0
    refresh: bool = False
    backoff: Backoff = Backoff()


class ManagedNamespaceMetadata(Spec):
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class SyncPolicy(Spec):
    automated: Automated | None = None
    sync_options: tuple[str, ...] = ()
    retry: Retry | None = None
    managed_namespace_metadata: ManagedNamespaceMetadata | None = None


class IgnoreDifference(Spec):
    group: str = ""
    kind: str
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()


class InfoEntry(Spec):
    name: str
    value: str


class ApplicationSpec(Spec):
    project: str = "default"
    source: Source | None = None
    sources: tuple[Source, ...] = ()
    destination: Destination = Destination()
    sync_policy: SyncPolicy | None = None
    ignore_differences: tuple[IgnoreDifference, ...] = ()
    revision_history_limit: int = 10
    info: tuple[InfoEntry, ...] = ()

    @model_validator(mode="after")
    def _has_source(self) -> ApplicationSpec:
        if self.source is None and not self.sources:
            raise ValueError("one of source or sources is required")
        return self

    def effective_sources(self) -> tuple[Source, ...]:
        """Argo CD's ``GetSources``: non-empty ``sources`` wins over ``source``."""
        if self.sources:
            return self.sources
        assert self.source is not None
        return (self.source,)


_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class ObjectMeta(Spec):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    name: str
    namespace: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    finalizers: tuple[str, ...] = ()
    uid: str = ""
    resourceVersion: str = ""
    generation: int = 0
    creationTimestamp: str | None = None
    managedFields: list[Any] | None = None

    @field_validator("name")
    @classmethod
    def _dns_name(cls, v: str) -> str:
        if len(v) > 253 or not _NAME.match(v):
            raise ValueError("must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.')")
        return v


class Application(Spec):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
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
    if kind == "extra_forbidden":
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


def parse_application(doc: Any, source: str) -> Application:
    """Validate one Application document; errors name ``source`` and each field path."""
    if not isinstance(doc, dict):
        raise SpecError(f"expected an Application mapping, got {type(doc).__name__}", context=source)
    if doc.get("kind") != "Application":
        raise SpecError(f"kind is {doc.get('kind')!r}, expected 'Application'", context=source)
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
