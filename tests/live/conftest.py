"""Helpers for tests that run syncwright against a cluster (kubesim or SYNCWRIGHT_E2E_KUBECONFIG)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent
SW = str(BIN / "syncwright")
KUBECTL = shutil.which("kubectl", path=str(BIN)) or "kubectl"


class Env:
    """A namespace of our own in the session cluster, plus ways to drive it."""

    def __init__(self, cluster: Any, tmp: Path) -> None:
        self.cluster = cluster
        self.tmp = tmp
        self.ns = f"t-{uuid.uuid4().hex[:8]}"
        self.kubectl("create", "namespace", self.ns)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([KUBECTL, *self.cluster.kubectl_args(), *args], input=input, capture_output=True,
                             text=True, timeout=60)
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {res.stderr}")
        return res

    def sw(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        kc = ["--kubeconfig", str(self.cluster.kubeconfig)]
        if self.cluster.context:
            kc += ["--context", self.cluster.context]
        res = subprocess.run([SW, *args, *kc], capture_output=True, text=True, timeout=120)
        if check and res.returncode != 0:
            raise AssertionError(f"syncwright {' '.join(args)} failed ({res.returncode}): {res.stderr}")
        return res

    def app(self, example: str, *, name: str | None = None, repo: Path = EXAMPLES, **spec: Any) -> Path:
        """A copy of examples/apps/<example>.yaml aimed at our namespace, with ``spec`` merged in."""
        doc = yaml.safe_load((EXAMPLES / "apps" / f"{example}.yaml").read_text())
        doc["metadata"]["name"] = name or f"{example}-{self.ns}"
        doc["spec"]["source"]["repoURL"] = str(repo)
        doc["spec"]["destination"]["namespace"] = self.ns
        if "kustomize" in doc["spec"]["source"]:  # overlays pin their own namespace; aim it at ours
            doc["spec"]["source"]["kustomize"]["namespace"] = self.ns
        doc["spec"].update(spec)
        path = self.tmp / f"{doc['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path

    def rendered(self, app_file: Path) -> list[dict[str, Any]]:
        res = subprocess.run([SW, "render", "-f", str(app_file), "-o", "json"], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        return list(json.loads(res.stdout)["items"])

    def apply(self, objs: list[dict[str, Any]], manager: str = "syncwright") -> None:
        body = yaml.safe_dump_all(objs)
        self.kubectl("apply", "--server-side", f"--field-manager={manager}", "--force-conflicts",
                     "-n", self.ns, "-f", "-", input=body)

    def get(self, app_file: Path) -> dict[str, Any]:
        res = self.sw("get", "-f", str(app_file), "-o", "json", check=True)
        return dict(json.loads(res.stdout))


@pytest.fixture
def env(kube_cluster: Any, tmp_path: Path) -> Env:
    return Env(kube_cluster, tmp_path)
