"""Bad input for the helm plugin: each is a clear error, exit code 1 and nothing on stdout.

Path escapes (CVE-2022-24348 value files, CVE-2022-31036 symlinks, ``--set-file``)
never reach helm and never reveal where a path resolved to; tool failures
(missing binary, hang, flood) go through ``ctx.run``'s limits.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncwright.api import PathEscapeError, RenderContext, Source, SpecError
from syncwright.plugins import Hooks
from syncwright.render import BuildInfo, render_source
from syncwright_helm import plugin

Write = Callable[[Path, Mapping[str, str]], Path]
Sw = Callable[..., subprocess.CompletedProcess[str]]


def _app_file(tmp_path: Path, helm: dict[str, Any], path: str = "small") -> Path:
    """An Application whose repoURL is the test repo (``repo/`` next to the file)."""
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "bad"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "repo", "path": path, "helm": helm},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "bad"},
        },
    }
    f = tmp_path / "app.yaml"
    f.write_text(yaml.safe_dump(app))
    return f


def _fails(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr
    return proc.stderr


@pytest.fixture()
def secret_outside(tmp_path: Path) -> Path:
    """A file outside the repository that must never be read."""
    (tmp_path / "etc").mkdir()
    secret = tmp_path / "etc" / "passwd"
    secret.write_text("root: x:0:0:TOPSECRET\n")
    return secret


def test_value_file_traversal(small_chart: Path, tmp_path: Path, sw: Sw, secret_outside: Path) -> None:
    app = _app_file(tmp_path, {"valueFiles": ["../../etc/passwd"]})
    err = _fails(sw("render", "-f", str(app)), "value file '../../etc/passwd' resolved to outside repository root")
    assert "TOPSECRET" not in err and str(secret_outside) not in err


def test_absolute_value_file_is_relative_to_repo_root(small_chart: Path, tmp_path: Path, sw: Sw) -> None:
    app = _app_file(tmp_path, {"valueFiles": ["/etc/passwd"]})
    err = _fails(sw("render", "-f", str(app)), "value file '/etc/passwd' does not exist in the repository")
    assert "root:" not in err


def test_symlinked_value_file_outside_repo(small_chart: Path, tmp_path: Path, sw: Sw, secret_outside: Path) -> None:
    (small_chart / "evil.yaml").symlink_to("../../etc/passwd")
    app = _app_file(tmp_path, {"valueFiles": ["evil.yaml"]})
    err = _fails(sw("render", "-f", str(app)), "out of bounds symlink found", "evil.yaml")
    assert "TOPSECRET" not in err


def test_symlinked_value_file_elsewhere_in_the_repo(small_chart: Path, sw: Sw, secret_outside: Path) -> None:
    """When only the app dir is walked for symlinks (``render PATH`` in a work tree), the value-file check still refuses."""
    shared = small_chart.parent / "shared"
    shared.mkdir()
    (shared / "evil.yaml").symlink_to(secret_outside)
    src = Source.model_validate({"repoURL": "", "path": "small", "helm": {"valueFiles": ["../shared/evil.yaml"]}})
    with pytest.raises(PathEscapeError, match=r"value file '../shared/evil.yaml' resolved to outside repository root") as e:
        render_source(Hooks.load(), src, small_chart.parent, BuildInfo("bad"), check_whole_root=False)
    assert "TOPSECRET" not in str(e.value) and str(secret_outside) not in str(e.value)
    # The CLI with an explicit --repo-root walks the whole root and names the link instead.
    proc = sw("render", str(small_chart), "--repo-root", str(small_chart.parent), "--values", "../shared/evil.yaml")
    assert "TOPSECRET" not in _fails(proc, "shared/evil.yaml")


def _ctx(chart: Path, helm: dict[str, Any]) -> RenderContext:
    src = Source.model_validate({"repoURL": "", "path": chart.name, "helm": helm})
    return RenderContext(app_name="bad", app_namespace="", source=src, source_dir=chart,
                         repo_root=chart.parent, tool="helm")


def test_symlinked_value_file_rejected_by_the_plugin_itself(small_chart: Path, secret_outside: Path) -> None:
    """Even without the core's tree walk, the value-file check follows the link and refuses."""
    (small_chart / "evil.yaml").symlink_to(secret_outside)
    with pytest.raises(PathEscapeError, match=r"value file 'evil.yaml' resolved to outside repository root") as e:
        plugin.syncwright_render(_ctx(small_chart, {"valueFiles": ["evil.yaml"]}))
    assert str(secret_outside) not in str(e.value)


def test_set_file_escaping_repo_root(small_chart: Path, tmp_path: Path, sw: Sw, secret_outside: Path) -> None:
    app = _app_file(tmp_path, {"fileParameters": [{"name": "name", "path": "../../etc/passwd"}]})
    err = _fails(sw("render", "-f", str(app)),
                 "file parameter 'name' path '../../etc/passwd' resolved to outside repository root")
    assert "TOPSECRET" not in err
    # the same through the CLI flag
    _fails(sw("render", str(small_chart), "--repo-root", str(small_chart.parent), "--helm-set-file", "name=/../etc/passwd"),
           "resolved to outside repository root")


