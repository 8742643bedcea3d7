"""Argo CD's helm options: value precedence, --set flavours, envsubst, refs, CRDs, tests, schema."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import (
    DEFAULT_API_VERSIONS,
    DEFAULT_KUBE_VERSION,
    PathEscapeError,
    RenderContext,
    Source,
    SpecError,
    ToolError,
)
from syncwright.plugins import Hooks
from syncwright.render import BuildInfo, render_source
from syncwright_helm import plugin
from syncwright_helm.args import clean_set_value

Raw = Callable[..., list[dict[str, Any]]]
Write = Callable[[Path, Mapping[str, str]], Path]

CHART = {
    "Chart.yaml": """
        apiVersion: v2
        name: prec
        version: 0.1.0
    """,
    "values.yaml": """
        p: chart
        vo: chart
        v: chart
        vf: chart
        c: chart
        flag: false
        list: []
        fileContent: ""
    """,
    "values-file.yaml": """
        p: file
        vo: file
        v: file
        vf: file
    """,
    "templates/cm.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: prec
        data:
          p: {{ .Values.p | quote }}
          vo: {{ .Values.vo | quote }}
          v: {{ .Values.v | quote }}
          vf: {{ .Values.vf | quote }}
          c: {{ .Values.c | quote }}
          flagKind: {{ kindOf .Values.flag | quote }}
          list: {{ .Values.list | toJson | quote }}
          namespace: {{ .Release.Namespace | quote }}
          kube: {{ .Capabilities.KubeVersion.Version | quote }}
          hasExampleApi: {{ .Capabilities.APIVersions.Has "example.com/v1" | quote }}
          file: {{ .Values.fileContent | quote }}
    """,
    "crds/widget.yaml": """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.example.com
        spec:
          group: example.com
          names: {kind: Widget, plural: widgets}
          scope: Namespaced
          versions:
            - name: v1
              served: true
              storage: true
              schema:
                openAPIV3Schema: {type: object}
    """,
    "templates/tests/check.yaml": """
        apiVersion: v1
        kind: Pod
        metadata:
          name: prec-check
          annotations:
            helm.sh/hook: test
        spec:
          containers: [{name: c, image: busybox}]
    """,
    "files/motd.txt": "welcome, friend\n",
}


@pytest.fixture()
def chart(tmp_path: Path, write_tree: Write) -> Path:
    return write_tree(tmp_path / "repo" / "prec", CHART)


def _render(chart: Path, helm: dict[str, Any], *, ns: str = "ns1") -> list[dict[str, Any]]:
    src = Source.model_validate({"repoURL": "", "path": chart.name, "helm": helm})
    return list(render_source(Hooks.load(), src, chart.parent, BuildInfo("prec-app", ns)).manifests)


