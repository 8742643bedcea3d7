"""The ``helm`` source type: ``helm template`` with Argo CD's options and precedence.

Discovery: a ``Chart.yaml`` in the app directory (Argo CD's rule), priority
``DISCOVERY_PRIORITY["helm"]``. Rendering runs helm with a private, empty
helm home (cache, config, data and a non-existent kubeconfig under
``ctx.scratch_dir()``) so nothing from the user's helm set-up leaks in and
nothing is written to ``$HOME``. The chart is read from the checkout as is;
only when a declared dependency is missing from ``charts/`` is the source
copied (``ctx.writable_dir()``) and ``helm dependency build`` run there.
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from pathlib import Path

from syncwright.api import (
    DISCOVERY_PRIORITY,
    Discovered,
    HelmOptions,
    RenderContext,
    Rendered,
    RenderError,
    SourceType,
    SourceTypes,
    ToolBinary,
    ToolParameter,
    find_tool,
    hookimpl,
)

from . import args as helm_args
from .deps import build_dependencies, load_chart_meta, missing_dependencies

TOOL = "helm"
ENV_VAR = "SYNCWRIGHT_HELM"
INSTALL_HINT = "install it with `make tools` or see https://helm.sh/docs/intro/install/"
VERSION_TIMEOUT = 10.0

PARAMETERS = (
    ToolParameter("valueFiles", "value files, in order (relative to the app path; absolute = repo root; $ref/...; http(s) URL)", "list"),
    ToolParameter("values", "inline values YAML (a string)"),
    ToolParameter("valuesObject", "inline values as an object; wins over values", "object"),
    ToolParameter("parameters", "--set / --set-string (forceString) name=value pairs; $VAR substituted", "list"),
    ToolParameter("fileParameters", "--set-file name=path pairs; path checked like value files", "list"),
    ToolParameter("releaseName", "release name (default: the app name)"),
    ToolParameter("namespace", "release namespace (default: the destination namespace)"),
    ToolParameter("skipCrds", "omit crds/ (default: --include-crds)", "bool"),
    ToolParameter("skipSchemaValidation", "--skip-schema-validation", "bool"),
    ToolParameter("skipTests", "--skip-tests", "bool"),
    ToolParameter("ignoreMissingValueFiles", "skip value files that do not exist", "bool"),
    ToolParameter("kubeVersion", "--kube-version (default: the cluster's, or the documented default)"),
    ToolParameter("apiVersions", "--api-versions (default: the cluster's, or the documented default)", "list"),
)

#: Versions already asked for, by binary path: read by ``render`` without running helm.
_KNOWN_VERSIONS: dict[str, str | None] = {}


def helm_binary() -> ToolBinary:
    """Where helm is: ``$SYNCWRIGHT_HELM``, else PATH, else the running venv's bin."""
    return find_tool(TOOL, ENV_VAR, INSTALL_HINT)


@functools.lru_cache(maxsize=16)
def helm_version(path: str) -> str | None:
    """``helm version --short`` (e.g. ``v4.1.4+g05fa379``), once per binary; None if it fails."""
    try:
        with tempfile.TemporaryDirectory(prefix="sw-helm-") as home:
            proc = subprocess.run(
                [path, "version", "--short"],
                capture_output=True,
                timeout=VERSION_TIMEOUT,
                env={"PATH": os.environ.get("PATH", ""), "HOME": home, **private_helm_env(Path(home))},
                check=False,
            )
    except (OSError, subprocess.TimeoutExpired):
        version = None
    else:
        text = proc.stdout.decode("utf-8", errors="replace").strip()
        version = text.splitlines()[0] if proc.returncode == 0 and text else None
    _KNOWN_VERSIONS[path] = version
    return version


@hookimpl
def syncwright_source_types(versions: bool) -> SourceTypes:
    binary = helm_binary()
    return SourceTypes((
        SourceType(
            name=TOOL,
            description="Helm chart rendered with `helm template` (Argo CD value precedence)",
            tool=binary,
            tool_version=helm_version(binary.path) if (binary.path and versions) else None,
            discover="a Chart.yaml in the app directory",
            parameters=PARAMETERS,
        ),
    ))


@hookimpl
def syncwright_discover(ctx: RenderContext) -> Discovered | None:
    if (ctx.source_dir / "Chart.yaml").is_file():
        return Discovered(TOOL, DISCOVERY_PRIORITY[TOOL], "Chart.yaml found")
    return None


@hookimpl
def syncwright_render(ctx: RenderContext) -> Rendered | None:
    if ctx.tool != TOOL:
        return None
    if ctx.source.chart:
        raise RenderError(
            f"chart {ctx.source.chart!r} from a Helm repository needs the repo service; "
            "this build renders charts from a path in a local repository"
        )
    helm = helm_binary().require()
    opts = ctx.source.helm or HelmOptions()
    meta = load_chart_meta(ctx.source_dir, label=f"{ctx.source.path or '.'}/Chart.yaml")
    chart_label = f"chart {meta.get('name') or ctx.source.path or '.'}"

    # Resolve and check every user path before running anything.
    files, warnings = helm_args.value_files(ctx, opts)
    set_files = helm_args.file_parameters(ctx, opts)
    inline = helm_args.inline_values(opts)

    env = private_helm_env(ctx.scratch_dir())
    values_file: Path | None = None
    if inline is not None:
        values_file = ctx.scratch_dir() / "values.yaml"  # a random, private dir (CVE-2023-40026)
        values_file.write_text(inline, encoding="utf-8")

    chart_dir = ctx.source_dir
    missing = missing_dependencies(chart_dir, meta)
    if missing:
        chart_dir = build_dependencies(ctx, helm, env, missing)

    argv = [helm, *helm_args.template_args(ctx, opts, values_file=values_file, files=files, set_files=set_files)]
    result = ctx.run(argv, cwd=chart_dir, env=env, what="helm template")
    manifests = ctx.parse(result.stdout, f"helm template ({chart_label})")
    return Rendered(
        manifests=tuple(manifests), tool=TOOL, tool_version=_KNOWN_VERSIONS.get(helm), warnings=tuple(warnings)
    )


def private_helm_env(home: Path) -> dict[str, str]:
    """Helm's homes inside ``home``: no user repos, plugins, registry logins or kube context."""
    return {
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        # helm template reads the kubeconfig only for the default namespace; keep it "default".
        "KUBECONFIG": str(home / "no-kubeconfig"),
    }
