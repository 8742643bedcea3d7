"""The kustomize plugin against the raw tool, object by object, with and without spec options."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncwright.api import RenderContext, Source
from syncwright_kustomize import plugin
from syncwright_kustomize.edits import KUSTOMIZATION_NAMES

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
KAPP = EXAMPLES / "kustomize-app"
Render = Callable[..., list[dict[str, Any]]]
Raw = Callable[..., list[dict[str, Any]]]
Write = Callable[[Path, Mapping[str, str]], Path]
Snap = Callable[[Path], dict[str, bytes]]


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


@pytest.mark.parametrize("path", ["base", "overlays/dev", "overlays/staging", "overlays/prod", "."])
def test_example_matches_raw_tool(render: Render, raw_build: Raw, path: str) -> None:
    """No options: the plugin's objects are the raw tool's, in the same order."""
    ours = render(KAPP, "" if path == "." else path)
    raw = raw_build(KAPP / path)
    assert len(raw) > 0
    assert ours == raw


def test_cli_renders_example_dir_and_app_files(sw: Callable[..., Any], raw_build: Raw) -> None:
    whole = sw("render", "examples/kustomize-app")
    assert whole.returncode == 0, whole.stderr
    assert docs(whole.stdout) == raw_build(KAPP)
    assert len(docs(whole.stdout)) == 10  # 3 overlays × (ConfigMap, Service, Deployment) + prod's HPA
    for app in ("kustomize-app", "kustomize-app-prod"):
        proc = sw("render", "-f", f"examples/apps/{app}.yaml")
        assert proc.returncode == 0, proc.stderr
        assert docs(proc.stdout), app


STAGING_BY_HAND = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: guestbook-staging
namePrefix: sw-
resources:
  - ../../base
components:
  - ../../components/monitoring
replicas:
  - name: guestbook
    count: 2
commonAnnotations:
  example.com/environment: staging
images:
  - name: ghcr.io/example/guestbook
    newTag: 1.2.3
  - name: nginx
    newName: registry.example.com/mirror/nginx
    newTag: 1.27.3
commonLabels:
  app.kubernetes.io/instance: kustomize-app
  team: web
"""


def test_app_options_match_hand_edited_kustomization(sw: Callable[..., Any], raw_build: Raw, example_copy: Path) -> None:
    """examples/apps/kustomize-app.yaml == raw kustomize on the overlay edited by hand the same way."""
    (example_copy / "overlays/staging/kustomization.yaml").write_text(STAGING_BY_HAND)
    expected = raw_build(example_copy / "overlays/staging")
    proc = sw("render", "-f", "examples/apps/kustomize-app.yaml")
    assert proc.returncode == 0, proc.stderr
    assert docs(proc.stdout) == expected
    deployment = next(o for o in expected if o["kind"] == "Deployment")
    assert deployment["metadata"]["name"] == "sw-guestbook"
    assert [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]] == [
        "ghcr.io/example/guestbook:1.2.3", "registry.example.com/mirror/nginx:1.27.3"]


