"""deploy/: the kustomize manifests build, agree with the code, and a server accepts them (dry run)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"


def kustomize(path: Path) -> list[dict[str, Any]]:
    res = subprocess.run([KUBECTL, "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return [d for d in yaml.safe_load_all(res.stdout) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return kustomize(DEPLOY / "base")


def test_base_has_every_piece(base: list[dict[str, Any]]) -> None:
    kinds = {d["kind"] for d in base}
    assert {"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
            "RoleBinding", "Deployment", "Service", "ConfigMap"} <= kinds
    crds = {c["metadata"]["name"] for c in by_kind(base, "CustomResourceDefinition")}
    assert crds == {"applications.syncwright.dev", "appprojects.syncwright.dev"}
    for d in base:
        if d["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"]["namespace"] == "syncwright", d["kind"]


def test_crds_file_is_what_install_crds_prints() -> None:
    from syncwright.controller.crds import crds

    on_disk = [d for d in yaml.safe_load_all((DEPLOY / "base" / "crds.yaml").read_text()) if d]
    assert on_disk == crds(), "deploy/base/crds.yaml is stale: run `syncwright install-crds > deploy/base/crds.yaml`"


def test_rbac_covers_the_controller(base: list[dict[str, Any]]) -> None:
    sa = by_kind(base, "ServiceAccount")[0]["metadata"]["name"]
    dep = by_kind(base, "Deployment")[0]
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == sa
    rules = by_kind(base, "ClusterRole")[0]["rules"]

    def allowed(rs: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
        return any((group in r.get("apiGroups", []) or "*" in r.get("apiGroups", []))
                   and (resource in r.get("resources", []) or "*" in r.get("resources", []))
                   and (verb in r["verbs"] or "*" in r["verbs"]) for r in rs)

    for verb in ("get", "list", "watch", "patch"):
        assert allowed(rules, "syncwright.dev", "applications", verb)
    assert allowed(rules, "syncwright.dev", "applications/status", "update")
    role = by_kind(base, "Role")[0]["rules"]
    for verb in ("get", "create", "update"):
        assert allowed(role, "coordination.k8s.io", "leases", verb)
    assert allowed(role, "", "secrets", "watch")  # cluster Secrets in Argo CD's format
    for binding in by_kind(base, "ClusterRoleBinding") + by_kind(base, "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": "syncwright"}]


def test_deployment_probes_service_and_sidecar_match_the_server(base: list[dict[str, Any]]) -> None:
    from syncwright.server.api import Api

    routes = {r.template for r in Api(None).router().routes if r.public}  # type: ignore[arg-type]
    pod = by_kind(base, "Deployment")[0]["spec"]["template"]["spec"]
    controller, sidecar = pod["containers"]
    assert controller["livenessProbe"]["httpGet"]["path"] == "/healthz" in routes
    assert controller["readinessProbe"]["httpGet"]["path"] == "/readyz" in routes
    port_names = {p["name"] for p in controller["ports"]}
    svc = by_kind(base, "Service")[0]
    assert all(p["targetPort"] in port_names for p in svc["spec"]["ports"])
    assert svc["metadata"]["annotations"]["prometheus.io/path"] == "/metrics" in routes
    labels = pod_labels = by_kind(base, "Deployment")[0]["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()) and pod_labels
    # the sidecar serves the ConfigMap's plugin on a socket in the directory the controller reads
    sock = next(a.split("=", 1)[1] for a in sidecar["args"] if a.startswith("--socket="))
    sock_dir = next(a.split("=", 1)[1] for a in controller["args"] if a.startswith("--cmp-socket-dir="))
    assert os.path.dirname(sock) == sock_dir
    cm = by_kind(base, "ConfigMap")[0]
    plugin = yaml.safe_load(cm["data"]["plugin.yaml"])
    assert plugin["kind"] == "ConfigManagementPlugin" and plugin["spec"]["generate"]["command"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["cmp-plugin"]["configMap"]["name"] == cm["metadata"]["name"]
    for c in pod["containers"]:
        assert all(m["name"] in volumes for m in c["volumeMounts"])
        assert c["securityContext"]["readOnlyRootFilesystem"] is True


def _flags(args: list[str]) -> tuple[list[str], str, list[str]]:
    """(global flags, subcommand, subcommand flags) of a container's args."""
    i = next(n for n, a in enumerate(args) if not a.startswith("-"))
    return ([a.split("=")[0] for a in args[:i]], args[i], [a.split("=")[0] for a in args[i + 1:] if a.startswith("-")])


def _options(cmd: Any) -> set[str]:
    return {o for p in cmd.params for o in getattr(p, "opts", []) if o.startswith("-")}


def test_container_args_are_real_flags(base: list[dict[str, Any]]) -> None:
    import click

    from syncwright.cli import main

    ctx = click.Context(main)
    pod = by_kind(base, "Deployment")[0]["spec"]["template"]["spec"]
    for c in pod["containers"]:
        glob, sub, flags = _flags(c["args"])
        assert set(glob) <= _options(main), glob
        cmd = main.get_command(ctx, sub)
        assert cmd is not None, sub
        missing = set(flags) - _options(cmd)
        assert not missing, f"{sub}: {sorted(missing)}"


def test_prometheus_overlay_adds_a_matching_servicemonitor(base: list[dict[str, Any]]) -> None:
    docs = kustomize(DEPLOY / "overlays" / "prometheus-operator")
    sm = by_kind(docs, "ServiceMonitor")[0]
    svc = by_kind(docs, "Service")[0]
    assert all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())
    assert {e["port"] for e in sm["spec"]["endpoints"]} <= {p["name"] for p in svc["spec"]["ports"]}
    assert len(docs) == len(base) + 1


def test_dockerfile_installs_core_plugins_and_tools() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.count("FROM python:3.11-slim") == 2
    assert "scripts/install_tools.py" in text and "USER 999:999" in text
    for src in re.findall(r"^COPY (?!--)(.+) \S+$", text, re.M):
        for path in src.split():
            assert (ROOT / path).exists(), path
    plugins = {p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml")}
    assert plugins and all(f"./plugins/{p}" in text for p in plugins)


@pytest.mark.slow
def test_server_side_dry_run_accepts_the_manifests(kube_cluster: Any, tmp_path: Path) -> None:
    ns = f"deploy-{uuid.uuid4().hex[:8]}"
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": ns,
        "resources": [os.path.relpath(DEPLOY / "base", overlay)]}))
    docs = kustomize(overlay)
    kube = [KUBECTL, *kube_cluster.kubectl_args()]
    subprocess.run([*kube, "create", "namespace", ns], check=True, capture_output=True, timeout=60)
    rest = [d for d in docs if d["kind"] != "Namespace"]
    res = subprocess.run([*kube, "apply", "--server-side", "--dry-run=server", "--field-manager=syncwright-test",
                          "-f", "-"], input=yaml.safe_dump_all(rest), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    applied = [line for line in res.stdout.splitlines() if "serverside-applied" in line]
    assert len(applied) == len(rest), res.stdout
    # nothing was written: the dry run left the cluster as it was
    got = subprocess.run([*kube, "get", "deployments", "-n", ns, "-o", "name"], capture_output=True, text=True,
                         timeout=60)
    assert got.returncode == 0 and got.stdout.strip() == ""
