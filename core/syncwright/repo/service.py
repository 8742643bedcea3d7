"""The repo service: an Application's sources → resolved revisions → cached manifests.

``RepoService.render_app`` is what ``syncwright render -f`` and the controller
call. Per source it resolves the revision (one ``ls-remote``, or the revision
cache), looks the render up in the manifest cache (a hit runs no tool and no
git command), and only on a miss fetches (if the commit is missing), exports
a private checkout, renders through the plugins and stores the result.
Multi-source ``ref`` sources are checked out too and passed as ``refs`` so
``$name/values.yaml`` works. Everything is removed after the render.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import RenderError, SyncwrightError
from ..execution import redact
from ..manifests import check_unique
from ..model import Application, Source
from ..render import BuildInfo, local_repo_path, render_source
from .cache import CachedRender, ManifestCache, ToolVersions, cache_key
from .checkout import export_commit, extract_tar
from .creds import CredentialStore
from .errors import AuthError, RepoError, RevisionNotFound, cache_root, env_float
from .gitmirror import Mirror, age, resolve_in_refs
from .helmrepo import HelmRepo, _atomic_write
from .locks import repo_lock
from .urls import is_http, normalize, safe, split_credentials, url_hash

_FULL_SHA = re.compile(r"^[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class Resolved:
    """A source's revision pinned: a commit SHA (Git) or a chart version (Helm)."""

    url: str
    revision: str
    sha: str
    how: str
    warnings: tuple[str, ...] = ()
    digest: str = ""


@dataclass(frozen=True)
class SourceResult:
    source: Source
    revision: str
    tool: str
    cached: bool
    manifests: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class AppRender:
    """The manifests of every source, concatenated, and what happened on the way."""

    app: str
    manifests: tuple[dict[str, Any], ...]
    sources: tuple[SourceResult, ...]
    warnings: tuple[str, ...] = ()


@dataclass
class _Work:
    """Temp dirs of one app render, removed at the end whatever happens."""

    dirs: list[Path] = field(default_factory=list)
    checkouts: dict[tuple[str, str], Path] = field(default_factory=dict)

    def mkdtemp(self, prefix: str) -> Path:
        d = Path(tempfile.mkdtemp(prefix=prefix))
        self.dirs.append(d)
        return d

    def cleanup(self) -> None:
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


def is_helm_source(source: Source) -> bool:
    """Argo CD: a source with ``chart`` names a chart in a Helm repository."""
    return bool(source.chart)


