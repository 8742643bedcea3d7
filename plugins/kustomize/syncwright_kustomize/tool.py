"""Finding the binary that builds kustomizations, its version, and the build argv.

A standalone ``kustomize`` wins when present (``$SYNCWRIGHT_KUSTOMIZE`` or
PATH), as it is what Argo CD runs; else ``kubectl kustomize`` (kubectl embeds
kustomize). Asking a binary for its version costs a process start, so it is
done only for ``syncwright plugins`` and cached per binary path.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from syncwright.api import SpecError, ToolBinary, find_tool

INSTALL_HINT = (
    "install kustomize (https://kubectl.docs.kubernetes.io/installation/kustomize/) or kubectl, "
    "or run `make tools`; point SYNCWRIGHT_KUSTOMIZE or SYNCWRIGHT_KUBECTL at the binary"
)
BUILD_OPTIONS_ENV = "SYNCWRIGHT_KUSTOMIZE_BUILD_OPTIONS"
_VERSION = re.compile(r"v?\d+\.\d+\.\d+[-+.\w]*")
_versions: dict[str, str | None] = {}


@dataclass(frozen=True)
class Builder:
    """The binary that builds, and how to call it."""

    binary: ToolBinary
    #: argv prefix before the kustomization dir: ``[kustomize, build]`` or ``[kubectl, kustomize]``
    prefix: tuple[str, ...]
    label: str


def find_builder(version: str = "") -> Builder:
    """The kustomize binary, else kubectl; the returned ToolBinary may be missing (path None).

    ``version`` (the spec's ``kustomize.version``) selects a binary registered as
    ``$SYNCWRIGHT_KUSTOMIZE_<VERSION>`` (e.g. ``SYNCWRIGHT_KUSTOMIZE_V5_4_3``), as
    Argo CD's ``kustomize.path.<version>`` setting does.
    """
    if version:
        var = "SYNCWRIGHT_KUSTOMIZE_" + re.sub(r"[^A-Za-z0-9]", "_", version).upper()
        tool = find_tool("kustomize", var, f"kustomize {version} is requested by the spec; set {var} to its path")
        if tool.path is None:
            raise SpecError(f"spec.source.kustomize.version: kustomize {version} is not registered (set {var} to its path)")
        return Builder(tool, (tool.path, "build"), f"kustomize {version} build")
    tool = find_tool("kustomize", "SYNCWRIGHT_KUSTOMIZE", INSTALL_HINT)
    if tool.path is not None:
        return Builder(tool, (tool.path, "build"), "kustomize build")
    kubectl = find_tool("kubectl", "SYNCWRIGHT_KUBECTL", INSTALL_HINT)
    if kubectl.path is not None:
        return Builder(kubectl, (kubectl.path, "kustomize"), "kubectl kustomize")
    # Neither: report under the name users know, naming both variables.
    missing = ToolBinary("kustomize (or kubectl)", None, "SYNCWRIGHT_KUSTOMIZE / $SYNCWRIGHT_KUBECTL", INSTALL_HINT)
    return Builder(missing, (), "kustomize build")


def cached_version(path: str | None) -> str | None:
    """The version already asked for ``path``, without running anything."""
    return _versions.get(path) if path else None


def tool_version(builder: Builder) -> str | None:
    """The kustomize version of ``builder`` (``v5.8.1``), asked once per binary path."""
    path = builder.binary.path
    if path is None:
        return None
    if path not in _versions:
        _versions[path] = _ask_version(path, kubectl=builder.prefix[1:] == ("kustomize",))
    return _versions[path]


def _ask_version(path: str, *, kubectl: bool) -> str | None:
    argv = [path, "version", "--client", "-o", "json"] if kubectl else [path, "version"]
    try:
        out = subprocess.run(argv, capture_output=True, timeout=20, check=False, text=True).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    if kubectl:
        try:
            info = json.loads(out)
            kustomize = str(info.get("kustomizeVersion") or "")
            kubectl_version = str((info.get("clientVersion") or {}).get("gitVersion") or "")
        except (ValueError, AttributeError):
            return None
        if not kustomize:
            return None
        return f"{kustomize} (kubectl {kubectl_version})" if kubectl_version else kustomize
    match = _VERSION.search(out)
    return match.group(0) if match else None


def build_options() -> list[str]:
    """``$SYNCWRIGHT_KUSTOMIZE_BUILD_OPTIONS`` (Argo CD's ``kustomize.buildOptions``) as argv."""
    raw = os.environ.get(BUILD_OPTIONS_ENV, "")
    try:
        return shlex.split(raw)
    except ValueError as e:
        raise SpecError(f"${BUILD_OPTIONS_ENV}: cannot split {raw!r}: {e}") from e


def build_argv(
    builder: Builder,
    kdir: Path,
    options: list[str],
    *,
    kube_version: str,
    api_versions: tuple[str, ...],
) -> list[str]:
    """``<builder> <dir> <options>``, plus Helm's target cluster when ``--enable-helm`` is on.

    As Argo CD (kustomize >= 5.3): ``--helm-kube-version`` and one
    ``--helm-api-versions`` per API version; ``--helm-command`` points at the
    helm syncwright uses unless the options name one.
    """
    argv = [*builder.prefix, str(kdir), *options]
    if any(o == "--enable-helm" or o.startswith("--enable-helm=") and o != "--enable-helm=false" for o in options):
        if not any(o == "--helm-command" or o.startswith("--helm-command=") for o in options):
            helm = find_tool("helm", "SYNCWRIGHT_HELM", "")
            if helm.path is not None:
                argv += ["--helm-command", helm.path]
        if kube_version:
            argv += ["--helm-kube-version", kube_version]
        for api in api_versions:
            argv += ["--helm-api-versions", api]
    return argv
