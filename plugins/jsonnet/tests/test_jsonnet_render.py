"""The jsonnet plugin on the example app, compared with the raw bindings object by object."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _jsonnet
import pytest
import yaml
from click.testing import CliRunner

from syncwright.api import ManifestError, PathEscapeError, Source
from syncwright.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
APP_DIR = EXAMPLES / "jsonnet-app"
APP_FILE = EXAMPLES / "apps" / "jsonnet-app.yaml"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"

#: The example Application's settings, as the raw tool takes them.
JPATHS = [str(APP_DIR), str(APP_DIR / "vendor"), str(APP_DIR / "lib")]
EXT_VARS = {"appName": "jsonnet-app"}  # $ARGOCD_APP_NAME substituted
EXT_CODES = {"tier": "'web'"}
TLA_VARS = {"image": "nginx:1.27"}
TLA_CODES = {"replicas": "2"}
CLI_FLAGS = [
    "--app-name", "jsonnet-app", "--jsonnet-tla-code", "replicas=2", "--jsonnet-tla-str", "image=nginx:1.27",
    "--jsonnet-ext-var-str", "appName=$ARGOCD_APP_NAME", "--jsonnet-ext-var-code", "tier='web'",
    "--jsonnet-libs", "examples/jsonnet-app/lib",
]


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def _flatten(value: Any) -> list[dict[str, Any]]:
    """The reference reading of jsonnet output (arrays, k8s objects, objects of objects)."""
    if value is None:
        return []
    if isinstance(value, list):
        return [o for v in value for o in _flatten(v)]
    if "kind" in value:
        return [value]
    return [o for v in value.values() for o in _flatten(v)]


def _raw_example(evaluate: Callable[[Path], str]) -> list[dict[str, Any]]:
    """The example rendered by a raw tool: files in walk order, yaml read directly."""
    objs: list[dict[str, Any]] = []
    for name in ("extras.jsonnet", "main.jsonnet"):
        objs.extend(_flatten(json.loads(evaluate(APP_DIR / name))))
    objs.extend(_docs((APP_DIR / "namespace-config.yaml").read_text()))
    return objs


@pytest.fixture(scope="module")
def raw_bindings() -> list[dict[str, Any]]:
    return _raw_example(lambda path: _jsonnet.evaluate_file(
        str(path), jpathdir=JPATHS, ext_vars=EXT_VARS, ext_codes=EXT_CODES,
        tla_vars=TLA_VARS, tla_codes=TLA_CODES,
    ))


def test_example_app_cli_matches_raw_bindings(raw_bindings: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(main, ["render", "-f", str(APP_FILE)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    objs = _docs(result.stdout)
    assert len(objs) == len(raw_bindings) == 5
    for ours, raw in zip(objs, raw_bindings):
        assert ours == raw


def test_example_directory_with_flags_matches_raw_bindings(
    raw_bindings: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLES.parent)
    result = CliRunner().invoke(main, ["render", "examples/jsonnet-app", *CLI_FLAGS, "-o", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["items"] == raw_bindings


def test_example_library_matches_raw_bindings(render_lib: Callable[..., Any], raw_bindings: list[dict[str, Any]]) -> None:
    rendered = render_lib(EXAMPLES, "jsonnet-app", **{"jsonnet": {
        "tlas": [{"name": "replicas", "value": "2", "code": True}, {"name": "image", "value": "nginx:1.27"}],
        "extVars": [{"name": "appName", "value": "$ARGOCD_APP_NAME"}, {"name": "tier", "value": "'web'", "code": True}],
        "libs": ["jsonnet-app/lib"],
    }}, app_name="jsonnet-app")
    assert rendered.tool == "jsonnet" and rendered.tool_version == _jsonnet.version
    assert list(rendered.manifests) == raw_bindings


def test_example_matches_go_jsonnet(raw_bindings: list[dict[str, Any]]) -> None:
    """go-jsonnet is the engine Argo CD embeds; its Python bindings come with the ``test`` extra."""
    go = pytest.importorskip("_gojsonnet", reason="pip install 'syncwright-jsonnet[test]' for go-jsonnet")
    assert _raw_example(lambda path: go.evaluate_file(
        str(path), jpathdir=JPATHS, ext_vars=EXT_VARS, ext_codes=EXT_CODES,
        tla_vars=TLA_VARS, tla_codes=TLA_CODES,
    )) == raw_bindings


@pytest.mark.skipif(shutil.which("jsonnet") is None, reason="no jsonnet CLI on PATH")
def test_example_matches_jsonnet_cli(raw_bindings: list[dict[str, Any]]) -> None:  # pragma: no cover
    def cli(path: Path) -> str:
        argv = ["jsonnet", *[a for p in JPATHS for a in ("-J", p)], "--ext-str", "appName=jsonnet-app",
                "--ext-code", "tier='web'", "--tla-str", "image=nginx:1.27", "--tla-code", "replicas=2", str(path)]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    assert _raw_example(cli) == raw_bindings


def test_example_content() -> None:
    result = CliRunner().invoke(main, ["render", "-f", str(APP_FILE)], catch_exceptions=False)
    objs = _docs(result.stdout)
    assert [(o["kind"], o["metadata"]["name"]) for o in objs] == [
        ("ConfigMap", "guestbook-info"), ("ServiceAccount", "guestbook"), ("Deployment", "guestbook"),
        ("Service", "guestbook"), ("ConfigMap", "guestbook-settings"),
    ]
    assert objs[0]["data"] == {"app": "jsonnet-app", "tier": "web"}  # extVars, envsubst
    assert objs[2]["spec"]["replicas"] == 2  # TLA as code
    assert objs[2]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"  # TLA string
    assert objs[2]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "syncwright"  # vendor/ lib


def test_output_flattening(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    cm = "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: '%s'}}"
    write_tree(tmp_path / "repo", {
        "app/a.jsonnet": "[%s, [%s, [%s]], null]" % (cm % "a1", cm % "a2", cm % "a3"),
        "app/b.jsonnet": "{x: %s, y: {z: %s, w: [%s]}}" % (cm % "b1", cm % "b2", cm % "b3"),
        "app/c.jsonnet": cm % "c",
        "app/d.jsonnet": "{apiVersion: 'v1', kind: 'List', items: [%s, %s]}" % (cm % "d1", cm % "d2"),
        "app/e.jsonnet": "{}",
    })
    names = [o["metadata"]["name"] for o in render_lib(tmp_path / "repo").manifests]
    assert names == ["a1", "a2", "a3", "b1", "b3", "b2", "c", "d1", "d2"]  # jsonnet sorts fields


def test_plain_yaml_included_and_libsonnet_not_evaluated(
    tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]
) -> None:
    write_tree(tmp_path / "repo", {
        "app/a.yaml": CM.format("yaml"),
        "app/b.jsonnet": "(import 'l.libsonnet') { metadata: {name: 'from-jsonnet'} }",
        "app/l.libsonnet": "{apiVersion: 'v1', kind: 'ConfigMap'}",
        "app/c.json": json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json"}}),
    })
    rendered = render_lib(tmp_path / "repo")
    assert rendered.tool == "jsonnet"
    assert [o["metadata"]["name"] for o in rendered.manifests] == ["yaml", "from-jsonnet", "json"]


@pytest.mark.parametrize(("files", "directory", "tool"), [
    ({"app/a.jsonnet": "{}"}, {}, "jsonnet"),
    ({"app/a.yaml": CM.format("a"), "app/lib.libsonnet": "{}"}, {}, "directory"),
    ({"app/a.yaml": CM.format("a"), "app/sub/b.jsonnet": "{}"}, {}, "directory"),
    ({"app/a.yaml": CM.format("a"), "app/sub/b.jsonnet": "{}"}, {"recurse": True}, "jsonnet"),
    ({"app/a.yaml": CM.format("a"), "app/b.jsonnet": "{}"}, {"exclude": "*.jsonnet"}, "directory"),
])
def test_discovery(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any],
                   files: dict[str, str], directory: dict[str, Any], tool: str) -> None:
    write_tree(tmp_path / "repo", files)
    assert render_lib(tmp_path / "repo", **directory).tool == tool


def test_libs_resolve_from_repo_root(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    write_tree(tmp_path / "repo", {
        "shared/jsonnet/k.libsonnet": "{cm(n):: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: n}}}",
        "app/a.jsonnet": "(import 'k.libsonnet').cm('from-lib')",
    })
    rendered = render_lib(tmp_path / "repo", jsonnet={"libs": ["shared/jsonnet"]})
    assert [o["metadata"]["name"] for o in rendered.manifests] == ["from-lib"]
    # right-most library path wins, as the jsonnet CLI's -J
    write_tree(tmp_path / "repo", {"other/k.libsonnet": "{cm(n):: {apiVersion: 'v1', kind: 'Secret', metadata: {name: n}}}"})
    rendered = render_lib(tmp_path / "repo", jsonnet={"libs": ["shared/jsonnet", "other"]})
    assert rendered.manifests[0]["kind"] == "Secret"


def test_missing_lib_dir_is_a_warning(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    write_tree(tmp_path / "repo", {"app/a.jsonnet": "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'a'}}"})
    rendered = render_lib(tmp_path / "repo", jsonnet={"libs": ["nope"]})
    assert rendered.warnings == ("jsonnet lib 'nope' is not a directory in the repository; ignored",)


def test_source_types_report_binding_version() -> None:
    result = CliRunner().invoke(main, ["plugins", "-o", "json"], catch_exceptions=False)
    rec = next(r for r in json.loads(result.stdout) if r["name"] == "jsonnet")
    assert rec["distribution"] == "syncwright-jsonnet"
    (st,) = rec["source_types"]
    assert st["name"] == "jsonnet" and st["tool"]["version"] == _jsonnet.version
    assert {"tlas", "extVars", "libs"} <= set(st["parameters"])


def test_flatten_rejects_scalars() -> None:
    from syncwright_jsonnet.plugin import flatten

    with pytest.raises(ManifestError, match=r"output\.a is a int"):
        flatten({"a": 1}, "", [])
    with pytest.raises(ManifestError, match="output is a str"):
        flatten("hello", "", [])


def test_source_model_roundtrip() -> None:
    src = Source.model_validate({"repoURL": "", "directory": {"jsonnet": {"libs": ["x"]}}})
    assert src.directory is not None and src.directory.jsonnet.libs == ("x",)


def test_import_outside_repo_is_refused(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    (tmp_path / "outside.libsonnet").write_text("{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'x'}}")
    write_tree(tmp_path / "repo", {"app/a.jsonnet": "import '../../outside.libsonnet'"})
    with pytest.raises(Exception, match="resolved to outside the repository root"):
        render_lib(tmp_path / "repo")
    write_tree(tmp_path / "repo", {"app/a.jsonnet": f"importstr '{tmp_path / 'outside.libsonnet'}'"})
    with pytest.raises(Exception, match="resolved to outside the repository root"):
        render_lib(tmp_path / "repo")


def test_lib_escaping_repo_root(tmp_path: Path, write_tree: Any, render_lib: Callable[..., Any]) -> None:
    (tmp_path / "outside").mkdir()
    write_tree(tmp_path / "repo", {"app/a.jsonnet": "{}"})
    with pytest.raises(PathEscapeError, match="jsonnet lib '../outside' resolved to outside repository root"):
        render_lib(tmp_path / "repo", jsonnet={"libs": ["../outside"]})