def test_set_file_symlink_rejected_by_the_plugin(small_chart: Path, secret_outside: Path) -> None:
    (small_chart / "link.txt").symlink_to(secret_outside)
    with pytest.raises(PathEscapeError, match=r"file parameter 'name' path 'link.txt' resolved to outside"):
        plugin.syncwright_render(_ctx(small_chart, {"fileParameters": [{"name": "name", "path": "link.txt"}]}))


def test_missing_value_file_error_and_ignore(small_chart: Path, tmp_path: Path, sw: Sw) -> None:
    app = _app_file(tmp_path, {"valueFiles": ["values-missing.yaml"]})
    _fails(sw("render", "-f", str(app)), "app 'bad'", "value file 'values-missing.yaml' does not exist",
           "ignoreMissingValueFiles")
    app = _app_file(tmp_path, {"valueFiles": ["values-missing.yaml", "values.yaml"], "ignoreMissingValueFiles": True})
    proc = sw("render", "-f", str(app))
    assert proc.returncode == 0, proc.stderr
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(proc.stdout) if d] == ["cm"]


def test_ignored_missing_value_file_is_a_warning(small_chart: Path) -> None:
    ctx = _ctx(small_chart, {"valueFiles": ["gone.yaml"], "ignoreMissingValueFiles": True})
    try:
        rendered = plugin.syncwright_render(ctx)
    finally:
        ctx.cleanup()
    assert rendered is not None and [m["metadata"]["name"] for m in rendered.manifests] == ["cm"]
    assert rendered.warnings == ("value file 'gone.yaml' does not exist; skipped (ignoreMissingValueFiles)",)


def test_value_file_that_is_a_directory(small_chart: Path) -> None:
    (small_chart / "envs").mkdir()
    with pytest.raises(SpecError, match=r"value file 'envs' is not a regular file"):
        plugin.syncwright_render(_ctx(small_chart, {"valueFiles": ["envs"]}))


def test_missing_file_parameter(small_chart: Path) -> None:
    with pytest.raises(SpecError, match=r"file parameter 'name' path 'nope.txt' does not exist"):
        plugin.syncwright_render(_ctx(small_chart, {"fileParameters": [{"name": "name", "path": "nope.txt"}]}))


def test_missing_helm_binary(small_chart: Path, sw: Sw) -> None:
    proc = sw("render", str(small_chart), "--repo-root", str(small_chart.parent),
              env={"SYNCWRIGHT_HELM": "/nonexistent/helm"})
    _fails(proc, "helm not found (looked at $SYNCWRIGHT_HELM and PATH)", "make tools", "https://helm.sh/docs/intro/install/")


def _fake_helm(tmp_path: Path, body: str) -> Path:
    """A helm stand-in that answers ``version`` and misbehaves on everything else."""
    script = tmp_path / "fake-helm"
    script.write_text(f'#!/bin/sh\nif [ "$1" = version ]; then echo v0.0.0-fake; exit 0; fi\n{body}\n')
    script.chmod(0o755)
    return script


def test_hanging_helm_is_killed_at_the_timeout(small_chart: Path, tmp_path: Path, sw: Sw) -> None:
    fake = _fake_helm(tmp_path, "exec sleep 60")
    proc = sw("render", str(small_chart), "--repo-root", str(small_chart.parent), "--timeout", "1",
              env={"SYNCWRIGHT_HELM": str(fake)})
    _fails(proc, "helm template timed out after 1s and was killed")


def test_flooding_helm_hits_the_output_cap(small_chart: Path, tmp_path: Path, sw: Sw) -> None:
    fake = _fake_helm(tmp_path, "exec yes 'flooding: output'")
    proc = sw("render", str(small_chart), "--repo-root", str(small_chart.parent),
              env={"SYNCWRIGHT_HELM": str(fake), "SYNCWRIGHT_MAX_TOOL_OUTPUT": "100000"})
    _fails(proc, "helm template wrote more than 100000 bytes to stdout and was killed (output cap)")


def test_failing_helm_reports_its_stderr(small_chart: Path, tmp_path: Path, sw: Sw) -> None:
    (small_chart / "templates" / "broken.yaml").write_text("{{ .Values.nope.deeper }}\n")
    _fails(sw("render", str(small_chart), "--repo-root", str(small_chart.parent)),
           "helm template failed with exit code 1", "broken.yaml")


def test_helm_output_that_is_not_manifests(small_chart: Path, tmp_path: Path, sw: Sw) -> None:
    (small_chart / "templates" / "nameless.yaml").write_text("apiVersion: v1\nkind: ConfigMap\ndata: {}\n")
    _fails(sw("render", str(small_chart), "--repo-root", str(small_chart.parent)),
           "helm template (chart small)", "metadata.name")


def test_broken_chart_yaml(small_chart: Path, sw: Sw) -> None:
    (small_chart / "Chart.yaml").write_text("apiVersion: v2\nname: [unclosed\n")
    _fails(sw("render", str(small_chart), "--repo-root", str(small_chart.parent), "--tool", "helm"),
           "small/Chart.yaml line 3: invalid YAML")
