"""The build environment, exactly as Argo CD gives it, locally and in a sidecar; parameter encoding."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import SpecError
from syncwright_cmp.buildenv import cmp_env, kube_version, parameter_env

DUMP = ("import json, os; print(json.dumps({'apiVersion': 'v1', 'kind': 'ConfigMap', "
        "'metadata': {'name': 'env'}, 'data': dict(os.environ)}))")


def test_cmp_parameter_env_encoding() -> None:
    params = [
        {"name": "some-string-param", "string": "some-string-value"},
        {"name": "some-array-param", "array": ["item1", "item2"]},
        {"name": "some-map-param", "map": {"image.tag": "v1.2.3", "b<x>": "&"}},
        {"name": "empty-array", "array": []},
    ]
    env = parameter_env(params)
    assert env == {
        "ARGOCD_APP_PARAMETERS": (
            '[{"name":"some-string-param","string":"some-string-value"},'
            '{"array":["item1","item2"],"name":"some-array-param"},'
            '{"map":{"b\\u003cx\\u003e":"\\u0026","image.tag":"v1.2.3"},"name":"some-map-param"},'
            '{"array":[],"name":"empty-array"}]'
        ),
        "PARAM_SOME_STRING_PARAM": "some-string-value",
        "PARAM_SOME_ARRAY_PARAM_0": "item1",
        "PARAM_SOME_ARRAY_PARAM_1": "item2",
        "PARAM_SOME_MAP_PARAM_IMAGE_TAG": "v1.2.3",
        "PARAM_SOME_MAP_PARAM_B_X_": "&",
    }
    assert json.loads(env["ARGOCD_APP_PARAMETERS"])[2]["map"]["b<x>"] == "&"


def test_cmp_env_names_are_always_prefixed() -> None:
    build = {"ARGOCD_APP_NAME": "a"}
    env = cmp_env(build, "v1.30", ["v1", "apps/v1"], [("PATH", "/evil"), ("LD_PRELOAD", "x")],
                  [{"name": "../PATH", "string": "x"}, {"name": "m", "map": {"=PATH": "y"}}])
    assert "PATH" not in env and "LD_PRELOAD" not in env
    assert env["ARGOCD_ENV_PATH"] == "/evil"
    assert env["PARAM____PATH"] == "x" and env["PARAM_M__PATH"] == "y"
    assert env["KUBE_VERSION"] == "1.30.0" and env["KUBE_API_VERSIONS"] == "v1,apps/v1"
    for bad in ("", "A=B", "A\x00"):
        with pytest.raises(SpecError, match="not a valid variable name"):
            cmp_env(build, "1.30.0", [], [(bad, "v")], [])


@pytest.mark.parametrize("given,expected", [("1.30", "1.30.0"), ("v1.29.3", "1.29.3"), ("1", "1.0.0"), ("1.31.0-rc.1", "1.31.0-rc.1")])
def test_cmp_kube_version(given: str, expected: str) -> None:
    assert kube_version(given) == expected


@pytest.fixture()
def env_repo(h: Any, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A repo with one app, an env-dumping plugin, and the marker a shell injection would create."""
    repo = tmp_path / "repo"
    (repo / "apps" / "dump").mkdir(parents=True)
    (repo / "apps" / "dump" / "input.txt").write_text("x\n")
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker}); `touch {marker}`; touch {marker}"
    (repo / "app.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata: {{name: dumper}}
        spec:
          project: team-a
          source:
            repoURL: .
            path: apps/dump
            targetRevision: main
            plugin:
              name: envdump
              env:
                - {{name: REV, value: "rev-$ARGOCD_APP_REVISION_SHORT on $KUBE_VERSION, $$HOME, $UNKNOWN."}}
                - {{name: EVIL, value: {json.dumps(evil)}}}
              parameters:
                - {{name: evil-param, string: {json.dumps(evil)}}}
                - {{name: list, array: [a, {json.dumps(evil)}]}}
                - {{name: tags, map: {{image.tag: v1, "x;y": {json.dumps(evil)}}}}}
          destination: {{server: https://kubernetes.default.svc, namespace: ns-a}}
        """))
    plugins = tmp_path / "plugins"
    h.write_plugin(plugins, "envdump", f"generate:\n  command: [{json.dumps(sys.executable)}, -c]\n  args: [{json.dumps(DUMP)}]")
    return repo, plugins, marker


def expected_env(h: Any, marker: Path) -> dict[str, str]:
    evil = f"$(touch {marker}); `touch {marker}`; touch {marker}"
    rev = "0123456789abcdef0123456789abcdef01234567"
    return {
        **h.base_env(),
        "ARGOCD_APP_NAME": "dumper", "ARGOCD_APP_NAMESPACE": "ns-a", "ARGOCD_APP_PROJECT_NAME": "team-a",
        "ARGOCD_APP_REVISION": rev, "ARGOCD_APP_REVISION_SHORT": rev[:7], "ARGOCD_APP_REVISION_SHORT_8": rev[:8],
        "ARGOCD_APP_SOURCE_REPO_URL": ".", "ARGOCD_APP_SOURCE_PATH": "apps/dump",
        "ARGOCD_APP_SOURCE_TARGET_REVISION": "main",
        "KUBE_VERSION": "1.29.0", "KUBE_API_VERSIONS": "v1,apps/v1,example.com/v1alpha1",
        "ARGOCD_ENV_REV": "rev-0123456 on 1.29.0, $HOME, .",
        "ARGOCD_ENV_EVIL": evil,
        "ARGOCD_APP_PARAMETERS": json.dumps([
            {"name": "evil-param", "string": evil},
            {"array": ["a", evil], "name": "list"},
            {"map": {"image.tag": "v1", "x;y": evil}, "name": "tags"},
        ], separators=(",", ":")),
        "PARAM_EVIL_PARAM": evil,
        "PARAM_LIST_0": "a", "PARAM_LIST_1": evil,
        "PARAM_TAGS_IMAGE_TAG": "v1", "PARAM_TAGS_X_Y": evil,
    }


def test_cmp_exact_build_env_local_and_sidecar(h: Any, env_repo: tuple[Path, Path, Path], servers: Any) -> None:
    repo, plugins, marker = env_repo
    srv = servers(plugins / "envdump.yaml", "envdump")
    common = ["render", "-f", str(repo / "app.yaml"), "--revision", "0123456789abcdef0123456789abcdef01234567",
              "--kube-version", "v1.29", "--api-versions", "v1", "--api-versions", "apps/v1",
              "--api-versions", "example.com/v1alpha1"]
    local = h.sw("--cmp-dir", str(plugins), *common)
    side = h.sw("--cmp-socket-dir", str(srv.socket.parent), *common)
    want = expected_env(h, marker)
    for proc in (local, side):
        assert proc.returncode == 0, proc.stderr
        (cm,) = h.docs(proc.stdout)
        assert cm["data"] == want  # every variable the tool saw, nothing more
    assert not marker.exists()  # no value went through a shell


def test_cmp_shell_plugin_gets_values_as_data(h: Any, example_sidecars: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker}) `touch {marker}`; touch {marker} && echo"
    args = ["render", str(h.EXAMPLES / "cmp-envsubst"), "--repo-root", str(h.EXAMPLES),
            "--plugin-env", f"GREETING={evil}", "--plugin-env", "REPLICAS=1"]
    for flag, value in (("--cmp-dir", h.PLUGINS), ("--cmp-socket-dir", example_sidecars)):
        proc = h.sw(flag, str(value), *args)
        assert proc.returncode == 0, proc.stderr
        assert h.docs(proc.stdout)[0]["data"]["greeting"] == evil
    assert not marker.exists()
