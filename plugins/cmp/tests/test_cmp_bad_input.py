"""Bad plugin configs and failing plugins: a clear error naming the cause, exit 1, nothing on stdout,
locally and through a real sidecar."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest


def app_repo(tmp_path: Path, plugin: str | None, env: str = "") -> Path:
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True, exist_ok=True)
    (repo / "app" / "input.txt").write_text("x\n")
    block = f"plugin: {{name: {plugin}{env}}}" if plugin else "plugin: {}"
    (repo / "app.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata: {{name: bad}}
        spec:
          source:
            repoURL: .
            path: app
            {block}
          destination: {{server: https://kubernetes.default.svc, namespace: bad}}
        """))
    return repo / "app.yaml"


CONFIG_CASES = {
    "no-generate": ("init:\n  command: [sh]", "generate.command is missing"),
    "empty-generate": ("generate:\n  command: []", "generate.command is empty"),
    "filename-and-glob": ("generate: {command: [cat]}\ndiscover:\n  fileName: '*.yaml'\n  find: {glob: '**/x'}",
                          "sets both fileName and find.glob"),
    "glob-and-command": ("generate: {command: [cat]}\ndiscover:\n  find: {glob: '**/x', command: [ls]}",
                         "sets both find.glob and find.command"),
    "unknown-field": ("generate: {command: [cat]}\ngenrate: {command: [cat]}", "unknown field(s) genrate"),
    "escaping-glob": ("generate: {command: [cat]}\ndiscover: {fileName: '../*.yaml'}", "inside the app directory"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_cmp_bad_plugin_yaml(h: Any, tmp_path: Path, case: str) -> None:
    spec, message = CONFIG_CASES[case]
    plugin = h.write_plugin(tmp_path / "plugins", "bad", spec)
    proc = h.sw("--cmp-dir", str(tmp_path / "plugins"), "render", "-f", str(app_repo(tmp_path, "bad")))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert str(plugin) in proc.stderr and message in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = h.sw("cmp-server", "--config", str(plugin), "--socket", str(tmp_path / "s.sock"))
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_cmp_wrong_kind_and_api_version(h: Any, tmp_path: Path) -> None:
    from syncwright.api import SpecError
    from syncwright_cmp.config import parse_config

    good = {"apiVersion": "syncwright.dev/v1alpha1", "kind": "ConfigManagementPlugin",
            "metadata": {"name": "p"}, "spec": {"generate": {"command": ["cat"]}}}
    assert parse_config(good, "p.yaml").tool == "cmp:p"
    with pytest.raises(SpecError, match="kind 'Plugin' is not ConfigManagementPlugin"):
        parse_config({**good, "kind": "Plugin"}, "p.yaml")
    with pytest.raises(SpecError, match="apiVersion 'v1' is not one of"):
        parse_config({**good, "apiVersion": "v1"}, "p.yaml")
    with pytest.raises(SpecError, match="metadata.name is missing"):
        parse_config({**good, "metadata": {}}, "p.yaml")


SECRET = "hunter2-very-secret"

GENERATE_CASES = {
    "non-yaml": ("printf 'kind: [unclosed\\n'", [], "invalid YAML"),
    "not-objects": ("echo just some words", [], "not a mapping"),
    "nothing": ("true", [], "generate printed nothing"),
    "exit-nonzero": (f'echo "token=$ARGOCD_ENV_TOKEN rejected" >&2; exit 3', [], "failed with exit code 3: token=****** rejected"),
    "hang": ("sleep 30", ["--timeout", "1"], "timed out after 1s"),
    "flood": ("yes 'apiVersion: v1'", ["--max-output", "200000"], "wrote more than 200000 bytes"),
}


@pytest.mark.parametrize("case", sorted(GENERATE_CASES))
def test_cmp_generate_failures(h: Any, tmp_path: Path, servers: Any, case: str) -> None:
    script, server_args, message = GENERATE_CASES[case]
    plugin = h.write_plugin(tmp_path / "plugins", "bad", f"generate:\n  command: [sh, -c]\n  args: [{json.dumps(script)}]")
    app = app_repo(tmp_path, "bad", f", env: [{{name: TOKEN, value: {SECRET}}}]")
    env = {**h.base_env(), "SYNCWRIGHT_MAX_TOOL_OUTPUT": "200000"}
    local_flags = ["--timeout", "1"] if case == "hang" else []
    local = h.sw("--cmp-dir", str(tmp_path / "plugins"), "render", "-f", str(app), *local_flags, env=env)
    srv = servers(plugin, "bad", *server_args)
    side = h.sw("--cmp-socket-dir", str(srv.socket.parent), "render", "-f", str(app))
    for proc, where in ((local, "plugin bad"), (side, f"CMP sidecar {srv.socket}")):
        assert proc.returncode == 1, proc.stdout
        assert proc.stdout == ""
        assert message in proc.stderr, proc.stderr
        assert where in proc.stderr
        assert SECRET not in proc.stderr
        assert "Traceback" not in proc.stderr
    assert srv.request_dirs() == []
    # the server reports tool failures as structured errors; output it cannot parse is rejected by the engine
    codes = ("200",) if case in ("non-yaml", "not-objects") else ("422", "413")
    assert any(f"POST /v1/generate {code}" in line for line in srv.log_lines() for code in codes)


def test_cmp_explicit_name_must_match_discover_rule(h: Any, tmp_path: Path, servers: Any) -> None:
    plugin = h.write_plugin(tmp_path / "plugins", "picky", "discover: {fileName: 'Pickyfile'}\ngenerate: {command: [cat, input.txt]}")
    app = app_repo(tmp_path, "picky")
    srv = servers(plugin, "picky")
    for flag, value in (("--cmp-dir", tmp_path / "plugins"), ("--cmp-socket-dir", srv.socket.parent)):
        proc = h.sw(flag, str(value), "render", "-f", str(app))
        assert proc.returncode == 1 and proc.stdout == ""
        assert "plugin 'picky'" in proc.stderr and "does not match this source" in proc.stderr


def test_cmp_unknown_plugin_name(h: Any, tmp_path: Path) -> None:
    proc = h.sw("--cmp-dir", str(tmp_path), "render", "-f", str(app_repo(tmp_path, "nosuch")))
    assert proc.returncode == 1 and proc.stdout == ""
    assert "no Config Management Plugin named 'nosuch'" in proc.stderr


def test_cmp_no_plugin_matches_empty_block(h: Any, tmp_path: Path) -> None:
    proc = h.sw("--cmp-dir", str(h.PLUGINS), "render", "-f", str(app_repo(tmp_path, None)))
    assert proc.returncode == 1 and proc.stdout == ""
    assert "no Config Management Plugin matches" in proc.stderr