def _cm(manifests: list[dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    return data


def test_precedence_parameters_values_valuefiles_chart(chart: Path) -> None:
    data = _cm(_render(chart, {
        "valueFiles": ["values-file.yaml"],
        "values": "p: values\nvo: values\nv: values\n",
        "parameters": [{"name": "p", "value": "param"}],
    }))
    assert (data["p"], data["vo"], data["v"], data["vf"], data["c"]) == ("param", "values", "values", "file", "chart")


def test_precedence_parameters_valuesobject_valuefiles_chart(chart: Path) -> None:
    data = _cm(_render(chart, {
        "valueFiles": ["values-file.yaml"],
        "valuesObject": {"p": "object", "vo": "object"},
        "parameters": [{"name": "p", "value": "param"}],
    }))
    assert (data["p"], data["vo"], data["v"], data["vf"], data["c"]) == ("param", "object", "file", "file", "chart")


def test_valuesobject_wins_over_values(chart: Path) -> None:
    """Argo CD uses valuesObject instead of values when both are set (``ValuesYAML``)."""
    data = _cm(_render(chart, {
        "valueFiles": ["values-file.yaml"],
        "values": "p: values\nvo: values\nv: values\n",
        "valuesObject": {"p": "object", "vo": "object"},
    }))
    assert (data["p"], data["vo"], data["v"], data["vf"]) == ("object", "object", "file", "file")


def test_all_options_match_raw_helm(chart: Path, raw_helm: Raw) -> None:
    helm = {
        "releaseName": "rel",
        "namespace": "override-ns",
        "valueFiles": ["values-file.yaml", "/prec/values-file.yaml"],
        "parameters": [
            {"name": "flag", "value": "true", "forceString": True},
            {"name": "list", "value": "{a,b}"},
            {"name": "c", "value": "x,y"},
        ],
        "fileParameters": [{"name": "fileContent", "path": "files/motd.txt"}],
        "kubeVersion": "1.29.3",
        "apiVersions": ["v1", "example.com/v1"],
        "skipCrds": True,
        "skipTests": True,
    }
    ours = _render(chart, helm)
    expected = raw_helm(
        chart, "--name-template", "rel", "--namespace", "override-ns", "--kube-version", "1.29.3",
        "--set", "list={a,b}", "--set", r"c=x\,y", "--set-string", "flag=true",
        "--set-file", f"fileContent={chart / 'files/motd.txt'}",
        "--values", "values-file.yaml", "--values", "values-file.yaml",
        "--api-versions", "v1", "--api-versions", "example.com/v1", "--skip-tests",
    )
    assert ours == expected
    data = _cm(ours)
    assert data["flagKind"] == "string" and data["list"] == '["a","b"]' and data["c"] == "x,y"
    assert data["file"] == "welcome, friend\n" and data["namespace"] == "override-ns"
    assert data["kube"] == "v1.29.3" and data["hasExampleApi"] == "true"
    assert [m["kind"] for m in ours] == ["ConfigMap"]  # no CRD (skipCrds), no test hook (skipTests)


def test_defaults_include_crds_and_tests(chart: Path, raw_helm: Raw) -> None:
    ours = _render(chart, {}, ns="")
    expected = raw_helm(
        chart, "--name-template", "prec-app", "--kube-version", DEFAULT_KUBE_VERSION,
        *[a for v in DEFAULT_API_VERSIONS for a in ("--api-versions", v)], "--include-crds",
    )
    assert ours == expected
    assert sorted(m["kind"] for m in ours) == ["ConfigMap", "CustomResourceDefinition", "Pod"]
    assert _cm(ours)["flagKind"] == "bool" and _cm(ours)["hasExampleApi"] == "false"


def test_last_parameter_with_a_name_wins(chart: Path) -> None:
    data = _cm(_render(chart, {"parameters": [{"name": "c", "value": "one"}, {"name": "c", "value": "two"}]}))
    assert data["c"] == "two"


def test_envsubst_in_parameters_value_files_and_file_parameters(chart: Path, write_tree: Write) -> None:
    write_tree(chart, {
        "values-prec-app.yaml": "vf: from-app-file\n",
        "prec-app.yaml": "c: from-top-var\n",
        "prec-app/extra.yaml": "v: from-app-dir\n",
        "files/ns1.txt": "per-namespace\n",
    })
    data = _cm(_render(chart, {
        "valueFiles": ["values-$ARGOCD_APP_NAME.yaml", "$ARGOCD_APP_NAME/extra.yaml", "$ARGOCD_APP_NAME.yaml"],
        "parameters": [{"name": "p", "value": "${ARGOCD_APP_NAME}-in-$ARGOCD_APP_NAMESPACE $$HOME"}],
        "fileParameters": [{"name": "fileContent", "path": "files/$ARGOCD_APP_NAMESPACE.txt"}],
    }))
    assert (data["vf"], data["v"], data["file"]) == ("from-app-file", "from-app-dir", "per-namespace\n")
    assert data["c"] == "from-top-var"
    assert data["p"] == "prec-app-in-ns1 $HOME"


def _ctx(chart: Path, helm: dict[str, Any], refs: Mapping[str, Path] | None = None) -> RenderContext:
    src = Source.model_validate({"repoURL": "", "path": chart.name, "helm": helm})
    return RenderContext(
        app_name="prec-app", app_namespace="ns1", source=src, source_dir=chart, repo_root=chart.parent,
        tool="helm", refs=dict(refs or {}),
    )


def test_multi_source_ref_value_file(chart: Path, tmp_path: Path, write_tree: Write) -> None:
    other = write_tree(tmp_path / "values-repo", {"envs/ns1/prod.yaml": "vf: from-ref\n"})
    ctx = _ctx(chart, {"valueFiles": ["$values/envs/$ARGOCD_APP_NAMESPACE/prod.yaml"]}, {"values": other})
    try:
        rendered = plugin.syncwright_render(ctx)
    finally:
        ctx.cleanup()
    assert rendered is not None and _cm(list(rendered.manifests))["vf"] == "from-ref"


def test_unknown_ref_is_a_spec_error(chart: Path, tmp_path: Path) -> None:
    ctx = _ctx(chart, {"valueFiles": ["$nope/prod.yaml"]}, {"values": tmp_path})
    with pytest.raises(SpecError, match=r"unknown source ref 'nope' \(refs: values\)"):
        plugin.syncwright_render(ctx)


def test_ref_value_file_escaping_its_repo_is_rejected(chart: Path, tmp_path: Path, write_tree: Write) -> None:
    other = write_tree(tmp_path / "values-repo", {"a.yaml": "x: 1\n"})
    ctx = _ctx(chart, {"valueFiles": ["$values/../repo/prec/values-file.yaml"]}, {"values": other})
    with pytest.raises(PathEscapeError, match="resolved to outside repository root") as err:
        plugin.syncwright_render(ctx)
    assert str(tmp_path) not in str(err.value)


@pytest.fixture()
def http_values(tmp_path: Path, write_tree: Write) -> Iterator[str]:
    served = write_tree(tmp_path / "served", {"remote.yaml": "vf: from-url\n"})
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_value_file_is_passed_to_helm(chart: Path, http_values: str) -> None:
    assert _cm(_render(chart, {"valueFiles": [f"{http_values}/remote.yaml"]}))["vf"] == "from-url"


def test_other_url_schemes_are_refused(chart: Path) -> None:
    with pytest.raises(SpecError, match=r"URL scheme 'file' is not allowed"):
        _render(chart, {"valueFiles": ["file:///etc/passwd"]})


def test_schema_validation_and_skip(chart: Path, write_tree: Write) -> None:
    write_tree(chart, {"values.schema.json": '{"type": "object", "properties": {"c": {"type": "string"}}}'})
    with pytest.raises(ToolError, match=r"helm template failed with exit code 1: .*schema"):
        _render(chart, {"parameters": [{"name": "c", "value": "5"}]})
    assert _cm(_render(chart, {"parameters": [{"name": "c", "value": "5"}], "skipSchemaValidation": True}))["c"] == "5"


def test_invalid_inline_values(chart: Path) -> None:
    with pytest.raises(SpecError, match=r"helm.values is not valid YAML at line 2"):
        _render(chart, {"values": "a: 1\n  b: : 2\n"})
    with pytest.raises(SpecError, match=r"helm.values must be a YAML mapping, got a list"):
        _render(chart, {"values": "- a\n- b\n"})


def test_clean_set_value() -> None:
    assert clean_set_value("a,b") == r"a\,b"
    assert clean_set_value(r"a\,b") == r"a\,b"
    assert clean_set_value("{a,b}") == "{a,b}"
    assert clean_set_value("plain") == "plain"