def test_prod_app_options_match_hand_edited_kustomization(
    render: Render, raw_build: Raw, example_copy: Path
) -> None:
    app = yaml.safe_load((EXAMPLES / "apps/kustomize-app-prod.yaml").read_text())
    spec = app["spec"]["source"]["kustomize"]
    prod = example_copy / "overlays/prod/kustomization.yaml"
    k = yaml.safe_load(prod.read_text())
    k["nameSuffix"] = "-v2"
    k["namespace"] = "guestbook-prod-v2"
    k["replicas"] = [{"name": "guestbook", "count": 5}]
    k["labels"] = [{"pairs": {"app.kubernetes.io/managed-by": "syncwright"}}]
    k["commonAnnotations"] = {"example.com/app": "kustomize-app-prod", "example.com/owner": "platform-team"}
    k["patches"].append(spec["patches"][0])
    k["components"] = ["../../components/monitoring"]
    prod.write_text(yaml.safe_dump(k))
    expected = raw_build(example_copy / "overlays/prod")
    ours = render(KAPP, "overlays/prod", spec, app="kustomize-app-prod")
    assert ours == expected
    assert render.last.warnings == ("kustomize component '../../components/not-there' does not exist; "
                                    "skipped (ignoreMissingComponents)",)
    hpa = next(o for o in ours if o["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["maxReplicas"] == 20


LITERAL_APP = {
    "app/kustomization.yaml": "resources:\n  - cm.yaml\n  - deploy.yaml\n",
    "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: '1'\n",
    "app/deploy.yaml": textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: 1
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: nginx:1.0
        """),
}


def test_options_against_literal_expected_output(render: Render, tmp_path: Path, write: Write, snapshot: Snap) -> None:
    root = write(tmp_path / "repo", LITERAL_APP)
    before = snapshot(root)
    ours = render(root, "app", {
        "namePrefix": "p-", "nameSuffix": "-s", "namespace": "ns1",
        "images": ["nginx=mirror/nginx:2.0"], "replicas": [{"name": "web", "count": "3"}],
        "commonLabels": {"env": "$ARGOCD_APP_NAME"},
        "commonAnnotations": {"note": "$ARGOCD_APP_NAME"},  # no commonAnnotationsEnvsubst: kept literally
    }, app="lit-app")
    labels = {"env": "lit-app"}
    annotations = {"note": "$ARGOCD_APP_NAME"}
    assert ours == [
        {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"},
         "metadata": {"name": "p-settings-s", "namespace": "ns1", "labels": labels, "annotations": annotations}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "p-web-s", "namespace": "ns1", "labels": labels, "annotations": annotations},
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "env": "lit-app"}},
                  "template": {"metadata": {"labels": {"app": "web", "env": "lit-app"}, "annotations": annotations},
                               "spec": {"containers": [{"name": "web", "image": "mirror/nginx:2.0"}]}}}},
    ]
    assert snapshot(root) == before


def test_checkout_untouched_after_render_with_options(render: Render, example_copy: Path, snapshot: Snap) -> None:
    before = snapshot(example_copy)
    spec = yaml.safe_load((EXAMPLES / "apps/kustomize-app-prod.yaml").read_text())["spec"]["source"]["kustomize"]
    assert render(example_copy, "overlays/prod", spec)
    assert render(example_copy, "overlays/staging", {"namePrefix": "x-", "images": ["nginx:2"]})
    assert snapshot(example_copy) == before


@pytest.mark.parametrize("name", KUSTOMIZATION_NAMES)
def test_discovers_each_kustomization_name(render: Render, raw_build: Raw, tmp_path: Path, write: Write, name: str) -> None:
    root = write(tmp_path / "repo", {f"app/{name}": "resources:\n  - cm.yaml\n", "app/cm.yaml": LITERAL_APP["app/cm.yaml"]})
    assert render(root, "app") == raw_build(root / "app")  # the fixture asserts the kustomize tool was chosen


def test_discover_hook_claims_only_kustomizations(tmp_path: Path, write: Write) -> None:
    root = write(tmp_path / "repo", {"k/kustomization.yml": "resources: []\n", "plain/cm.yaml": "a: 1\n"})

    def ctx(path: str) -> RenderContext:
        return RenderContext(app_name="a", app_namespace="", source=Source.model_validate({"repoURL": "", "path": path}),
                             source_dir=root / path, repo_root=root)

    found = plugin.syncwright_discover(ctx("k"))
    assert found is not None and (found.tool, found.priority) == ("kustomize", 200)
    assert plugin.syncwright_discover(ctx("plain")) is None
    assert plugin.syncwright_render(ctx("k")) is None  # ctx.tool is not kustomize


def test_build_options_from_env(
    render: Render, raw_build: Raw, tmp_path: Path, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--load-restrictor LoadRestrictionsNone`` lets a kustomization read a file beside its root."""
    root = write(tmp_path / "repo", {
        "app/kustomization.yaml": "resources:\n  - ../shared/cm.yaml\n",
        "shared/cm.yaml": LITERAL_APP["app/cm.yaml"],
    })
    monkeypatch.delenv("SYNCWRIGHT_KUSTOMIZE_BUILD_OPTIONS", raising=False)
    with pytest.raises(Exception, match="is not in or below"):
        render(root, "app")
    monkeypatch.setenv("SYNCWRIGHT_KUSTOMIZE_BUILD_OPTIONS", "--load-restrictor LoadRestrictionsNone")
    ours = render(root, "app", {"namePrefix": "n-"})
    assert [o["metadata"]["name"] for o in ours] == ["n-settings"]
    assert render(root, "app") == raw_build(root / "app", "--load-restrictor", "LoadRestrictionsNone")


def test_enable_helm_uses_syncwright_helm(
    render: Render, tmp_path: Path, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--enable-helm``: helm charts inflate with syncwright's helm and the app's kube version."""
    pinned = Path(sys.executable).parent / "kubectl"
    helm = Path(sys.executable).parent / "helm"
    if not pinned.exists() or not helm.exists() or shutil.which("kustomize"):
        pytest.skip("needs the project's pinned kubectl (kustomize >= 5.6 runs helm v4) and helm (`make tools`)")
    monkeypatch.setenv("SYNCWRIGHT_KUBECTL", str(pinned))
    monkeypatch.setenv("SYNCWRIGHT_HELM", str(helm))
    monkeypatch.setenv("SYNCWRIGHT_KUSTOMIZE_BUILD_OPTIONS", "--enable-helm")
    root = write(tmp_path / "repo", {
        "app/kustomization.yaml": "helmGlobals:\n  chartHome: charts\nhelmCharts:\n"
                                  "  - name: mini\n    releaseName: rel\n    valuesInline:\n      greeting: hi\n",
        "app/charts/mini/Chart.yaml": "apiVersion: v2\nname: mini\nversion: 0.1.0\n",
        "app/charts/mini/values.yaml": "greeting: default\n",
        "app/charts/mini/templates/cm.yaml": textwrap.dedent("""\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {{ .Release.Name }}-cfg
            data:
              greeting: {{ .Values.greeting | quote }}
              kube: {{ .Capabilities.KubeVersion.Version | quote }}
            """),
    })
    ours = render(root, "app", {"namePrefix": "k-", "kubeVersion": "1.29.3"})
    assert ours == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "k-rel-cfg"},
                     "data": {"greeting": "hi", "kube": "v1.29.3"}}]


@pytest.mark.parametrize(("files", "winner"), [
    ({"kustomization.yaml": "resources: []\n", "Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n"}, "helm"),
    ({"kustomization.yaml": "resources: []\n", "main.jsonnet": "{}\n", "cm.yaml": "a: 1\n"}, "kustomize"),
])
def test_discovery_precedence_with_other_plugins(hooks: Any, tmp_path: Path, write: Write,
                                                 files: dict[str, str], winner: str) -> None:
    """Argo CD's order, as priorities: helm (100) beats kustomize (200) beats jsonnet and directory."""
    if winner not in {t.name for t in hooks.source_types()}:
        pytest.skip(f"the {winner} plugin is not installed")
    root = write(tmp_path / "repo", {f"app/{k}": v for k, v in files.items()})
    ctx = RenderContext(app_name="a", app_namespace="", source=Source.model_validate({"repoURL": "", "path": "app"}),
                        source_dir=root / "app", repo_root=root)
    found = hooks.discover(ctx)
    assert found is not None and found.tool == winner


@pytest.mark.parametrize("binary", ["kustomize", "kubectl"])
def test_each_available_builder_matches_its_raw_output(
    render: Render, monkeypatch: pytest.MonkeyPatch, binary: str
) -> None:
    """`kustomize build` when a kustomize binary exists, else/also `kubectl kustomize`: same objects as raw."""
    from syncwright.api import find_tool

    found = find_tool(binary, f"SYNCWRIGHT_{binary.upper()}", "")
    if found.path is None:
        pytest.skip(f"no {binary} binary here")
    if binary == "kubectl":  # hide any standalone kustomize so the plugin falls back to kubectl
        monkeypatch.setenv("SYNCWRIGHT_KUSTOMIZE", "/nonexistent")
    argv = [found.path, "build"] if binary == "kustomize" else [found.path, "kustomize"]
    for path in ("overlays/prod", "."):
        raw = docs(subprocess.run([*argv, str(KAPP / path)], capture_output=True, text=True, check=True).stdout)
        assert render(KAPP, "" if path == "." else path) == raw


def test_standalone_kustomize_binary_path_is_used(
    render: Render, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With a `kustomize` binary present, the plugin runs `kustomize build DIR`, not kubectl.

    No standalone kustomize wheel exists on PyPI, so the binary here is a shim that
    records its argv and forwards to the pinned `kubectl kustomize` (the same kustomize
    library); the test proves the plugin's selection and argv, not kustomize itself.
    """
    from syncwright.api import find_tool

    kubectl = find_tool("kubectl", "SYNCWRIGHT_KUBECTL", "").path
    if kubectl is None:
        pytest.skip("no kubectl here")
    log = tmp_path / "argv.log"
    shim = tmp_path / "kustomize"
    shim.write_text(f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" = build ] || exit 3\nshift\nexec {kubectl} kustomize "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("SYNCWRIGHT_KUSTOMIZE", str(shim))
    monkeypatch.setenv("SYNCWRIGHT_KUBECTL", "/nonexistent")  # would fail if the plugin used kubectl
    raw = docs(subprocess.run([kubectl, "kustomize", str(KAPP / "overlays/prod")], capture_output=True, text=True,
                              check=True).stdout)
    assert render(KAPP, "overlays/prod") == raw
    assert log.read_text().split()[0] == "build"
