"""The three example CMPs: rendered locally and through real cmp-server sidecars, object by object
against the raw plugin commands run by hand with Argo CD's environment."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncwright.api import DEFAULT_API_VERSIONS, DEFAULT_KUBE_VERSION

APPS = ["cmp-envsubst", "cmp-params", "cmp-init"]
PLUGIN_OF = {"cmp-envsubst": "envsubst", "cmp-params": "params-demo", "cmp-init": "bundler"}


def raw_render(h: Any, app: str, tmp: Path) -> list[dict[str, Any]]:
    """Run the example plugin's init and generate by hand, with the env built independently here."""
    spec = yaml.safe_load((h.EXAMPLES / "apps" / f"{app}.yaml").read_text())
    source = spec["spec"]["source"]
    plugin = yaml.safe_load((h.PLUGINS / f"{PLUGIN_OF[app]}.yaml").read_text())["spec"]
    shutil.copytree(h.EXAMPLES / app, tmp / app)
    shutil.copytree(h.EXAMPLES / "cmp-shared", tmp / "cmp-shared")
    env = {
        **h.base_env(),
        "ARGOCD_APP_NAME": app, "ARGOCD_APP_NAMESPACE": app, "ARGOCD_APP_PROJECT_NAME": "default",
        "ARGOCD_APP_REVISION": "", "ARGOCD_APP_REVISION_SHORT": "", "ARGOCD_APP_REVISION_SHORT_8": "",
        "ARGOCD_APP_SOURCE_REPO_URL": "..", "ARGOCD_APP_SOURCE_PATH": app, "ARGOCD_APP_SOURCE_TARGET_REVISION": "",
        "KUBE_VERSION": DEFAULT_KUBE_VERSION, "KUBE_API_VERSIONS": ",".join(DEFAULT_API_VERSIONS),
    }
    for e in (source.get("plugin") or {}).get("env", []):
        env["ARGOCD_ENV_" + e["name"]] = e["value"].replace("$ARGOCD_APP_NAME", app)
    params = (source.get("plugin") or {}).get("parameters", [])
    env["ARGOCD_APP_PARAMETERS"] = json.dumps(params, separators=(",", ":"), sort_keys=True)
    cwd = tmp / app
    if plugin.get("init"):
        subprocess.run(plugin["init"]["command"] + plugin["init"].get("args", []), cwd=cwd, env=env, check=True)
    out = subprocess.run(plugin["generate"]["command"] + plugin["generate"].get("args", []), cwd=cwd, env=env,
                         check=True, capture_output=True).stdout
    objs: list[dict[str, Any]] = []
    for d in h.docs(out):
        objs.extend(d["items"] if d.get("kind") == "List" else [d])
    return objs


@pytest.mark.parametrize("app", APPS)
def test_cmp_example_local_and_sidecar_match_raw(h: Any, app: str, example_sidecars: Path, tmp_path: Path) -> None:
    expected = raw_render(h, app, tmp_path)
    assert expected, "the raw plugin printed objects"
    local = h.sw("--cmp-dir", str(h.PLUGINS), "render", "-f", str(h.EXAMPLES / "apps" / f"{app}.yaml"))
    assert local.returncode == 0, local.stderr
    side = h.sw("--cmp-socket-dir", str(example_sidecars), "render", "-f", str(h.EXAMPLES / "apps" / f"{app}.yaml"))
    assert side.returncode == 0, side.stderr
    for out in (local.stdout, side.stdout):
        got = h.docs(out)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g == e


def test_cmp_example_path_form_with_flags(h: Any, example_sidecars: Path) -> None:
    args = ["render", str(h.EXAMPLES / "cmp-envsubst"), "--repo-root", str(h.EXAMPLES), "--namespace", "web",
            "--plugin-env", "GREETING=hi $ARGOCD_APP_NAMESPACE", "--plugin-env", "REPLICAS=4"]
    local = h.sw("--cmp-dir", str(h.PLUGINS), *args)
    side = h.sw("--cmp-socket-dir", str(example_sidecars), *args)
    for proc in (local, side):
        assert proc.returncode == 0, proc.stderr
        cm, deploy = h.docs(proc.stdout)
        assert cm["data"] == {"greeting": "hi web", "namespace": "web"}
        assert deploy["spec"]["replicas"] == 4
    # -p parameters with an explicit tool
    args = ["render", str(h.EXAMPLES / "cmp-params"), "--repo-root", str(h.EXAMPLES), "--tool", "cmp:params-demo-v1.0",
            "-p", "replicas=5", "-p", "image=busybox"]
    for flag, value in (("--cmp-dir", h.PLUGINS), ("--cmp-socket-dir", example_sidecars)):
        proc = h.sw(flag, str(value), *args)
        assert proc.returncode == 0, proc.stderr
        deploy = h.docs(proc.stdout)[0]
        assert deploy["spec"]["replicas"] == 5
        assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"


