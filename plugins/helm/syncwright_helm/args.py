"""Building the ``helm template`` command line the way Argo CD does.

Argo CD (``reposerver/repository/repository.go`` ``helmTemplate`` and
``util/helm/cmd.go`` ``template``) turns ``spec.source.helm`` into::

    helm template . --name-template NAME --namespace NS --kube-version V
        --set k=v ... --set-string k=v ... --set-file k=PATH ...
        --values FILE ... --values <tmp: valuesObject or values>
        --api-versions A ... [--include-crds unless skipCrds]
        [--skip-schema-validation] [--skip-tests]

Helm merges ``--values`` files in order (later wins) and applies the
``--set*`` flags after every values file, which gives Argo CD's documented
precedence: parameters > valuesObject/values > valueFiles > chart values.yaml.

Every local path (value files, ``--set-file`` files) is resolved inside the
repository root first (CVE-2022-24348, CVE-2022-31036): relative to the app
directory, absolute meaning relative to the repo root, ``$ref/...`` against a
multi-source ``ref`` source, symlinks followed and checked. Errors name the
path the user wrote, never where it resolved to on this machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from syncwright.api import HelmOptions, RenderContext, SpecError

#: URL schemes Argo CD passes through to helm (argocd-cm ``helm.valuesFileSchemes`` default).
ALLOWED_URL_SCHEMES = ("http", "https")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class ResolvedFile:
    """A value file or ``--set-file`` path after resolution: a local path or a URL."""

    raw: str
    location: str
    is_url: bool = False

    @property
    def path(self) -> Path:
        return Path(self.location)


def clean_set_value(value: str) -> str:
    """Argo CD's ``cleanSetParameters``: escape commas, unless the value is a ``{a,b}`` list.

    Without this ``--set k=a,b`` would set a second key ``b`` (helm/helm#6748).
    """
    if value.startswith("{") and value.endswith("}"):
        return value
    return _UNESCAPED_COMMA.sub(r"\\,", value)


def resolve_file(ctx: RenderContext, raw: str, *, what: str) -> ResolvedFile:
    """Resolve one value-file or file-parameter path as Argo CD's ``ResolveValueFilePathOrUrl``.

    ``$name/...`` naming a multi-source ref resolves in that source (env
    substitution after the ref, as Argo CD); otherwise ``$VAR`` is substituted
    from the build env first. http(s) URLs pass through to helm.
    """
    ref_name = _ref_name(raw)
    if ref_name is not None and ref_name in ctx.refs:
        _, _, rest = raw[1:].partition("/")
        resolved = ctx.resolve_ref(f"${ref_name}/{ctx.envsubst(rest)}", what=what)
        assert resolved is not None
        return ResolvedFile(raw, str(resolved))
    if ref_name is not None and not _is_env_var(ctx, raw):
        ctx.resolve_ref(raw, what=what)  # raises: unknown ref, naming the known ones
    value = ctx.envsubst(raw)
    if not value:
        raise SpecError(f"{what} {raw!r} is empty after $VAR substitution")
    scheme = _SCHEME.match(value)
    if scheme:
        if scheme.group(1).lower() in ALLOWED_URL_SCHEMES:
            return ResolvedFile(raw, value, is_url=True)
        allowed = ", ".join(ALLOWED_URL_SCHEMES)
        raise SpecError(f"{what} {raw!r}: the URL scheme {scheme.group(1)!r} is not allowed (allowed: {allowed})")
    return ResolvedFile(raw, str(ctx.resolve(value, what=what)))


def _ref_name(raw: str) -> str | None:
    """``values`` for ``$values/...``; None when the path does not start with a ``$name/`` segment."""
    if not raw.startswith("$"):
        return None
    name, slash, _ = raw[1:].partition("/")
    return name if slash and _IDENT.fullmatch(name) else None


def _is_env_var(ctx: RenderContext, raw: str) -> bool:
    """``$ARGOCD_APP_NAME/values.yaml`` is a variable, not a ref to an unknown source."""
    name = raw[1:].partition("/")[0]
    return name in ctx.build_env()


def value_files(ctx: RenderContext, opts: HelmOptions) -> tuple[list[ResolvedFile], list[str]]:
    """The spec's ``valueFiles`` resolved, and warnings for the missing ones ``ignoreMissingValueFiles`` skipped."""
    out: list[ResolvedFile] = []
    warnings: list[str] = []
    for raw in opts.value_files:
        resolved = resolve_file(ctx, raw, what="value file")
        if not resolved.is_url:
            if not resolved.path.exists():
                if opts.ignore_missing_value_files:
                    warnings.append(f"value file {raw!r} does not exist; skipped (ignoreMissingValueFiles)")
                    continue
                raise SpecError(
                    f"value file {raw!r} does not exist in the repository "
                    "(set helm.ignoreMissingValueFiles to skip missing files)"
                )
            if not resolved.path.is_file():
                raise SpecError(f"value file {raw!r} is not a regular file")
        out.append(resolved)
    return out, warnings


def file_parameters(ctx: RenderContext, opts: HelmOptions) -> dict[str, ResolvedFile]:
    """``fileParameters`` as ``--set-file`` pairs (last one for a name wins, as Argo CD's map)."""
    out: dict[str, ResolvedFile] = {}
    for param in opts.file_parameters:
        what = f"file parameter {param.name!r} path"
        resolved = resolve_file(ctx, param.path, what=what)
        if not resolved.is_url and not resolved.path.is_file():
            raise SpecError(f"{what} {param.path!r} does not exist in the repository or is not a file")
        out.pop(param.name, None)
        out[param.name] = resolved
    return out


def inline_values(opts: HelmOptions) -> str | None:
    """The YAML text of ``valuesObject`` (which wins) or ``values``, or None when both are empty."""
    if opts.values_object is not None:
        if not opts.values_object:
            return None
        return yaml.safe_dump(opts.values_object, sort_keys=False)
    # The model normalises a mapping to text; accept either so the two stay decoupled.
    text = opts.values if isinstance(opts.values, str) else yaml.safe_dump(opts.values, sort_keys=False)
    if not text.strip():
        return None
    try:
        parsed: Any = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"helm.values is not valid YAML{where}: {getattr(e, 'problem', None) or e}") from None
    if parsed is not None and not isinstance(parsed, dict):
        raise SpecError(f"helm.values must be a YAML mapping, got a {type(parsed).__name__}")
    return text