class RepoService:
    """Remote sources for one process: mirrors, Helm repos, revision and manifest caches.

    ``revision_ttl`` (seconds, default ``$SYNCWRIGHT_REVISION_CACHE_TTL`` or
    180 as Argo CD) is how long a branch/tag resolution is reused without
    asking the remote; concurrent resolutions of one revision share one
    ``ls-remote`` whatever the TTL.
    """

    def __init__(
        self,
        hooks: Any,
        *,
        cache_dir: Path | None = None,
        credentials: CredentialStore | None = None,
        revision_ttl: float | None = None,
        use_manifest_cache: bool = True,
    ) -> None:
        self.hooks = hooks
        self.root = cache_dir or cache_root()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.creds = credentials if credentials is not None else CredentialStore.load()
        self.revision_ttl = env_float("SYNCWRIGHT_REVISION_CACHE_TTL", 180.0) if revision_ttl is None else revision_ttl
        self.manifests = ManifestCache(self.root)
        self.use_manifest_cache = use_manifest_cache
        self.tool_versions = ToolVersions(self.root)
        self._mirrors: dict[str, Mirror] = {}
        self._helm: dict[str, HelmRepo] = {}
        self._guard = threading.Lock()
        self._revisions: dict[str, tuple[str, float]] = {}

    # -- repositories ------------------------------------------------------------------
    def mirror(self, url: str) -> Mirror:
        key = normalize(url)
        with self._guard:
            if key not in self._mirrors:
                self._mirrors[key] = Mirror(url, self.creds.lookup(url), self.root)
            return self._mirrors[key]

    def helm_repo(self, url: str) -> HelmRepo:
        if url.startswith("oci://"):
            raise RepoError(f"OCI Helm registries are not supported yet ({safe(url)}); use an HTTP(S) chart repository")
        if not is_http(url):
            raise RepoError(f"Helm chart source {safe(url)} must be an http(s) chart repository URL")
        key = normalize(url)
        with self._guard:
            if key not in self._helm:
                self._helm[key] = HelmRepo(url, self.creds.lookup(url), self.root)
            return self._helm[key]

    def secrets_for(self, urls: Iterable[str]) -> tuple[str, ...]:
        out: list[str] = []
        for url in urls:
            out += self.creds.lookup(url).secrets
            _, _, password = split_credentials(url)
            if password:
                out.append(password)
        return tuple(out)

    def ls_refs(self, url: str) -> dict[str, str]:
        return self.mirror(url).ls_remote()

    # -- revision resolution -------------------------------------------------------------
    def _rev_file(self, url: str) -> Path:
        return self.root / "git" / f"{url_hash(url)}.revisions.json"

    def _remembered(self, url: str, key: str) -> tuple[str, float] | None:
        mem = self._revisions.get(f"{normalize(url)}|{key}")
        if mem:
            return mem
        try:
            data = json.loads(self._rev_file(url).read_text())
            entry = data.get(key)
            return (str(entry["sha"]), float(entry["t"])) if entry else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _remember(self, url: str, key: str, sha: str) -> None:
        now = time.time()
        self._revisions[f"{normalize(url)}|{key}"] = (sha, now)
        path = self._rev_file(url)
        try:
            data = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        data[key] = {"sha": sha, "t": now}
        if len(data) > 1000:  # bounded: keep the most recent resolutions
            data = dict(sorted(data.items(), key=lambda kv: kv[1].get("t", 0))[-1000:])
        _atomic_write(path, json.dumps(data).encode())

    def resolve(self, url: str, revision: str = "", *, tag_prefix: str = "", refresh: bool = False) -> Resolved:
        """The commit ``revision`` names in the Git repo ``url`` (see ``resolve_in_refs``)."""
        rev = revision.strip()
        if _FULL_SHA.match(rev):
            return Resolved(url, revision, rev.lower(), "commit")
        key = f"{tag_prefix}|{rev}"
        started = time.time()
        if not refresh:
            hit = self._remembered(url, key)
            if hit and started - hit[1] <= self.revision_ttl:
                return Resolved(url, revision, hit[0], "revision cache")
        mirror = self.mirror(url)
        lock = self.root / "git" / f"{url_hash(url)}.resolve.lock"
        with repo_lock(lock, what=f"repo {safe(url)}"):
            hit = self._remembered(url, key)
            if hit and (hit[1] >= started or (not refresh and time.time() - hit[1] <= self.revision_ttl)):
                return Resolved(url, revision, hit[0], "revision cache")  # resolved while we waited
            try:
                refs = mirror.ls_remote()
            except AuthError:
                raise  # refused credentials are a configuration error, not an outage: no fallback
            except RepoError as e:
                return self._resolve_offline(mirror, url, revision, key, e)
            sha, how = resolve_in_refs(refs, rev, url=url, tag_prefix=tag_prefix)
            if sha is None:  # a short SHA: only the mirror can expand it
                sha = mirror.rev_parse(rev)
                if sha is None:
                    mirror.ensure_commit_refs()
                    sha = mirror.rev_parse(rev)
                if sha is None:
                    raise RevisionNotFound(f"repo {safe(url)}: revision {rev!r} not found (no such branch, tag or commit)")
                how = "short commit"
            self._remember(url, key, sha)
            return Resolved(url, revision, sha, how)

    def _resolve_offline(self, mirror: Mirror, url: str, revision: str, key: str, err: RepoError) -> Resolved:
        """The remote is unreachable: fall back to the last known resolution, with a warning."""
        hit = self._remembered(url, key)
        if hit:
            return Resolved(url, revision, hit[0], "stale revision cache",
                            (f"{err.message}; using revision {hit[0][:12]} resolved {age(hit[1])} ago",))
        local = mirror.local_refs()
        try:
            sha, how = resolve_in_refs(local, revision, url=url) if local else (None, "")
        except RepoError:
            sha = None
        if sha is None and revision.strip():
            sha = mirror.rev_parse(revision.strip())
        if sha:
            return Resolved(url, revision, sha, "mirror", (f"{err.message}; using {sha[:12]} from the local mirror",))
        raise err

    def resolve_chart(self, source: Source, *, refresh: bool = False) -> Resolved:
        repo = self.helm_repo(source.repo_url)
        found = repo.resolve(source.chart, source.target_revision, ttl=self.revision_ttl, refresh=refresh)
        return Resolved(source.repo_url, source.target_revision, found.chart.version.original,
                        "helm index", found.warnings, found.chart.digest)

    def resolve_source(self, source: Source, *, refresh: bool = False) -> Resolved:
        if is_helm_source(source):
            return self.resolve_chart(source, refresh=refresh)
        return self.resolve(source.repo_url, source.target_revision, tag_prefix=source.tag_prefix, refresh=refresh)

    # -- checkouts ---------------------------------------------------------------------
    def checkout(self, url: str, sha: str, work: _Work) -> Path:
        """A private tree of ``url`` at ``sha`` (shared by the sources of one app render)."""
        key = (normalize(url), sha)
        if key in work.checkouts:
            return work.checkouts[key]
        mirror = self.mirror(url)
        mirror.ensure_commit(sha)
        dest = work.mkdtemp("sw-checkout-") / "repo"
        export_commit(mirror, sha, dest, mirror_for=self.mirror)
        work.checkouts[key] = dest
        return dest

    def chart_checkout(self, source: Source, resolved: Resolved, work: _Work) -> Path:
        repo = self.helm_repo(source.repo_url)
        found = repo.resolve(source.chart, resolved.sha, ttl=float("inf"))
        pass_creds = bool(source.helm and source.helm.pass_credentials)
        archive = repo.pull(found.chart, pass_credentials=pass_creds)
        dest = work.mkdtemp("sw-chart-") / "chart"
        dest.mkdir()
        extract_tar(archive, dest, what=f"chart {source.chart} {resolved.sha}", strip=1)
        return dest

    # -- rendering ---------------------------------------------------------------------
    def _key(self, source: Source, resolved: Resolved | None, info: BuildInfo, tool: str | None,
             refs: Mapping[str, tuple[str, str]]) -> str:
        return cache_key({
            "repo": normalize(source.repo_url),
            "revision": resolved.sha if resolved else "",
            "chartDigest": resolved.digest if resolved else "",
            # As Argo CD: repoURL/targetRevision are blanked for Git sources (the SHA is the
            # identity), so a branch and the SHA it points to share one entry.
            "source": {k: v for k, v in source.model_dump(by_alias=True, exclude_none=True).items()
                       if k != "repoURL" and (k != "targetRevision" or is_helm_source(source))},
            "tool": tool,
            "plugins": [[p.name, p.distribution, p.version] for p in self.hooks.plugins()],
            "toolVersions": self.tool_versions.get(self.hooks),
            "kubeVersion": info.kube_version,
            "apiVersions": sorted(info.api_versions),
            "app": info.app_name,
            "namespace": info.app_namespace,
            "project": info.project,
            "refs": {k: list(v) for k, v in sorted(refs.items())},
        })

    def render_app(
        self,
        app: Application,
        info: BuildInfo | None = None,
        *,
        base_dir: Path | None = None,
        hard_refresh: bool = False,
        tool: str | None = None,
    ) -> AppRender:
        """Render every source of ``app`` (remote or local) and concatenate, Argo CD style."""
        info = info or BuildInfo(app.name, app.dest_namespace, app.spec.project)
        base_dir = base_dir or Path.cwd()
        sources = app.spec.effective_sources()
        secrets = self.secrets_for(s.repo_url for s in sources)
        work = _Work()
        try:
            return self._render_app(app, info, sources, base_dir, hard_refresh, tool, secrets, work)
        except SyncwrightError as e:
            raise _scrub(e, secrets) from None
        finally:
            work.cleanup()

    def _render_app(self, app: Application, info: BuildInfo, sources: Sequence[Source], base_dir: Path,
                    hard_refresh: bool, tool: str | None, secrets: tuple[str, ...], work: _Work) -> AppRender:
        warnings: list[str] = []
        resolved: list[Resolved | None] = []
        for source in sources:
            if local_repo_path(source.repo_url, base_dir) is not None and not is_helm_source(source):
                resolved.append(None)
                continue
            try:
                pinned = self.resolve_source(source, refresh=hard_refresh)
            except SyncwrightError as e:
                raise e.with_context(f"app {app.name!r}, source {safe(source.repo_url)}") from None
            warnings += pinned.warnings
            resolved.append(pinned)
        ref_pins = {s.ref: (normalize(s.repo_url), p.sha if p else "local") for s, p in zip(sources, resolved) if s.ref}
        ref_roots: dict[str, Path] | None = None
        results: list[SourceResult] = []
        out: list[dict[str, Any]] = []
        for source, r in zip(sources, resolved):
            if source.ref and not source.path and not source.chart:
                continue  # a pure ref source only provides files to the others
            clean = replace(source, repo_url=split_credentials(source.repo_url)[0])
            src_info = replace(info, revision=r.sha) if r else info
            key = self._key(clean, r, src_info, tool, ref_pins) if r is not None else None
            sha = r.sha if r is not None else ""
            hit = None
            if key and self.use_manifest_cache and not hard_refresh:
                hit = self.manifests.get(key)
            if hit is not None:
                warnings += hit.warnings  # the tool's own warnings are part of the result
                results.append(SourceResult(clean, sha, hit.tool, True, hit.manifests))
                out.extend(hit.manifests)
                continue
            if ref_roots is None:
                ref_roots = self._ref_roots(sources, resolved, base_dir, work, app.name)
            label = f"app {app.name!r}, source {safe(source.repo_url)}"
            try:
                if r is None:
                    root = local_repo_path(source.repo_url, base_dir)
                    assert root is not None
                    rendered = render_source(self.hooks, clean, root, src_info, tool=tool, secrets=secrets, refs=ref_roots)
                elif is_helm_source(source):
                    root = self.chart_checkout(source, r, work)
                    chart_src = replace(clean, path="")
                    rendered = render_source(self.hooks, chart_src, root, src_info, tool=tool or "helm",
                                             private=True, secrets=secrets, refs=ref_roots)
                else:
                    root = self.checkout(source.repo_url, r.sha, work)
                    # The checkout is this render's own copy: plugins may write into it directly,
                    # unless another source of this app (or a ref) reads the same tree.
                    shared = sum(1 for s2, r2 in zip(sources, resolved) if r2 is not None and r2.sha == r.sha
                                 and normalize(s2.repo_url) == normalize(source.repo_url)) > 1
                    rendered = render_source(self.hooks, clean, root, src_info, tool=tool,
                                             private=not shared, secrets=secrets, refs=ref_roots)
            except SyncwrightError as e:
                raise (e if (e.context or "").startswith("app ") else e.with_context(label)) from None
            except OSError as e:
                raise RenderError(f"{e.strerror or e}", context=label) from None
            warnings += rendered.warnings
            if key and self.use_manifest_cache:
                self.manifests.put(key, CachedRender(rendered.manifests, rendered.tool, rendered.tool_version,
                                                     rendered.warnings),
                                   meta={"app": app.name, "repo": safe(clean.repo_url), "revision": sha})
            results.append(SourceResult(clean, sha, rendered.tool, False, rendered.manifests))
            out.extend(rendered.manifests)
        check_unique(out, f"app {app.name!r}")
        return AppRender(app.name, tuple(out), tuple(results), tuple(dict.fromkeys(warnings)))

    def _ref_roots(self, sources: Sequence[Source], resolved: Sequence[Resolved | None], base_dir: Path,
                   work: _Work, app: str) -> dict[str, Path]:
        roots: dict[str, Path] = {}
        for source, r in zip(sources, resolved):
            if not source.ref:
                continue
            if not re.fullmatch(r"[A-Za-z0-9_-]+", source.ref):
                raise RenderError(f"source ref {source.ref!r} must be letters, digits, '-' or '_'", context=f"app {app!r}")
            if r is None:
                root = local_repo_path(source.repo_url, base_dir)
                assert root is not None
                roots[source.ref] = root
            elif is_helm_source(source):
                roots[source.ref] = self.chart_checkout(source, r, work)
            else:
                roots[source.ref] = self.checkout(source.repo_url, r.sha, work)
        return roots

    def render_apps(self, apps: Sequence[Application], *, workers: int = 8, **kwargs: Any) -> list[AppRender]:
        """Render many apps concurrently (the benchmark and the controller's refresh)."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda a: self.render_app(a, **kwargs), apps))

    # -- maintenance -------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        git_dirs = [d for d in (self.root / "git").glob("*") if d.is_dir()] if (self.root / "git").exists() else []
        helm_dirs = [d for d in (self.root / "helm").glob("*") if d.is_dir()] if (self.root / "helm").exists() else []
        return {
            "cache_dir": str(self.root),
            "manifests": self.manifests.stats(),
            "git_mirrors": {"count": len(git_dirs), "bytes": sum(_du(d) for d in git_dirs)},
            "helm_repos": {"count": len(helm_dirs), "bytes": sum(_du(d) for d in helm_dirs)},
        }

    def clear(self, *, manifests_only: bool = False) -> dict[str, int]:
        removed = {"manifests": self.manifests.clear(), "git": 0, "helm": 0}
        if not manifests_only:
            for sub in ("git", "helm"):
                d = self.root / sub
                if d.exists():
                    removed[sub] = sum(1 for x in d.iterdir() if x.is_dir())
                    shutil.rmtree(d, ignore_errors=True)
            (self.root / "tool-versions.json").unlink(missing_ok=True)
        self._revisions.clear()
        self._mirrors.clear()
        self._helm.clear()
        return removed


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _scrub(e: SyncwrightError, secrets: Sequence[str]) -> SyncwrightError:
    """The same error with every secret and URL credential redacted."""
    err = type(e).__new__(type(e))
    err.__dict__.update(e.__dict__)
    err.message = redact(e.message, secrets)
    err.context = redact(e.context, secrets) if e.context else e.context
    Exception.__init__(err, f"{err.context}: {err.message}" if err.context else err.message)
    return err
