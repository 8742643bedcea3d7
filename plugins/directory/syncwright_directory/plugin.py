"""The ``directory`` source type: every selected ``*.yaml``/``*.yml``/``*.json`` file.

It is the fallback of discovery (``trylast``, priority
``DISCOVERY_PRIORITY["directory"]``): it claims every source, so any source no
other tool recognises renders as plain manifests, as in Argo CD. File
selection and parsing are the core's ``select_files``/``read_manifest_files``,
shared with the jsonnet plugin so both see the same files.
"""

from __future__ import annotations

from syncwright.api import (
    DISCOVERY_PRIORITY,
    Discovered,
    RenderContext,
    Rendered,
    SourceType,
    SourceTypes,
    ToolParameter,
    hookimpl,
    read_manifest_files,
    select_files,
)

TOOL = "directory"

PARAMETERS = (
    ToolParameter("recurse", "descend into subdirectories", "bool"),
    ToolParameter("include", "glob of files to include, relative to the app path ({a,b} alternation)"),
    ToolParameter("exclude", "glob of files to exclude (wins over include)"),
    ToolParameter("disableExtensionFilter", "also read files not named *.yaml/*.yml/*.json", "bool"),
)


@hookimpl
def syncwright_source_types() -> SourceTypes:
    return SourceTypes((
        SourceType(
            TOOL,
            "plain Kubernetes manifests: *.yaml, *.yml, *.json (multi-document YAML, *List flattened)",
            discover="fallback: claims every source no other tool claims",
            parameters=PARAMETERS,
        ),
    ))


@hookimpl(trylast=True)
def syncwright_discover(ctx: RenderContext) -> Discovered:
    return Discovered(TOOL, DISCOVERY_PRIORITY[TOOL], "fallback: plain YAML/JSON manifests")


@hookimpl
def syncwright_render(ctx: RenderContext) -> Rendered | None:
    if ctx.tool != TOOL:
        return None
    files = select_files(ctx.source_dir, ctx.repo_root, ctx.source.directory)
    manifests = read_manifest_files(files)
    skipped = [f.rel for f in files if f.is_jsonnet]
    warnings: tuple[str, ...] = ()
    if skipped:
        shown = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        warnings = (f"skipped {len(skipped)} jsonnet file(s) ({shown}); render with --tool jsonnet",)
    return Rendered(tuple(manifests), tool=TOOL, warnings=warnings)
