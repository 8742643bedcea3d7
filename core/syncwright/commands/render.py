"""``syncwright render``: manifests from an Application file or a source directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..cli import load_hooks


def _kv(values: tuple[str, ...], flag: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"expected NAME=VALUE, got {v!r}", param_hint=flag)
        k, _, val = v.partition("=")
        out.append((k, val))
    return out


def _source_from_flags(path: str, opts: dict[str, Any]) -> dict[str, Any]:
    """Build an Argo CD ``source`` mapping from ``argocd app create``-style flags."""
    src: dict[str, Any] = {"repoURL": "", "path": path}
    helm: dict[str, Any] = {}
    if opts["values"]:
        helm["valueFiles"] = list(opts["values"])
    params: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in _kv(opts["helm_set"], "--helm-set")]
    params += [{"name": k, "value": v, "forceString": True} for k, v in _kv(opts["helm_set_string"], "--helm-set-string")]
    if params:
        helm["parameters"] = params
    if opts["helm_set_file"]:
        helm["fileParameters"] = [{"name": k, "path": v} for k, v in _kv(opts["helm_set_file"], "--helm-set-file")]
    if opts["release_name"]:
        helm["releaseName"] = opts["release_name"]
    if opts["helm_skip_crds"]:
        helm["skipCrds"] = True
    if opts["values_literal_file"]:
        helm["values"] = Path(opts["values_literal_file"]).read_text()
    kust: dict[str, Any] = {}
    if opts["nameprefix"]:
        kust["namePrefix"] = opts["nameprefix"]
    if opts["namesuffix"]:
        kust["nameSuffix"] = opts["namesuffix"]
    if opts["kustomize_image"]:
        kust["images"] = list(opts["kustomize_image"])
    if opts["kustomize_replica"]:
        kust["replicas"] = [{"name": k, "count": int(v)} for k, v in _kv(opts["kustomize_replica"], "--kustomize-replica")]
    if opts["kustomize_common_label"]:
        kust["commonLabels"] = dict(_kv(opts["kustomize_common_label"], "--kustomize-common-label"))
    if opts["kustomize_common_annotation"]:
        kust["commonAnnotations"] = dict(_kv(opts["kustomize_common_annotation"], "--kustomize-common-annotation"))
    if opts["kustomize_namespace"]:
        kust["namespace"] = opts["kustomize_namespace"]
    directory: dict[str, Any] = {}
    if opts["directory_recurse"]:
        directory["recurse"] = True
    if opts["directory_include"]:
        directory["include"] = opts["directory_include"]
    if opts["directory_exclude"]:
        directory["exclude"] = opts["directory_exclude"]
    jsonnet: dict[str, Any] = {}
    tlas: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in _kv(opts["jsonnet_tla_str"], "--jsonnet-tla-str")]
    tlas += [{"name": k, "value": v, "code": True} for k, v in _kv(opts["jsonnet_tla_code"], "--jsonnet-tla-code")]
    ext: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in _kv(opts["jsonnet_ext_var_str"], "--jsonnet-ext-var-str")]
    ext += [{"name": k, "value": v, "code": True} for k, v in _kv(opts["jsonnet_ext_var_code"], "--jsonnet-ext-var-code")]
    if tlas:
        jsonnet["tlas"] = tlas
    if ext:
        jsonnet["extVars"] = ext
    if opts["jsonnet_libs"]:
        jsonnet["libs"] = list(opts["jsonnet_libs"])
    if jsonnet:
        directory["jsonnet"] = jsonnet
    plugin: dict[str, Any] = {}
    if opts["plugin_env"]:
        plugin["env"] = [{"name": k, "value": v} for k, v in _kv(opts["plugin_env"], "--plugin-env")]
    if opts["parameter"]:
        plugin["parameters"] = [{"name": k, "string": v} for k, v in _kv(opts["parameter"], "--parameter")]
    tool = opts["tool"]
    blocks = {"helm": helm, "kustomize": kust, "directory": directory, "plugin": plugin}
    used = [name for name, block in blocks.items() if block]
    if len(used) > 1:
        raise click.UsageError(f"options for several tools given ({', '.join(used)}); a source uses one tool")
    if used:
        src[used[0]] = blocks[used[0]]
    elif tool in ("helm", "kustomize"):
        src[tool] = {}
    return src


@click.command()
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("-f", "--file", "app_file", type=click.Path(exists=True, dir_okay=False), help="An Application manifest.")
@click.option("--app", "app_select", metavar="NAME", help="Which Application of a file holding several.")
@click.option("--tool", help="Skip discovery and render with this tool (see `syncwright plugins`).")
@click.option("--app-name", help="Application name for the build env (default: the directory name).")
@click.option("--namespace", "dest_namespace", default="", help="Destination namespace (ARGOCD_APP_NAMESPACE).")
@click.option("--project", default="default", show_default=True)
@click.option("--repo-root", type=click.Path(exists=True, file_okay=False),
              help="Repository root: paths may not leave it, and the whole tree is checked for escaping "
                   "symlinks (default: the enclosing Git work tree, else PATH; then only PATH is checked).")
@click.option("--revision", default="", help="Revision for ARGOCD_APP_REVISION.")
@click.option("--kube-version", help="Kubernetes version tools target (default documented in README).")
@click.option("--api-versions", multiple=True, help="API versions available (repeatable).")
@click.option("--timeout", type=float, help="Tool timeout in seconds (default 90).")
@click.option("--values", multiple=True, help="Helm value file (repeatable).")
@click.option("--values-literal-file", type=click.Path(exists=True, dir_okay=False), help="Helm values as a file, like spec.helm.values.")
@click.option("--helm-set", multiple=True, metavar="K=V")
@click.option("--helm-set-string", multiple=True, metavar="K=V")
@click.option("--helm-set-file", multiple=True, metavar="K=PATH")
@click.option("--release-name")
@click.option("--helm-skip-crds", is_flag=True)
@click.option("--nameprefix")
@click.option("--namesuffix")
@click.option("--kustomize-image", multiple=True)
@click.option("--kustomize-replica", multiple=True, metavar="NAME=COUNT")
@click.option("--kustomize-common-label", multiple=True, metavar="K=V")
@click.option("--kustomize-common-annotation", multiple=True, metavar="K=V")
@click.option("--kustomize-namespace")
@click.option("--directory-recurse", is_flag=True)
@click.option("--directory-include")
@click.option("--directory-exclude")
@click.option("--jsonnet-tla-str", multiple=True, metavar="K=V")
@click.option("--jsonnet-tla-code", multiple=True, metavar="K=CODE")
@click.option("--jsonnet-ext-var-str", multiple=True, metavar="K=V")
@click.option("--jsonnet-ext-var-code", multiple=True, metavar="K=CODE")
@click.option("--jsonnet-libs", multiple=True)
@click.option("--plugin-env", multiple=True, metavar="K=V")
@click.option("-p", "--parameter", multiple=True, metavar="K=V", help="CMP parameter (string).")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--hard-refresh", is_flag=True, help="Bypass the revision and manifest caches (remote sources).")
@click.option("--credentials", type=click.Path(dir_okay=False), help="Repository credentials file (env SYNCWRIGHT_CREDENTIALS).")
@click.pass_context
def render(ctx: click.Context, /, path: str | None, app_file: str | None, app_select: str | None, **opts: Any) -> None:
    """Render PATH (a source directory) or -f APP.yaml to manifests on stdout.

    Exit status 0 on success; 1 with a message on stderr otherwise. Nothing is
    printed unless the whole render succeeded.
    """
    from ..api import DEFAULT_API_VERSIONS, DEFAULT_KUBE_VERSION
    from ..manifests import dump_yaml
    from ..model import load_applications, parse_source
    from ..paths import find_repo_root
    from ..render import BuildInfo, render_application, render_source
    from ..errors import SpecError

    if bool(path) == bool(app_file):
        raise click.UsageError("give exactly one of PATH or -f APP.yaml")
    hooks = load_hooks(ctx)
    kube_version = opts["kube_version"] or DEFAULT_KUBE_VERSION
    api_versions = tuple(opts["api_versions"]) or DEFAULT_API_VERSIONS
    if app_file:
        from .appstate import pick_app, render_for_app

        app = pick_app(app_file, app_select)
        info = BuildInfo(app.name, app.dest_namespace, app.spec.project, opts["revision"],
                         kube_version, api_versions, opts["timeout"])
        manifests = render_for_app(hooks, app, Path(app_file).resolve().parent, info,
                                   hard_refresh=opts["hard_refresh"], tool=opts["tool"],
                                   credentials=opts["credentials"])
    else:
        assert path is not None
        src_dir = Path(path).resolve()
        root = Path(opts["repo_root"]).resolve() if opts["repo_root"] else find_repo_root(src_dir)
        try:
            rel = src_dir.relative_to(root)
        except ValueError:
            raise click.UsageError("PATH must be inside --repo-root") from None
        raw = _source_from_flags(str(rel) if str(rel) != "." else "", opts)
        try:
            source = parse_source(raw, "command-line options")
        except SpecError as e:
            raise click.UsageError(str(e)) from None
        info = BuildInfo(opts["app_name"] or src_dir.name.lower(), opts["dest_namespace"], opts["project"],
                         opts["revision"], kube_version, api_versions, opts["timeout"])
        manifests = list(render_source(hooks, source, root, info, tool=opts["tool"],
                                       check_whole_root=bool(opts["repo_root"])).manifests)
    if opts["output"] == "json":
        text = json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests}, indent=2) + "\n"
    else:
        text = dump_yaml(manifests)
    sys.stdout.write(text)
