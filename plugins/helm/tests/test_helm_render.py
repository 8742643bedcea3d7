"""The helm plugin against raw ``helm template``: the example app, object by object, CLI and library."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from syncwright.api import DEFAULT_API_VERSIONS, DEFAULT_KUBE_VERSION, RenderContext, Source
from syncwright.cli import main
from syncwright.model import load_applications
from syncwright.plugins import Hooks
from syncwright.render import BuildInfo, render_application, render_source
from syncwright_helm import plugin

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
APP_FILE = EXAMPLES / "apps" / "helm-app.yaml"
Raw = Callable[..., list[dict[str, Any]]]


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def _api_version_args(versions: tuple[str, ...] = DEFAULT_API_VERSIONS) -> list[str]:
    return [arg for v in versions for arg in ("--api-versions", v)]


def _example_raw_args() -> list[str]:
    """What Argo CD passes for examples/apps/helm-app.yaml, written out by hand."""
    return [
        "--name-template", "shop", "--namespace", "helm-app", "--kube-version", DEFAULT_KUBE_VERSION,
        "--set", "web.replicas=3",
        "--set", r"web.greeting=hello from helm-app\, with commas\, escaped",
        "--values", "values.yaml", "--values", "values-prod.yaml",
        *_api_version_args(), "--include-crds",
    ]


def test_example_app_cli_matches_raw_helm(raw_helm: Raw) -> None:
    result = CliRunner().invoke(main, ["render", "-f", str(APP_FILE)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ours = _docs(result.stdout)
    expected = raw_helm(EXAMPLES / "helm-app", *_example_raw_args())
    assert len(ours) == len(expected) == 7
    for mine, theirs in zip(ours, expected, strict=True):
        assert mine == theirs


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_mtime_ns, p.lstat().st_size) for p in root.rglob("*")}


def test_example_app_library_matches_raw_helm(raw_helm: Raw) -> None:
    app = load_applications(APP_FILE)[0]
    before = _tree(EXAMPLES / "helm-app")
    manifests = render_application(Hooks.load(), app, APP_FILE.parent)
    assert _tree(EXAMPLES / "helm-app") == before  # rendered from the checkout, nothing written
    assert manifests == raw_helm(EXAMPLES / "helm-app", *_example_raw_args())


def test_example_app_content(raw_helm: Raw) -> None:
    """Two value files, a parameter, releaseName, the vendored subchart and both hooks."""
    app = load_applications(APP_FILE)[0]
    by_name = {m["metadata"]["name"]: m for m in render_application(Hooks.load(), app, APP_FILE.parent)}
    deployments = [m for m in by_name.values() if m["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"shop-web", "shop-cache"}  # subchart rendered
    web = next(d for d in deployments if d["metadata"]["name"] == "shop-web")
    assert web["spec"]["replicas"] == 3  # parameter beats values-prod.yaml (2) and values.yaml (1)
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27.3"  # values-prod.yaml
    assert by_name["shop-web-config"]["data"]["GREETING"] == "hello from helm-app, with commas, escaped"
    migrate = by_name["shop-web-migrate"]["metadata"]["annotations"]
    assert migrate == {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5"}
    smoke = by_name["shop-web-smoke-test"]["metadata"]["annotations"]
    assert smoke["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert smoke["helm.sh/hook"] == "post-install,post-upgrade"


def test_render_directory_with_flags_matches_raw(raw_helm: Raw) -> None:
    args = ["render", str(EXAMPLES / "helm-app"), "--repo-root", str(EXAMPLES), "--namespace", "web",
            "--values", "values-prod.yaml", "--helm-set", "cache.enabled=false", "--release-name", "r1", "-o", "json"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ours = json.loads(result.stdout)["items"]
    expected = raw_helm(
        EXAMPLES / "helm-app", "--name-template", "r1", "--namespace", "web", "--kube-version", DEFAULT_KUBE_VERSION,
        "--set", "cache.enabled=false", "--values", "values-prod.yaml", *_api_version_args(), "--include-crds",
    )
    assert ours == expected
    assert not any(m["metadata"]["name"] == "r1-cache" for m in ours)  # condition cache.enabled


def test_discover_claims_chart_dirs_only(small_chart: Path, tmp_path: Path) -> None:
    src = Source.model_validate({"repoURL": "", "path": "small"})
    ctx = RenderContext(app_name="a", app_namespace="", source=src, source_dir=small_chart, repo_root=small_chart.parent)
    found = plugin.syncwright_discover(ctx)
    assert found is not None and found.tool == "helm" and found.priority == 100
    other = tmp_path / "plain"
    other.mkdir()
    ctx2 = RenderContext(app_name="a", app_namespace="", source=src, source_dir=other, repo_root=tmp_path)
    assert plugin.syncwright_discover(ctx2) is None
    assert plugin.syncwright_render(ctx2) is None  # ctx.tool is not helm


def test_plugins_command_lists_helm_with_version(helm_bin: str) -> None:
    result = CliRunner().invoke(main, ["plugins", "-o", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = result.stdout
    version = subprocess.run([helm_bin, "version", "--short"], capture_output=True, text=True).stdout.strip()
    assert "syncwright-helm" in text and version and version in text


def test_release_name_defaults_to_app_name(small_chart: Path, raw_helm: Raw) -> None:
    src = Source.model_validate({"repoURL": "", "path": "small", "helm": {}})
    rendered = render_source(Hooks.load(), src, small_chart.parent, BuildInfo("my-app", "ns1"))
    assert rendered.tool == "helm" and rendered.manifests[0]["data"]["release"] == "my-app"
    assert list(rendered.manifests) == raw_helm(
        small_chart, "--name-template", "my-app", "--namespace", "ns1", "--kube-version", DEFAULT_KUBE_VERSION,
        *_api_version_args(), "--include-crds",
    )


def test_user_helm_config_and_home_are_not_used(small_chart: Path, sw: Any, tmp_path: Path) -> None:
    """A private helm home per render: the user's HOME is neither read for helm config nor written."""
    home = tmp_path / "home"
    (home / ".config" / "helm").mkdir(parents=True)
    # A user's helm config that would break or change the render if it were read.
    (home / ".config" / "helm" / "repositories.yaml").write_text("not: [valid\n")
    (home / ".kube").mkdir()
    (home / ".kube" / "config").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n"
        "- name: c\n  context: {cluster: x, user: u, namespace: leaked-ns}\n"
        "clusters:\n- name: x\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user: {}\n"
    )
    (small_chart / "templates" / "ns.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ns\ndata:\n  ns: {{ .Release.Namespace }}\n"
    )
    before = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    proc = sw("render", str(small_chart), "--repo-root", str(small_chart.parent),
              env={"HOME": str(home), "HELM_NAMESPACE": "leaked-env", "XDG_CACHE_HOME": str(home / ".cache")})
    assert proc.returncode == 0, proc.stderr
    ns = next(d for d in _docs(proc.stdout) if d["metadata"]["name"] == "ns")
    assert ns["data"]["ns"] == "default"
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == before
