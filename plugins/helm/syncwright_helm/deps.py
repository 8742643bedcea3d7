"""Chart dependencies: detect the missing ones, build them in a private copy.

Argo CD renders straight from the checkout and runs ``helm dependency build``
only when ``helm template`` says a dependency is missing. We check up front
(same rule as helm's ``CheckDependencies``: every dependency declared in
``Chart.yaml`` — or ``requirements.yaml`` for apiVersion v1 charts — must be
present in ``charts/`` by chart name, as a directory or a packaged archive) so
the common case costs one ``helm`` run and the checkout is never written to:
the build happens in ``ctx.writable_dir()``.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from syncwright.api import RenderContext, SpecError, check_symlinks

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(text: str | bytes) -> Any:
    """PyYAML's safe loader, the C one when available (it is ~10x faster)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader


#: Packaged charts are read only this far to find their name (a malicious archive must stay cheap).
MAX_ARCHIVE_MEMBERS = 200


@dataclass(frozen=True)
class Dependency:
    """One ``dependencies:`` entry of a chart."""

    name: str
    version: str
    repository: str


def load_chart_meta(chart_dir: Path, label: str = "Chart.yaml") -> dict[str, Any]:
    """``Chart.yaml`` as a mapping, with a clear error when it is not one."""
    path = chart_dir / "Chart.yaml"
    try:
        meta = _load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{label} not found, so the app path is not a Helm chart") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{label}{where}: invalid YAML: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(meta, dict):
        raise SpecError(f"{label}: must be a YAML mapping")
    return meta


def declared_dependencies(chart_dir: Path, meta: Mapping[str, Any] | None = None) -> list[Dependency]:
    """Dependencies from ``Chart.yaml`` (v2) or ``requirements.yaml`` (v1 charts)."""
    meta = load_chart_meta(chart_dir) if meta is None else meta
    raw = meta.get("dependencies")
    source = "Chart.yaml"
    if not raw and (chart_dir / "requirements.yaml").is_file():
        req = _load((chart_dir / "requirements.yaml").read_text(encoding="utf-8")) or {}
        raw = req.get("dependencies") if isinstance(req, dict) else None
        source = "requirements.yaml"
    if not raw:
        return []
    if not isinstance(raw, list):
        raise SpecError(f"{source}: dependencies must be a list")
    deps = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise SpecError(f"{source}: dependencies[{i}] must be a mapping with a name")
        deps.append(Dependency(entry["name"], str(entry.get("version") or ""), str(entry.get("repository") or "")))
    return deps


def vendored_chart_names(chart_dir: Path) -> set[str]:
    """Names of the charts present under ``charts/`` (directories and .tgz archives)."""
    charts = chart_dir / "charts"
    names: set[str] = set()
    if not charts.is_dir():
        return names
    for entry in charts.iterdir():
        if entry.is_dir():
            try:
                meta = _load((entry / "Chart.yaml").read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                continue
            if isinstance(meta, dict) and isinstance(meta.get("name"), str):
                names.add(meta["name"])
        elif entry.name.endswith((".tgz", ".tar.gz")):
            name = _archive_chart_name(entry)
            if name:
                names.add(name)
    return names


def _archive_chart_name(path: Path) -> str | None:
    try:
        with tarfile.open(path, "r:gz") as tf:
            for _, member in zip(range(MAX_ARCHIVE_MEMBERS), tf):
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == "Chart.yaml" and member.isfile():
                    handle = tf.extractfile(member)
                    if handle is None:
                        return None
                    meta = _load(handle.read(1024 * 1024))
                    return meta.get("name") if isinstance(meta, dict) else None
    except (OSError, tarfile.TarError, yaml.YAMLError):
        return None
    return None


def missing_dependencies(chart_dir: Path, meta: Mapping[str, Any] | None = None) -> list[Dependency]:
    """The declared dependencies with no chart of that name under ``charts/``."""
    deps = declared_dependencies(chart_dir, meta)
    if not deps:
        return []
    present = vendored_chart_names(chart_dir)
    return [d for d in deps if d.name not in present]


def build_dependencies(
    ctx: RenderContext, helm: str, env: Mapping[str, str], missing: list[Dependency]
) -> Path:
    """Run ``helm dependency build`` in a private copy of the source; return the copy's chart dir.

    ``file://`` repositories must stay inside the repository root; http(s)
    repositories are added to helm's private config (nothing from the user's
    own helm config is used); ``oci://`` needs no set-up.
    """
    repos: dict[str, str] = {}
    for dep in missing:
        what = f"dependency {dep.name!r} repository"
        repo = dep.repository
        if repo.startswith("file://"):
            # helm packages that directory: it and its symlinks must stay in the repository.
            check_symlinks(ctx.resolve(repo[len("file://"):], what=what), root=ctx.repo_root)
        elif repo.startswith(("http://", "https://")):
            repos.setdefault(repo.rstrip("/"), "sw-" + hashlib.sha256(repo.encode()).hexdigest()[:12])
        elif repo.startswith("oci://"):
            continue
        elif repo.startswith(("@", "alias:")):
            raise SpecError(
                f"{what} {repo!r} names a helm repository alias; syncwright uses a private helm "
                "config without the user's repositories, so give the repository URL instead"
            )
        else:
            raise SpecError(
                f"chart dependency {dep.name!r} is missing from charts/ and has no repository to build it from"
            )
    work = ctx.writable_dir()
    for url, name in sorted(repos.items()):
        ctx.run([helm, "repo", "add", name, url], cwd=work, env=env, what="helm repo add")
    ctx.run([helm, "dependency", "build", "."], cwd=work, env=env, what="helm dependency build")
    return work
