"""The ``kustomize`` source type: hook implementations.

Render = (apply the spec's kustomize options to a private copy, as Argo CD's
``kustomize edit`` calls would) → ``kustomize build DIR`` or ``kubectl
kustomize DIR`` with ``$SYNCWRIGHT_KUSTOMIZE_BUILD_OPTIONS`` → parse. With no
option set, the checkout is built in place (read only, no copy).
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from dataclasses import replace
from pathlib import Path

from syncwright.api import (
    DISCOVERY_PRIORITY,
    Discovered,
    RenderContext,
    RenderError,
    Rendered,
    SourceType,
    SourceTypes,
    SpecError,
    ToolError,
    ToolParameter,
    hookimpl,
)

from .edits import (
    KUSTOMIZATION_NAMES,
    EditPlan,
    apply_edits,
    dump_kustomization,
    find_kustomization,
    load_kustomization,
    plan_edits,
)
from .preflight import check_tree, is_remote
from .tool import BUILD_OPTIONS_ENV, build_argv, build_options, cached_version, find_builder, tool_version

TOOL = "kustomize"

PARAMETERS = (
    ToolParameter("namePrefix", "prefix for every resource name (kustomize edit set nameprefix)"),
    ToolParameter("nameSuffix", "suffix for every resource name (kustomize edit set namesuffix)"),
    ToolParameter("images", "image overrides, merged by name; $VAR substituted", "list"),
    ToolParameter("replicas", "replica counts by resource name", "list"),
    ToolParameter("commonLabels", "labels for every resource (and selectors); $VAR substituted", "map"),
    ToolParameter("commonAnnotations", "annotations for every resource", "map"),
    ToolParameter("commonAnnotationsEnvsubst", "substitute $VAR in commonAnnotations values", "bool"),
    ToolParameter("forceCommonLabels", "override labels the kustomization already sets", "bool"),
    ToolParameter("forceCommonAnnotations", "override annotations the kustomization already sets", "bool"),
    ToolParameter("labelWithoutSelector", "add commonLabels without touching selectors", "bool"),
    ToolParameter("labelIncludeTemplates", "with labelWithoutSelector: label pod templates too", "bool"),
    ToolParameter("namespace", "namespace for every namespaced resource"),
    ToolParameter("patches", "patches appended to the kustomization's patches", "list"),
    ToolParameter("components", "components added to the kustomization", "list"),
    ToolParameter("ignoreMissingComponents", "skip components that do not exist", "bool"),
    ToolParameter("kubeVersion", "Kubernetes version for helm charts (with --enable-helm)"),
    ToolParameter("apiVersions", "API versions for helm charts (with --enable-helm)", "list"),
    ToolParameter("version", "use the kustomize registered as $SYNCWRIGHT_KUSTOMIZE_<VERSION>"),
)

DISCOVER_RULE = "the app directory holds " + ", ".join(KUSTOMIZATION_NAMES[:-1]) + f" or {KUSTOMIZATION_NAMES[-1]}"


@hookimpl
def syncwright_source_types(versions: bool) -> SourceTypes:
    """Announce the ``kustomize`` type, the binary that builds and (if asked) its kustomize version."""
    builder = find_builder()
    return SourceTypes((
        SourceType(
            name=TOOL,
            description="kustomize build (a kustomize binary, else kubectl kustomize) with Argo CD's kustomize options; "
                        f"build options from ${BUILD_OPTIONS_ENV}",
            tool=builder.binary,
            tool_version=tool_version(builder) if versions else None,
            discover=DISCOVER_RULE,
            parameters=PARAMETERS,
        ),
    ))


@hookimpl
def syncwright_discover(ctx: RenderContext) -> Discovered | None:
    """Claim a directory holding a kustomization file (Argo CD's detection files)."""
    found = find_kustomization(ctx.source_dir)
    if found is None:
        return None
    return Discovered(TOOL, DISCOVERY_PRIORITY[TOOL], f"found {found.name}")


@hookimpl
def syncwright_render(ctx: RenderContext) -> Rendered | None:
    """Build the kustomization in ``ctx.source_dir`` (edited on a private copy if options are set)."""
    if ctx.tool != TOOL:
        return None
    root = ctx.repo_root.resolve()
    app_rel = _rel(ctx.source_dir, root)
    if find_kustomization(ctx.source_dir) is None:
        raise RenderError(f"{app_rel}: no {', '.join(KUSTOMIZATION_NAMES)} in the app path")
    opts = ctx.source.kustomize
    plan, warnings = _checked_plan(ctx, plan_edits(opts, ctx.envsubst))
    options = build_options()
    builder = find_builder(opts.version if opts else "")
    builder.binary.require()

    check_tree(ctx.source_dir, root)  # on the checkout: paths mean what the user sees
    if plan.is_empty():
        build_dir, build_root = ctx.source_dir.resolve(), root
    else:
        build_dir, build_root = _edited_copy(ctx, plan, app_rel)
    kube_version = (opts.kube_version if opts else "") or ctx.kube_version
    api_versions = (opts.api_versions if opts else ()) or ctx.api_versions
    argv = build_argv(builder, build_dir, options, kube_version=kube_version, api_versions=tuple(api_versions))
    try:
        result = ctx.run(argv, cwd=build_root, what=builder.label)
    except ToolError as e:
        message = _unroot(tidy_stderr(e.message), build_root, root)
        raise type(e)(message, context=e.context) from e
    manifests = ctx.parse(result.stdout, f"{builder.label} output for {app_rel}")
    return Rendered(manifests=tuple(manifests), tool=TOOL, tool_version=cached_version(builder.binary.path),
                    warnings=warnings)


def _checked_plan(ctx: RenderContext, plan: EditPlan) -> tuple[EditPlan, tuple[str, ...]]:
    """Keep spec paths inside the repo; drop missing components (with a warning) when the spec allows it."""
    warnings: list[str] = []
    for i, patch in enumerate(plan.patches):
        if patch.get("path"):
            ctx.resolve(str(patch["path"]), what=f"spec.source.kustomize.patches[{i}].path")
        if not patch.get("path") and not patch.get("patch"):
            raise SpecError(f"spec.source.kustomize.patches[{i}]: needs a path or a patch")
    components = []
    for comp in plan.components:
        if is_remote(comp) or any(ch in comp for ch in "*?["):
            components.append(comp)
            continue
        target = ctx.resolve(comp, what="spec.source.kustomize.components entry")
        if not target.exists():
            if plan.ignore_missing_components:
                warnings.append(f"kustomize component {comp!r} does not exist; skipped (ignoreMissingComponents)")
                continue
            raise SpecError(f"spec.source.kustomize.components: {comp!r} does not exist "
                            "(set ignoreMissingComponents to skip missing components)")
        components.append(comp)
    return replace(plan, components=tuple(components), ignore_missing_components=False), tuple(warnings)


def _edited_copy(ctx: RenderContext, plan: EditPlan, app_rel: str) -> tuple[Path, Path]:
    """Apply ``plan`` to the kustomization in a private copy; return (app dir, repo root) of the copy."""
    build_dir = ctx.writable_dir().resolve()
    depth = 0 if app_rel == "." else len(Path(app_rel).parts)
    build_root = build_dir.parents[depth - 1] if depth else build_dir
    kfile = find_kustomization(build_dir)
    assert kfile is not None  # checked on the source before copying
    shown = kfile.name if app_rel == "." else f"{app_rel}/{kfile.name}"
    doc = apply_edits(load_kustomization(kfile, shown), plan, build_dir, shown)
    mode = kfile.stat().st_mode
    if kfile.is_symlink():  # never write through a link into another file of the copy
        kfile.unlink()
    kfile.write_text(dump_kustomization(doc), encoding="utf-8")
    os.chmod(kfile, mode & 0o7777)
    return build_dir, build_root


def _rel(path: Path, root: Path) -> str:
    try:
        rel = path.resolve().relative_to(root)
    except ValueError:
        return str(path)
    return str(rel) if str(rel) != "." else "."


_KLOG = re.compile(
    r'[EWIF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] "command failed" err=(?:"((?:[^"\\]|\\.)*)"|<\n(.*?)\n\s*>)', re.S
)


def tidy_stderr(message: str) -> str:
    """Unwrap kubectl's klog line (``E1126 ... "command failed" err="..."``) into kustomize's plain error."""

    def plain(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            try:
                return "error: " + str(json.loads(f'"{m.group(1)}"'))
            except ValueError:
                return "error: " + m.group(1)
        return "error: " + textwrap.dedent(m.group(2)).strip()

    return _KLOG.sub(plain, message)


def _unroot(message: str, *roots: Path) -> str:
    """Show repo paths relative to the repository (as Argo CD does), not this machine's temp dirs."""
    for r in roots:
        message = message.replace(str(r) + "/", "").replace(str(r), ".")
    return message
