"""Sync status against a real API (kubesim by default): apply, compare, drift, ignore, prune candidates."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from syncwright.tracking import Tracking

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Env = Any

pytestmark = pytest.mark.slow


def statuses(rec: dict[str, Any]) -> dict[str, str]:
    return {f"{r['kind']}/{r['name']}": r["status"] for r in rec["resources"]}


@pytest.mark.parametrize("example", ["directory-app", "kustomize-app", "helm-app"])
def test_applied_example_is_synced_despite_server_defaults(env: Env, example: str) -> None:
    app = env.app(example)
    objs = env.rendered(app)
    env.apply(objs)
    rec = env.get(app)
    assert rec["sync"]["status"] == "Synced", statuses(rec)
    assert len([r for r in rec["resources"] if not r["hook"]]) >= 1
    deployments = [o for o in objs if o["kind"] == "Deployment"]
    if deployments:  # the server really did add defaults we never wrote
        live = json.loads(env.kubectl("get", "deployment", deployments[0]["metadata"]["name"], "-n", env.ns,
                                      "-o", "json").stdout)
        assert "revisionHistoryLimit" not in deployments[0]["spec"] and live["spec"]["revisionHistoryLimit"] == 10
    assert env.sw("diff", "-f", str(app)).returncode == 0


def test_live_edit_is_out_of_sync_and_diff_shows_it(env: Env) -> None:
    app = env.app("kustomize-app")
    objs = env.rendered(app)
    env.apply(objs)
    dep = next(o for o in objs if o["kind"] == "Deployment")["metadata"]["name"]
    env.kubectl("patch", "deployment", dep, "-n", env.ns, "--type=merge", "-p", '{"spec":{"replicas":7}}')
    rec = env.get(app)
    assert rec["sync"]["status"] == "OutOfSync"
    assert statuses(rec)[f"Deployment/{dep}"] == "OutOfSync"
    res = env.sw("diff", "-f", str(app))
    assert res.returncode == 1
    assert "-  replicas: 7" in res.stdout and f"apps/Deployment {env.ns}/{dep}" in res.stdout


def test_ignore_differences_keeps_it_synced(env: Env) -> None:
    app = env.app("kustomize-app", ignoreDifferences=[
        {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}])
    objs = env.rendered(app)
    env.apply(objs)
    dep = next(o for o in objs if o["kind"] == "Deployment")["metadata"]["name"]
    env.kubectl("patch", "deployment", dep, "-n", env.ns, "--type=merge", "-p", '{"spec":{"replicas":9}}')
    assert env.get(app)["sync"]["status"] == "Synced"


def test_bad_jq_in_ignore_differences_is_a_clear_error(env: Env) -> None:
    app = env.app("directory-app", ignoreDifferences=[{"kind": "ConfigMap", "jqPathExpressions": [".data["]}])
    res = env.sw("diff", "-f", str(app))
    assert res.returncode == 2
    assert "ignoreDifferences[0]" in res.stderr and "invalid jq path expression" in res.stderr
    assert "Traceback" not in res.stderr


def test_field_removed_from_git_is_out_of_sync(env: Env, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "directory-app", repo / "directory-app")
    app = env.app("directory-app", repo=repo)
    objs = env.rendered(app)
    env.apply(objs)
    assert env.get(app)["sync"]["status"] == "Synced"
    cm = next(o for o in objs if o["kind"] == "ConfigMap" and o.get("data"))
    name, key = cm["metadata"]["name"], sorted(cm["data"])[0]
    for f in (repo / "directory-app").rglob("*.yaml"):
        text = f.read_text()
        if f"name: {name}\n" in text and f"  {key}:" in text:
            f.write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith(f"  {key}:")) + "\n")
            break
    else:
        pytest.skip("example layout changed")
    rec = env.get(app)
    assert statuses(rec)[f"ConfigMap/{name}"] == "OutOfSync"


def test_extra_tracked_live_object_requires_pruning(env: Env) -> None:
    app = env.app("directory-app")
    env.apply(env.rendered(app))
    name = f"directory-app-{env.ns}"
    stray = Tracking().stamp({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stray",
                              "namespace": env.ns}, "data": {"a": "b"}}, name)
    other = Tracking().stamp({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-ours",
                              "namespace": env.ns}}, "someone-else")
    env.apply([stray, other])
    rec = env.get(app)
    by = {r["name"]: r for r in rec["resources"]}
    assert by["stray"]["requiresPruning"] and by["stray"]["status"] == "OutOfSync"
    assert "not-ours" not in by and rec["sync"]["status"] == "OutOfSync"


def test_secret_values_never_printed(env: Env, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "s").mkdir(parents=True)
    sec = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
           "data": {"password": base64.b64encode(b"git-value-123").decode()}}
    (repo / "s" / "secret.yaml").write_text(json.dumps(sec))
    app = env.app("directory-app", repo=repo)
    doc = app.read_text().replace("path: directory-app", "path: s")
    app.write_text(doc)
    live = json.loads(json.dumps(sec))
    live["data"]["password"] = base64.b64encode(b"live-value-456").decode()
    env.apply([live])
    res = env.sw("diff", "-f", str(app))
    assert res.returncode == 1
    for secret in ("git-value-123", "live-value-456"):
        assert secret not in res.stdout and base64.b64encode(secret.encode()).decode() not in res.stdout
    assert "++++++++" in res.stdout
    got = env.sw("get", "-f", str(app), "-o", "json").stdout
    assert "git-value-123" not in got and base64.b64encode(b"live-value-456").decode() not in got


def test_unreachable_cluster_is_exit_2(env: Env, tmp_path: Path) -> None:
    kc = tmp_path / "dead.kubeconfig"
    kc.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
                  "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                  "current-context: x\n")
    import subprocess
    import sys

    sw = str(Path(sys.executable).parent / "syncwright")
    res = subprocess.run([sw, "diff", "-f", str(env.app("directory-app")), "--kubeconfig", str(kc)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "cannot reach the API server" in res.stderr and "Traceback" not in res.stderr


def test_get_after_sync_shows_hooks_revision_and_tree(env: Env) -> None:
    app = env.app("helm-app")
    res = env.sw("sync", "-f", str(app), "-o", "json")
    assert res.returncode == 0, res.stdout + res.stderr
    rec = env.get(app)
    assert rec["sync"]["status"] == "Synced" and rec["sync"]["revisions"] == [""]
    hooks = {r["hook"] for r in rec["resources"] if r["hook"]}
    assert "PreSync" in hooks, rec["resources"]  # the PostSync hook is HookSucceeded: deleted after it ran
    assert all(r["health"] == "Healthy" for r in rec["resources"] if r["hook"])
    wide = env.sw("get", "-f", str(app), check=True).stdout
    assert "Synced to (local)" in wide
    tree = env.sw("get", "-f", str(app), "--tree", check=True).stdout
    assert "└─ ReplicaSet/" in tree and "└─ Pod/" in tree
