"""HTTP(S) Helm chart repositories: ``index.yaml``, version resolution, chart download.

The index is fetched once per revision-cache period and kept on disk, so an
unreachable repository still resolves from the last index (with a warning).
Charts are immutable per (repo, name, version): a downloaded ``.tgz`` whose
digest matches the index is kept and reused. OCI registries are not supported
yet (``oci://`` is refused with a clear message).
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml

from .creds import Credentials, basic_auth_header
from .errors import RepoError, RevisionNotFound, env_float, env_int
from .locks import repo_lock
from .semver import Version, parse_constraint, parse_version
from .urls import safe, split_credentials, url_hash

STATS: dict[str, int] = {"index": 0, "chart": 0}


def http_timeout() -> float:
    return env_float("SYNCWRIGHT_HTTP_TIMEOUT", 30.0)


@dataclass(frozen=True)
class ChartVersion:
    name: str
    version: Version
    urls: tuple[str, ...]
    digest: str


@dataclass(frozen=True)
class ResolvedChart:
    chart: ChartVersion
    warnings: tuple[str, ...] = ()


class _SameHostAuthRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never carry ``Authorization`` to another host (CVE-2021-32690's class)."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            for name in list(new.headers):
                if name.lower() == "authorization":
                    del new.headers[name]
            new.unredirected_hdrs.pop("Authorization", None)
        return new


def _get(url: str, creds: Credentials, *, limit: int, send_auth: bool = True) -> bytes:
    if urlsplit(url).scheme not in ("http", "https"):
        raise RepoError(f"unsupported URL scheme in {safe(url)} (only http and https)")
    clean, _, _ = split_credentials(url)
    req = urllib.request.Request(clean, headers=basic_auth_header(creds) if send_auth else {})
    ctx = ssl._create_unverified_context() if creds.insecure else None  # noqa: S323 - only when asked
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), _SameHostAuthRedirects())
    try:
        with opener.open(req, timeout=http_timeout()) as resp:
            data: bytes = resp.read(limit + 1)
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise RepoError(f"{safe(clean)}: authentication failed (HTTP {e.code}; check the credentials for this repository)") from None
        raise RepoError(f"{safe(clean)}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise RepoError(f"cannot reach {safe(clean)}: {reason}") from None
    if len(data) > limit:
        raise RepoError(f"{safe(clean)} is larger than the limit of {limit} bytes")
    return data


class HelmRepo:
    """One Helm repository's cached index and charts under ``<cache>/helm/<hash>``."""

    def __init__(self, url: str, creds: Credentials, cache_dir: Path) -> None:
        self.url = split_credentials(url)[0].rstrip("/")
        self.creds = creds
        self.dir = cache_dir / "helm" / url_hash(url)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- index -------------------------------------------------------------------------
    def index(self, *, ttl: float, refresh: bool = False) -> tuple[dict[str, Any], list[str]]:
        """The parsed index, from disk when younger than ``ttl`` or when the repo is unreachable."""
        path, meta = self.dir / "index.yaml", self.dir / "index.json"
        warnings: list[str] = []
        with repo_lock(self.dir / "lock", what=f"Helm repo {safe(self.url)}"):
            fetched = _load_meta(meta).get("fetched", 0.0)
            if refresh or not path.exists() or time.time() - fetched > ttl:
                try:
                    STATS["index"] += 1
                    data = _get(self.url + "/index.yaml", self.creds,
                                limit=env_int("SYNCWRIGHT_HELM_INDEX_MAX_BYTES", 256 * 1024**2))
                    _atomic_write(path, data)
                    _atomic_write(meta, json.dumps({"fetched": time.time(), "url": safe(self.url)}).encode())
                except RepoError as e:
                    if not path.exists():
                        raise
                    warnings.append(f"{e}; using the index cached {int(time.time() - fetched)}s ago")
            text = path.read_bytes()
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            raise RepoError(f"Helm repo {safe(self.url)}: index.yaml is not valid YAML") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), dict):
            raise RepoError(f"Helm repo {safe(self.url)}: index.yaml has no 'entries' mapping")
        return doc, warnings

    def resolve(self, chart: str, revision: str, *, ttl: float, refresh: bool = False) -> ResolvedChart:
        """The chart version ``revision`` names (exact, or the highest matching a constraint)."""
        doc, warnings = self.index(ttl=ttl, refresh=refresh)
        entries = doc["entries"].get(chart)
        if not isinstance(entries, list) or not entries:
            raise RevisionNotFound(f"Helm repo {safe(self.url)} has no chart {chart!r}")
        versions: dict[Version, ChartVersion] = {}
        for i, entry in enumerate(entries):
            cv, problem = _entry(chart, entry)
            if cv is None:
                label = entry.get("version") if isinstance(entry, dict) else None
                warnings.append(f"Helm repo {safe(self.url)}: skipped malformed index entry {chart}[{i}]"
                                f"{f' (version {label!r})' if label else ''}: {problem}")
                continue
            versions[cv.version] = cv
        rev = revision.strip()
        exact = [v for v in versions if v.original == rev or str(v) == rev]
        if exact:
            return ResolvedChart(versions[exact[0]], tuple(warnings))
        try:
            constraint = parse_constraint(rev or ">=0.0.0")
        except ValueError:
            raise RevisionNotFound(f"Helm repo {safe(self.url)}: chart {chart!r} has no valid version {rev!r}") from None
        best = constraint.best(versions)
        if best is None:
            detail = "; ".join(warnings[-1:])
            raise RevisionNotFound(f"Helm repo {safe(self.url)}: no version of chart {chart!r} matches {rev or '*'!r}"
                                   + (f" ({detail})" if detail else ""))
        return ResolvedChart(versions[best], tuple(warnings))

    # -- charts ------------------------------------------------------------------------
    def pull(self, cv: ChartVersion, *, pass_credentials: bool = False) -> Path:
        """The chart archive in the cache, downloaded (and digest-checked) if missing."""
        dest = self.dir / "charts" / f"{cv.name}-{cv.version.original}.tgz"
        if dest.exists() and (not cv.digest or _sha256(dest) == cv.digest):
            return dest
        with repo_lock(self.dir / "lock", what=f"Helm repo {safe(self.url)}"):
            if dest.exists() and (not cv.digest or _sha256(dest) == cv.digest):
                return dest
            url = urljoin(self.url + "/", cv.urls[0])
            # Helm's passCredentials rule (CVE-2021-32690): credentials only to the repo's own host.
            same_host = urlsplit(url).netloc == urlsplit(self.url).netloc
            STATS["chart"] += 1
            data = _get(url, self.creds, limit=env_int("SYNCWRIGHT_HELM_CHART_MAX_BYTES", 100 * 1024**2),
                        send_auth=same_host or pass_credentials)
            digest = hashlib.sha256(data).hexdigest()
            if cv.digest and digest != cv.digest:
                raise RepoError(f"Helm repo {safe(self.url)}: chart {cv.name} {cv.version.original} digest mismatch "
                                f"(index says {cv.digest[:12]}, download is {digest[:12]})")
            dest.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(dest, data)
        return dest


def _entry(chart: str, entry: Any) -> tuple[ChartVersion | None, str]:
    if not isinstance(entry, dict):
        return None, f"expected a mapping, got {type(entry).__name__}"
    raw = entry.get("version")
    if not isinstance(raw, (str, int, float)) or not str(raw):
        return None, "no version"
    version = parse_version(str(raw))
    if version is None:
        return None, f"version {raw!r} is not semantic versioning"
    urls = entry.get("urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
        return None, "no urls"
    digest = entry.get("digest") or ""
    if not isinstance(digest, str):
        return None, "digest is not a string"
    return ChartVersion(chart, version, tuple(urls), digest.lower()), ""


def _load_meta(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write-then-rename in the same directory, fsynced: readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
