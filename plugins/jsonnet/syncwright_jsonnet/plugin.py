"""The ``jsonnet`` source type: Argo CD's Directory type with ``*.jsonnet`` files.

Each selected ``*.jsonnet`` file (never ``*.libsonnet``) is evaluated with
the spec's TLAs and extVars (``$VAR`` substituted from the build env, as
Argo CD does), library paths from ``directory.jsonnet.libs`` (relative to
the repo root) plus the app's ``vendor/``; the output is flattened as Argo
CD does. Plain YAML/JSON files of the same source are included exactly as
the directory type reads them (the shared ``select_files``), in walk order.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from syncwright.api import (
    DISCOVERY_PRIORITY,
    Discovered,
    JsonnetOptions,
    ManifestError,
    RenderContext,
    Rendered,
    SelectedFile,
    SourceType,
    SourceTypes,
    SyncwrightError,
    ToolBinary,
    ToolNotFoundError,
    ToolParameter,
    hookimpl,
    read_manifest_file,
    resolve_in_root,
    select_files,
)

from .evaluate import EvalConfig, evaluate_files, max_memory_from_env

TOOL = "jsonnet"
INSTALL_HINT = "pip install jsonnet (the Python bindings, imported as _jsonnet)"
DEFAULT_MAX_OUTPUT = 100 * 1024 * 1024

PARAMETERS = (
    ToolParameter("tlas", "top-level arguments {name, value, code}", "list"),
    ToolParameter("extVars", "external variables {name, value, code}", "list"),
    ToolParameter("libs", "library search paths, relative to the repository root", "list"),
    ToolParameter("recurse", "descend into subdirectories", "bool"),
    ToolParameter("include", "glob of files to include ({a,b} alternation)"),
    ToolParameter("exclude", "glob of files to exclude (wins over include)"),
)


@functools.lru_cache(maxsize=1)
def binding() -> tuple[str | None, str | None]:
    """(module path, version) of the ``_jsonnet`` bindings, or (None, None) if missing."""
    try:
        import _jsonnet
    except ImportError:
        return None, None
    return getattr(_jsonnet, "__file__", "_jsonnet"), str(getattr(_jsonnet, "version", "unknown"))


@hookimpl
def syncwright_source_types() -> SourceTypes:
    path, version = binding()
    return SourceTypes((
        SourceType(
            TOOL,
            "Jsonnet (*.jsonnet evaluated in-process, plus the source's plain YAML/JSON files)",
            tool=ToolBinary("_jsonnet", path, "PYTHONPATH", INSTALL_HINT),
            tool_version=version,
            discover="a *.jsonnet file among the selected files of the source",
            parameters=PARAMETERS,
        ),
    ))


@hookimpl
def syncwright_discover(ctx: RenderContext) -> Discovered | None:
    try:
        files = select_files(ctx.source_dir, ctx.repo_root, ctx.source.directory)
    except SyncwrightError:
        return None  # the render (by whichever tool wins) reports the problem
    first = next((f for f in files if f.is_jsonnet), None)
    if first is None:
        return None
    return Discovered(TOOL, DISCOVERY_PRIORITY[TOOL], f"found {first.rel}")


def _options(ctx: RenderContext) -> JsonnetOptions:
    return ctx.source.directory.jsonnet if ctx.source.directory is not None else JsonnetOptions()


def eval_config(ctx: RenderContext) -> tuple[EvalConfig, list[str]]:
    """The evaluation settings of ``ctx`` and any warnings (e.g. a missing lib dir)."""
    opts = _options(ctx)
    root = ctx.repo_root.resolve()
    warnings: list[str] = []
    app_rel = os.path.relpath(ctx.source_dir.resolve(), root)
    jpaths = [app_rel]
    if (ctx.source_dir / "vendor").is_dir():
        jpaths.append(os.path.join(app_rel, "vendor"))
    for lib in opts.libs:
        # Argo CD: libs are relative to the repository root, not the app path (no envsubst).
        resolved = resolve_in_root(root, lib, base=root, what="jsonnet lib", allow_root=True)
        if not resolved.is_dir():
            warnings.append(f"jsonnet lib {lib!r} is not a directory in the repository; ignored")
            continue
        jpaths.append(os.path.relpath(resolved, root))
    ext_vars = {v.name: ctx.envsubst(v.value) for v in opts.ext_vars if not v.code}
    ext_codes = {v.name: ctx.envsubst(v.value) for v in opts.ext_vars if v.code}
    tla_vars = {v.name: ctx.envsubst(v.value) for v in opts.tlas if not v.code}
    tla_codes = {v.name: ctx.envsubst(v.value) for v in opts.tlas if v.code}
    max_output = ctx.max_output or int(os.environ.get("SYNCWRIGHT_MAX_TOOL_OUTPUT", "") or DEFAULT_MAX_OUTPUT)
    cfg = EvalConfig(
        root=root,
        jpaths=tuple(jpaths),
        ext_vars=ext_vars,
        ext_codes=ext_codes,
        tla_vars=tla_vars,
        tla_codes=tla_codes,
        timeout=ctx.timeout,
        max_output=max_output,
        max_memory=max_memory_from_env(),
    )
    return cfg, warnings


def flatten(value: Any, where: str, out: list[tuple[str, dict[str, Any]]]) -> None:
    """Argo CD's reading of jsonnet output: arrays → elements, an object with ``kind`` →
    itself, any other object → its values; recursively. ``null`` is skipped."""
    if value is None:
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            flatten(item, f"{where}[{i}]", out)
        return
    if isinstance(value, dict):
        if "kind" in value:
            out.append((where, value))
            return
        for key, item in value.items():
            if not isinstance(item, (dict, list)) and item is not None:
                raise ManifestError(
                    f"output{where}.{key} is a {type(item).__name__}: expected a Kubernetes object "
                    "(with kind), an array or an object of objects"
                )
            flatten(item, f"{where}.{key}", out)
        return
    raise ManifestError(
        f"output{where or ''} is a {type(value).__name__}: expected a Kubernetes object, an array or an object of objects"
    )


def objects_from_output(ctx: RenderContext, text: str, source: str) -> list[dict[str, Any]]:
    """Flatten one file's JSON output and validate the objects (Lists flattened, limits)."""
    try:
        value = json.loads(text)
        found: list[tuple[str, dict[str, Any]]] = []
        flatten(value, "", found)
    except ManifestError as e:
        raise e.with_context(source) from None
    except ValueError as e:
        raise ManifestError(f"output is not JSON: {e}", context=source) from None
    if not found:
        return []
    try:  # fast path: one parse of the whole output
        return ctx.parse(json.dumps([o for _, o in found]), source, fmt="json")
    except ManifestError:
        pass
    objs: list[dict[str, Any]] = []
    for where, obj in found:  # slow path, only to name the offending element
        objs.extend(ctx.parse(json.dumps(obj), f"{source} output{where}", fmt="json"))
    return objs


@hookimpl
def syncwright_render(ctx: RenderContext) -> Rendered | None:
    if ctx.tool != TOOL:
        return None
    path, version = binding()
    if path is None:
        raise ToolNotFoundError(f"the jsonnet Python bindings are not installed; {INSTALL_HINT}")
    files: list[SelectedFile] = select_files(ctx.source_dir, ctx.repo_root, ctx.source.directory)
    cfg, warnings = eval_config(ctx)
    jsonnet_files = [f for f in files if f.is_jsonnet]
    names = [os.path.relpath(f.path, cfg.root) for f in jsonnet_files]
    outputs = iter(evaluate_files(names, cfg))  # in the order of jsonnet_files
    manifests: list[dict[str, Any]] = []
    for f in files:
        if f.is_jsonnet:
            manifests.extend(objects_from_output(ctx, next(outputs), f.rel))
        else:
            manifests.extend(read_manifest_file(f))
    return Rendered(tuple(manifests), tool=TOOL, tool_version=version, warnings=tuple(warnings))