def test_cmp_library_render(h: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from syncwright.model import load_applications
    from syncwright.plugins import Hooks
    from syncwright.render import render_application

    monkeypatch.setenv("SYNCWRIGHT_CMP_DIR", str(h.PLUGINS))
    monkeypatch.delenv("SYNCWRIGHT_CMP_SOCKETS", raising=False)
    app = load_applications(h.EXAMPLES / "apps" / "cmp-init.yaml")[0]
    objs = render_application(Hooks.load(), app, h.EXAMPLES / "apps")
    assert [o["kind"] for o in objs] == ["LimitRange", "ResourceQuota", "Service", "CronJob"]


def test_cmp_plugins_lists_local_and_sidecars(h: Any, example_sidecars: Path) -> None:
    proc = h.sw("--cmp-dir", str(h.PLUGINS), "plugins", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    cmp = next(p for p in json.loads(proc.stdout) if p["name"] == "cmp")
    types = {t["name"]: t for t in cmp["source_types"]}
    assert set(types) == {"cmp:envsubst", "cmp:params-demo-v1.0", "cmp:bundler"}
    assert "templates/*.yaml.tpl" in types["cmp:envsubst"]["discover"]
    assert "**/*.bundle.yaml" in types["cmp:bundler"]["discover"]
    assert "explicit" in types["cmp:params-demo-v1.0"]["discover"] or "names it" in types["cmp:params-demo-v1.0"]["discover"]
    assert types["cmp:params-demo-v1.0"]["parameters"] == ["replicas", "image", "ports", "labels"]
    proc = h.sw("--cmp-socket-dir", str(example_sidecars), "plugins", "-o", "json")
    cmp = next(p for p in json.loads(proc.stdout) if p["name"] == "cmp")
    side = {t["name"]: t for t in cmp["source_types"]}
    assert set(side) == set(types)
    assert "sidecar" in side["cmp:bundler"]["description"]
    assert side["cmp:params-demo-v1.0"]["parameters"] == ["replicas", "image", "ports", "labels"]


def test_cmp_params_command_static_then_dynamic(h: Any, example_sidecars: Path) -> None:
    args = ["cmp-params", str(h.EXAMPLES / "cmp-params"), "--repo-root", str(h.EXAMPLES), "--plugin", "params-demo-v1.0"]
    for flag, value in (("--cmp-dir", h.PLUGINS), ("--cmp-socket-dir", example_sidecars)):
        proc = h.sw(flag, str(value), *args)
        assert proc.returncode == 0, proc.stderr
        names = [p["name"] for p in json.loads(proc.stdout)]
        assert names == ["replicas", "image", "ports", "labels", "tier"]


def test_cmp_server_logs_one_line_per_request_and_cleans_up(h: Any, servers: Any, tmp_path: Path) -> None:
    import concurrent.futures

    srv = servers(h.PLUGINS / "bundler.yaml", "bundler")
    env = {**h.base_env(), "SYNCWRIGHT_CMP_SOCKETS": str(srv.socket.parent)}
    before = len(srv.log_lines())

    def one(i: int) -> subprocess.CompletedProcess[str]:
        return h.sw("render", "-f", str(h.EXAMPLES / "apps" / "cmp-init.yaml"), env=env)

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(6)))
    for r in results:
        assert r.returncode == 0, r.stderr
        assert len(h.docs(r.stdout)) == 4
    lines = srv.log_lines()[before:]
    generates = [line for line in lines if "POST /v1/generate 200" in line]
    assert len(generates) == 6
    assert all(" files=" in line and " output=" in line for line in generates)
    assert srv.request_dirs() == []  # every request's temp dir removed
