"""Repository URLs: normalization (one mirror per repo), credential splitting, redaction."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ..execution import redact

_SCP = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>(?!//).+)$")


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``https://user:pass@host/x`` → (``https://host/x``, user, pass); other URLs unchanged.

    Embedded credentials are moved out of the URL so they never reach argv,
    logs or cache paths; ssh user names (``git@host``) are not secrets and stay.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, unquote(user) or None, (unquote(password) if sep else None)


def normalize(url: str) -> str:
    """The identity of a repository: lowercase scheme/host, no credentials, no trailing ``/`` or ``.git``.

    ``git@host:org/repo.git`` and ``ssh://git@host/org/repo`` normalize alike
    so both share one mirror (as Argo CD's ``NormalizeGitURL``).
    """
    url = url.strip()
    url, _, _ = split_credentials(url)
    m = _SCP.match(url) if "://" not in url else None
    if m:
        user = f"{m.group('user')}@" if m.group("user") else ""
        url = f"ssh://{user}{m.group('host')}/{m.group('path').lstrip('/')}"
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def url_hash(url: str) -> str:
    """A filesystem-safe, credential-free name for a repository's cache directory."""
    return hashlib.sha256(normalize(url).encode()).hexdigest()[:32]


def safe(url: str) -> str:
    """A URL fit for a message: embedded credentials replaced by ``******``."""
    return redact(url, ())


def join(base: str, ref: str) -> str:
    """Resolve a relative submodule/chart URL (``../lib.git``, ``charts/x.tgz``) against ``base``."""
    if "://" in ref or _SCP.match(ref) and not ref.startswith((".", "/")):
        return ref
    parts = urlsplit(base if "://" in base else normalize(base))
    segments = [s for s in parts.path.split("/") if s]
    for seg in ref.split("/"):
        if seg == "..":
            if segments:
                segments.pop()
        elif seg not in (".", ""):
            segments.append(seg)
    return urlunsplit((parts.scheme, parts.netloc, "/" + "/".join(quote(s, safe="@:+~") for s in segments), "", ""))


def is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))
