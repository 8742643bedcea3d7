"""Bad input for the kustomize plugin: a clear error naming the file and cause, exit 1, nothing on stdout."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncwright.api import PathEscapeError, RenderError, SpecError

Sw = Callable[..., subprocess.CompletedProcess[str]]
Render = Callable[..., list[dict[str, Any]]]
Write = Callable[[Path, Mapping[str, str]], Path]

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: '1'\n"


def _failed(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    return proc.stderr


def _app_file(tmp_path: Path, path: str, kustomize: Mapping[str, Any] | None = None) -> Path:
    app: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "bad"},
        "spec": {"source": {"repoURL": "repo", "path": path},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": "bad"}},
    }
    if kustomize is not None:
        app["spec"]["source"]["kustomize"] = dict(kustomize)
    target = tmp_path / "app.yaml"
    target.write_text(yaml.safe_dump(app))
    return target


@pytest.mark.parametrize("options", [None, {"namePrefix": "x-"}], ids=["in-place", "edited-copy"])
@pytest.mark.parametrize("outside", ["file", "directory"])
def test_resource_outside_repo_is_refused(
    sw: Sw, tmp_path: Path, write: Write, options: Mapping[str, Any] | None, outside: str
) -> None:
    """``../../../outside`` leaves the repository: refused before kustomize runs, with or without options.

    kustomize's restrictor would catch a file (relative to the checkout) but not
    a directory, and in the private copy the same relative path points elsewhere;
    so syncwright checks every reference on the checkout itself.
    """
    files = {"outside": CM} if outside == "file" else {"outside/kustomization.yaml": "resources: [cm.yaml]\n",
                                                       "outside/cm.yaml": CM}
    write(tmp_path, {**files, "repo/apps/a/kustomization.yaml": "resources:\n  - ../../../outside\n"})
    err = _failed(sw("render", "-f", str(_app_file(tmp_path, "apps/a", options))),
                  "apps/a/kustomization.yaml", "resources entry '../../../outside'", "outside the repository root")
    assert str(tmp_path) not in err  # never reveals where the path resolved to


@pytest.mark.parametrize("options", [None, {"namePrefix": "x-"}], ids=["in-place", "edited-copy"])
def test_file_outside_kustomization_root_hits_kustomize_load_restrictor(
    sw: Sw, tmp_path: Path, write: Write, options: Mapping[str, Any] | None
) -> None:
    """Inside the repo but outside the kustomization's root: kustomize's own restrictor error, tidied."""
    write(tmp_path, {"repo/shared/cm.yaml": CM, "repo/apps/a/kustomization.yaml": "resources:\n  - ../../shared/cm.yaml\n"})
    err = _failed(sw("render", "-f", str(_app_file(tmp_path, "apps/a", options))),
                  "kubectl kustomize failed", "security; file 'shared/cm.yaml' is not in or below 'apps/a'")
    assert "sw-src-" not in err and "E11" not in err and "command failed" not in err


@pytest.mark.parametrize("broken", ["apps/a/kustomization.yaml", "base/kustomization.yaml"])
def test_broken_kustomization_names_file_and_line(sw: Sw, tmp_path: Path, write: Write, broken: str) -> None:
    files = {"repo/apps/a/kustomization.yaml": "resources:\n  - ../../base\n",
             "repo/base/kustomization.yaml": "resources:\n  - cm.yaml\n", "repo/base/cm.yaml": CM}
    files[f"repo/{broken}"] = "resources:\n  - cm.yaml\nimages: [oops\n"
    write(tmp_path, files)
    _failed(sw("render", "-f", str(_app_file(tmp_path, "apps/a"))), broken, "line 4", "invalid YAML")


def test_unknown_kustomization_field_reported_by_kustomize(sw: Sw, tmp_path: Path, write: Write) -> None:
    write(tmp_path, {"repo/a/kustomization.yaml": "resources:\n  - cm.yaml\nresorces: []\n", "repo/a/cm.yaml": CM})
    err = _failed(sw("render", str(tmp_path / "repo/a"), "--repo-root", str(tmp_path / "repo")),
                  'error: invalid Kustomization: json: unknown field "resorces"')
    assert "\\" not in err  # kubectl's klog quoting is undone


def test_missing_binary_gives_install_hint(sw: Sw, tmp_path: Path, write: Write) -> None:
    write(tmp_path, {"repo/a/kustomization.yaml": "resources:\n  - cm.yaml\n", "repo/a/cm.yaml": CM})
    env = {"SYNCWRIGHT_KUBECTL": "/nonexistent", "SYNCWRIGHT_KUSTOMIZE": "/nonexistent"}
    err = _failed(sw("render", str(tmp_path / "repo/a"), "--repo-root", str(tmp_path / "repo"), env=env),
                  "not found", "SYNCWRIGHT_KUBECTL", "make tools")
    assert "install kustomize" in err


def test_symlink_outside_repo_rejected_by_core(sw: Sw, tmp_path: Path, write: Write) -> None:
    write(tmp_path, {"secret.yaml": CM, "repo/a/kustomization.yaml": "resources:\n  - cm.yaml\n"})
    os.symlink("../../secret.yaml", tmp_path / "repo/a/cm.yaml")
    err = _failed(sw("render", "-f", str(_app_file(tmp_path, "a"))), "out of bounds symlink", "a/cm.yaml")
    assert str(tmp_path / "secret.yaml") not in err


def _repo(write: Write, tmp_path: Path) -> Path:
    return write(tmp_path / "repo", {"a/kustomization.yaml": "resources:\n  - cm.yaml\ncommonLabels:\n  team: x\n",
                                     "a/cm.yaml": CM})


@pytest.mark.parametrize(("options", "error", "needle"), [
    ({"patches": [{"path": "../../../etc/passwd"}]}, PathEscapeError, "patches[0].path"),
    ({"components": ["../comp-missing"]}, SpecError, "ignoreMissingComponents"),
    ({"components": ["../../../../tmp"]}, PathEscapeError, "components"),
    ({"images": ["justaname"]}, SpecError, "invalid image 'justaname'"),
    ({"commonLabels": {"team": "y"}}, SpecError, "label team already in kustomization file"),
    ({"commonLabels": {"bad key!": "y"}}, SpecError, "invalid key 'bad key!'"),
    ({"commonLabels": {"ok": "not valid!"}}, SpecError, "invalid value 'not valid!'"),
    ({"commonLabels": {"ok": "v"}, "labelIncludeTemplates": True}, SpecError, "requires labelWithoutSelector"),
    ({"replicas": [{"name": "web", "count": "three"}]}, SpecError, "replicas[0].count"),
    ({"version": "v9.9.9"}, SpecError, "SYNCWRIGHT_KUSTOMIZE_V9_9_9"),
])
def test_bad_options_fail_clearly(
    render: Render, write: Write, tmp_path: Path, options: Mapping[str, Any], error: type[Exception], needle: str
) -> None:
    root = _repo(write, tmp_path)
    with pytest.raises(error) as info:
        render(root, "a", options)
    assert needle in str(info.value)


def test_force_common_labels_overrides(render: Render, write: Write, tmp_path: Path) -> None:
    root = _repo(write, tmp_path)
    out = render(root, "a", {"commonLabels": {"team": "y"}, "forceCommonLabels": True})
    assert out[0]["metadata"]["labels"] == {"team": "y"}


def test_missing_kustomization_with_explicit_tool(render: Render, write: Write, tmp_path: Path) -> None:
    root = write(tmp_path / "repo", {"a/cm.yaml": CM})
    with pytest.raises(RenderError, match="no kustomization.yaml, kustomization.yml, Kustomization in the app path"):
        render(root, "a", {})


def test_bad_build_options_env(render: Render, write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(write, tmp_path)
    monkeypatch.setenv("SYNCWRIGHT_KUSTOMIZE_BUILD_OPTIONS", "--load-restrictor 'unterminated")
    with pytest.raises(SpecError, match="SYNCWRIGHT_KUSTOMIZE_BUILD_OPTIONS"):
        render(root, "a")
    monkeypatch.setenv("SYNCWRIGHT_KUSTOMIZE_BUILD_OPTIONS", "--no-such-flag")
    with pytest.raises(RenderError, match="no-such-flag"):
        render(root, "a")
