"""Fidelity: the real kubectl drives kubesim exactly as it would drive a cluster."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from kubesim_testlib import KUBECTL

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.25
        ports: [{containerPort: 80}]
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
"""


def _write(tmp_path: Path, text: str, name: str = "m.yaml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _get(kubectl: Kubectl, ns: str, what: str) -> dict[str, Any]:
    return json.loads(kubectl("-n", ns, "get", what, "-o", "json").stdout)


def test_create_get_json(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl("-n", ns, "create", "-f", _write(tmp_path, "apiVersion: v1\nkind: ConfigMap\n"
                                                       "metadata: {name: c1}\ndata: {a: '1'}\n"))
    obj = _get(kubectl, ns, "configmap/c1")
    assert obj["data"] == {"a": "1"} and obj["metadata"]["namespace"] == ns
    out = kubectl("-n", ns, "get", "configmaps").stdout
    assert "c1" in out and "DATA" in out


def test_client_side_apply_twice_removes_field(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = _write(tmp_path, DEPLOY)
    assert "created" in kubectl("-n", ns, "apply", "-f", f).stdout
    assert "unchanged" in kubectl("-n", ns, "apply", "-f", f).stdout
    f2 = _write(tmp_path, DEPLOY.replace(', {name: B, value: "2"}', "").replace(
        "  labels: {app: web}\n", "", 1), "m2.yaml")
    assert "configured" in kubectl("-n", ns, "apply", "-f", f2).stdout
    obj = _get(kubectl, ns, "deployment/web")
    env = obj["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "A", "value": "1"}]
    assert "app" not in (obj["metadata"].get("labels") or {})


def test_server_side_apply_twice_removes_field(kubectl: Kubectl, ns: str,
                                               tmp_path: Path) -> None:
    f = _write(tmp_path, DEPLOY)
    assert "serverside-applied" in kubectl("-n", ns, "apply", "--server-side", "-f", f).stdout
    obj = json.loads(kubectl("-n", ns, "get", "deployment/web", "-o", "json",
                             "--show-managed-fields").stdout)
    managers = {m["manager"] for m in obj["metadata"]["managedFields"]}
    assert "kubectl" in managers
    f2 = _write(tmp_path, DEPLOY.replace(', {name: B, value: "2"}', ""), "m2.yaml")
    kubectl("-n", ns, "apply", "--server-side", "-f", f2)
    obj = _get(kubectl, ns, "deployment/web")
    assert obj["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A",
                                                                         "value": "1"}]


def test_server_side_apply_conflict_names_manager(kubectl: Kubectl, ns: str,
                                                  tmp_path: Path) -> None:
    f = _write(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\n"
                         "data: {k: one}\n")
    kubectl("-n", ns, "apply", "--server-side", "--field-manager=first", "-f", f)
    f2 = _write(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\n"
                          "data: {k: two}\n", "b.yaml")
    proc = kubectl("-n", ns, "apply", "--server-side", "--field-manager=second", "-f", f2,
                   check=False)
    assert proc.returncode != 0
    assert "conflict" in proc.stderr.lower() and "first" in proc.stderr
    kubectl("-n", ns, "apply", "--server-side", "--field-manager=second", "--force-conflicts",
            "-f", f2)
    assert _get(kubectl, ns, "configmap/owned")["data"] == {"k": "two"}


def test_patch_types(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl("-n", ns, "apply", "-f", _write(tmp_path, DEPLOY))
    kubectl("-n", ns, "patch", "deployment", "web", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.26"}]}}}}')
    c = _get(kubectl, ns, "deployment/web")["spec"]["template"]["spec"]["containers"]
    assert len(c) == 1 and c[0]["image"] == "nginx:1.26" and c[0]["ports"]
    kubectl("-n", ns, "patch", "deployment", "web", "--type=merge", "-p",
            '{"metadata":{"annotations":{"m":"1"}}}')
    kubectl("-n", ns, "patch", "deployment", "web", "--type=json", "-p",
            '[{"op":"replace","path":"/spec/replicas","value":3}]')
    obj = _get(kubectl, ns, "deployment/web")
    assert obj["metadata"]["annotations"]["m"] == "1" and obj["spec"]["replicas"] == 3


def test_label(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "configmap", "lab")
    kubectl("-n", ns, "label", "configmap", "lab", "color=blue")
    assert "lab" in kubectl("-n", ns, "get", "cm", "-l", "color=blue", "-o", "name").stdout
    kubectl("-n", ns, "label", "configmap", "lab", "color-")
    assert kubectl("-n", ns, "get", "cm", "-l", "color", "-o", "name").stdout.strip() == ""


def _rollout(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl("-n", ns, "apply", "-f", _write(tmp_path, DEPLOY))
    kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=20s")


def test_wait_available_and_rollout_status(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    _rollout(kubectl, ns, tmp_path)
    kubectl("-n", ns, "wait", "--for=condition=Available", "deployment/web", "--timeout=20s")
    kubectl("-n", ns, "set", "image", "deployment/web", "app=nginx:1.27")
    out = kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=20s").stdout
    assert "successfully rolled out" in out
    rs = _get(kubectl, ns, "replicasets")["items"]
    assert len(rs) == 2 and sorted(r["spec"]["replicas"] for r in rs) == [0, 2]
    kubectl("-n", ns, "rollout", "undo", "deployment/web")
    kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=20s")
    d = _get(kubectl, ns, "deployment/web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


def _pods(kubectl: Kubectl, ns: str) -> list[dict[str, Any]]:
    return _get(kubectl, ns, "pods")["items"]


def test_delete_cascade_foreground(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    _rollout(kubectl, ns, tmp_path)
    kubectl("-n", ns, "delete", "deployment", "web", "--cascade=foreground", "--timeout=20s")
    assert _get(kubectl, ns, "replicasets")["items"] == []
    assert _pods(kubectl, ns) == []


def test_delete_cascade_background(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    _rollout(kubectl, ns, tmp_path)
    kubectl("-n", ns, "delete", "deployment", "web", "--cascade=background")
    deadline = time.monotonic() + 10
    while _pods(kubectl, ns) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _pods(kubectl, ns) == [] and _get(kubectl, ns, "replicasets")["items"] == []


def test_delete_cascade_orphan(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    _rollout(kubectl, ns, tmp_path)
    kubectl("-n", ns, "delete", "deployment", "web", "--cascade=orphan")
    rs = _get(kubectl, ns, "replicasets")["items"]
    assert len(rs) == 1 and not rs[0]["metadata"].get("ownerReferences")
    assert len(_pods(kubectl, ns)) == 2


def test_get_watch_is_streamed(kubectl: Kubectl, kube_cluster: Any, ns: str) -> None:
    proc = subprocess.Popen(
        [KUBECTL, *kube_cluster.kubectl_args(), "-n", ns, "get", "configmaps", "--watch",
         "--request-timeout=5s", "-o", "name"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.8)
        kubectl("-n", ns, "create", "configmap", "watched-1")
        kubectl("-n", ns, "create", "configmap", "watched-2")
        time.sleep(0.8)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "configmap/watched-1" in out and "configmap/watched-2" in out


def test_diff_server_side(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    f = _write(tmp_path, DEPLOY)
    kubectl("-n", ns, "apply", "--server-side", "-f", f)
    assert kubectl("-n", ns, "diff", "--server-side", "-f", f).returncode == 0
    f2 = _write(tmp_path, DEPLOY.replace("replicas: 2", "replicas: 4"), "m2.yaml")
    proc = kubectl("-n", ns, "diff", "--server-side", "-f", f2, check=False)
    assert proc.returncode == 1 and "replicas: 4" in proc.stdout
    assert _get(kubectl, ns, "deployment/web")["spec"]["replicas"] == 2


def test_crd_then_custom_resources(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    group = f"k{uuid.uuid4().hex[:6]}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"widgets.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                              "shortNames": [f"wd{group[1:4]}"]},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "subresources": {"status": {}},
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object", "properties": {
                                          "spec": {"type": "object", "properties": {
                                              "size": {"type": "integer"}}}}}}}]}}
    kubectl("apply", "-f", _write(tmp_path, yaml.safe_dump(crd), "crd.yaml"))
    kubectl("wait", "--for=condition=Established", f"crd/widgets.{group}", "--timeout=10s")
    w = f"apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: w1}}\nspec: {{size: 3}}\n"
    kubectl("-n", ns, "apply", "-f", _write(tmp_path, w, "w.yaml"))
    kubectl("-n", ns, "apply", "--server-side", "-f", _write(tmp_path, w, "w.yaml"))
    kubectl("-n", ns, "patch", f"widgets.{group}", "w1", "--type=merge", "-p",
            '{"spec":{"size":4}}')
    assert _get(kubectl, ns, f"widgets.{group}/w1")["spec"]["size"] == 4
    kubectl("delete", "crd", f"widgets.{group}")
    proc = kubectl("-n", ns, "get", f"widgets.{group}", check=False)
    assert proc.returncode != 0


def test_explain_uses_openapi(kubectl: Kubectl) -> None:
    out = kubectl("explain", "deployment.spec.replicas").stdout
    assert "replicas" in out.lower() and "integer" in out.lower()


def test_imperative_create_generators(kubectl: Kubectl, ns: str) -> None:
    """`kubectl create <generator>` sends protobuf bodies; the common ones work."""
    kubectl("-n", ns, "create", "configmap", "gen-cm", "--from-literal=a=1")
    kubectl("-n", ns, "create", "secret", "generic", "gen-s", "--from-literal=p=q")
    kubectl("-n", ns, "create", "serviceaccount", "gen-sa")
    kubectl("-n", ns, "create", "deployment", "gen-d", "--image=nginx:1.25", "--replicas=2")
    kubectl("-n", ns, "create", "service", "clusterip", "gen-svc", "--tcp=80:8080")
    kubectl("-n", ns, "create", "job", "gen-j", "--image=busybox", "--", "true")
    assert _get(kubectl, ns, "configmap/gen-cm")["data"] == {"a": "1"}
    assert _get(kubectl, ns, "secret/gen-s")["data"] == {"p": "cQ=="}
    d = _get(kubectl, ns, "deployment/gen-d")
    assert d["spec"]["replicas"] == 2 and d["spec"]["selector"]["matchLabels"] == {
        "app": "gen-d"}
    svc = _get(kubectl, ns, "service/gen-svc")
    assert svc["spec"]["ports"][0]["port"] == 80 and svc["spec"]["ports"][0]["targetPort"] == 8080
    assert _get(kubectl, ns, "job/gen-j")["spec"]["template"]["spec"]["containers"][0][
        "command"] == ["true"]
    kubectl("-n", ns, "rollout", "status", "deployment/gen-d", "--timeout=20s")


@pytest.mark.kubesim_only
def test_logs_of_simulated_pods(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    _rollout(kubectl, ns, tmp_path)
    out = kubectl("-n", ns, "logs", "deployment/web").stdout
    assert "simulated container app" in out