def _text(value: object) -> str:
    """A parameter value as helm text (the model already does this; YAML ``true`` → ``true``)."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def template_args(
    ctx: RenderContext,
    opts: HelmOptions,
    *,
    values_file: Path | None,
    files: list[ResolvedFile],
    set_files: dict[str, ResolvedFile],
) -> list[str]:
    """The arguments after ``helm`` for ``helm template .`` (run with cwd = the chart dir)."""
    args = ["template", ".", "--name-template", opts.release_name or ctx.app_name]
    namespace = opts.namespace or ctx.app_namespace
    if namespace:
        args += ["--namespace", namespace]
    kube_version = opts.kube_version or ctx.kube_version
    if kube_version:
        args += ["--kube-version", kube_version]
    sets: dict[str, str] = {}
    set_strings: dict[str, str] = {}
    for p in opts.parameters:
        target = set_strings if p.force_string else sets
        target.pop(p.name, None)
        target[p.name] = ctx.envsubst(_text(p.value))
    for name, value in sets.items():
        args += ["--set", f"{name}={clean_set_value(value)}"]
    for name, value in set_strings.items():
        args += ["--set-string", f"{name}={clean_set_value(value)}"]
    for name, f in set_files.items():
        args += ["--set-file", f"{name}={clean_set_value(f.location)}"]
    for f in files:
        args += ["--values", f.location]
    if values_file is not None:
        args += ["--values", str(values_file)]
    for api_version in opts.api_versions or ctx.api_versions:
        args += ["--api-versions", api_version]
    if not opts.skip_crds:
        args.append("--include-crds")
    if opts.skip_schema_validation:
        args.append("--skip-schema-validation")
    if opts.skip_tests:
        args.append("--skip-tests")
    return args
