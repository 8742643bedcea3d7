"""Git push webhooks: verify the sender, parse the push, find the apps it touches.

Providers (detected from headers, as Argo CD's ``/api/webhook`` does):

- GitHub: ``X-GitHub-Event``; HMAC-SHA256 of the body in ``X-Hub-Signature-256``.
- Gitea (and Gogs/Forgejo): ``X-Gitea-Event``; hex HMAC-SHA256 in ``X-Gitea-Signature``.
- GitLab: ``X-Gitlab-Event``; the shared secret in ``X-Gitlab-Token``.
- Bitbucket Cloud: ``X-Event-Key: repo:push``; Bitbucket Server/Data Center:
  ``X-Event-Key: repo:refs_changed``. Either proves itself with an HMAC in
  ``X-Hub-Signature`` (``sha256=…``) or the shared secret in ``?token=``.

Unlike Argo CD, a provider with no secret configured is refused (401): an
unauthenticated endpoint that triggers Git fetches is a DoS lever. Secrets
are compared in constant time. The HTTP layer caps the body before it is read
(GHSA-jmvp-698c-4x3w); parsing happens only after verification.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .backend import PushEvent

PROVIDERS = ("github", "gitlab", "gitea", "bitbucket", "bitbucket-server")

#: ``--webhook-secrets`` file keys (Argo CD's argocd-secret names) → provider
SECRET_KEYS = {
    "webhook.github.secret": "github",
    "webhook.gitlab.secret": "gitlab",
    "webhook.gitea.secret": "gitea",
    "webhook.gogs.secret": "gitea",
    "webhook.bitbucket.secret": "bitbucket",
    "webhook.bitbucketserver.secret": "bitbucket-server",
}


class WebhookError(Exception):
    """A webhook refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Delivery:
    """What the HTTP layer hands over: headers (any case), the raw body, the query."""

    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str]

    def header(self, name: str) -> str:
        low = name.lower()
        for k, v in self.headers.items():
            if k.lower() == low:
                return v
        return ""


def detect_provider(d: Delivery) -> str:
    if d.header("X-Gitea-Event") or d.header("X-Gogs-Event"):
        return "gitea"  # Gitea also sends X-GitHub-Event for compatibility; check it first
    if d.header("X-GitHub-Event"):
        return "github"
    if d.header("X-Gitlab-Event"):
        return "gitlab"
    key = d.header("X-Event-Key")
    if key.startswith("repo:refs_changed"):
        return "bitbucket-server"
    if key:
        return "bitbucket"
    raise WebhookError(400, "unknown webhook sender: expected a GitHub, GitLab, Gitea or Bitbucket event header")


def _hmac_ok(secret: str, body: bytes, signature: str, prefix: str = "sha256=") -> bool:
    if prefix:
        if not signature.startswith(prefix):
            return False
        signature = signature[len(prefix):]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def verify(provider: str, d: Delivery, secrets: Mapping[str, str]) -> None:
    """Raise ``WebhookError(401)`` unless the delivery proves it knows the provider's secret."""
    secret = secrets.get(provider, "")
    if not secret:
        raise WebhookError(401, f"no webhook secret is configured for {provider}; refusing unsigned deliveries")
    ok = False
    if provider == "github":
        ok = _hmac_ok(secret, d.body, d.header("X-Hub-Signature-256"))
    elif provider == "gitea":
        sig = d.header("X-Gitea-Signature") or d.header("X-Gogs-Signature")
        ok = _hmac_ok(secret, d.body, sig, prefix="")
    elif provider == "gitlab":
        ok = hmac.compare_digest(secret.encode(), d.header("X-Gitlab-Token").encode())
    elif provider in ("bitbucket", "bitbucket-server"):
        sig = d.header("X-Hub-Signature")
        if sig:
            ok = _hmac_ok(secret, d.body, sig)
        else:
            ok = hmac.compare_digest(secret.encode(), str(d.query.get("token", "")).encode())
    if not ok:
        raise WebhookError(401, f"{provider} webhook signature/token does not match")


def _is_push(provider: str, d: Delivery) -> bool:
    if provider == "github":
        return d.header("X-GitHub-Event") == "push"
    if provider == "gitea":
        return (d.header("X-Gitea-Event") or d.header("X-Gogs-Event")) == "push"
    if provider == "gitlab":
        return d.header("X-Gitlab-Event") in ("Push Hook", "Tag Push Hook", "System Hook")
    if provider == "bitbucket":
        return d.header("X-Event-Key") == "repo:push"
    return d.header("X-Event-Key") == "repo:refs_changed"


def _strs(*values: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if isinstance(v, str) and v))


def _files(commits: Any) -> tuple[str, ...]:
    out: list[str] = []
    for c in commits if isinstance(commits, list) else []:
        if isinstance(c, dict):
            for k in ("added", "modified", "removed"):
                out.extend(f for f in c.get(k) or [] if isinstance(f, str))
    return tuple(dict.fromkeys(out))


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def parse_push(provider: str, payload: dict[str, Any]) -> list[PushEvent]:
    """The pushes in a payload (Bitbucket batches several ref changes in one delivery)."""
    if provider in ("github", "gitea"):
        repo = _dict(payload.get("repository"))
        urls = _strs(repo.get("html_url"), repo.get("clone_url"), repo.get("ssh_url"), repo.get("git_url"),
                     repo.get("url") if isinstance(repo.get("url"), str) and "/api/" not in repo["url"] else None)
        return [PushEvent(provider, urls, str(payload.get("ref", "")), str(payload.get("after", "")),
                          str(repo.get("default_branch") or ""), _files(payload.get("commits")))]
    if provider == "gitlab":
        project, repo = _dict(payload.get("project")), _dict(payload.get("repository"))
        urls = _strs(project.get("web_url"), project.get("git_http_url"), project.get("git_ssh_url"),
                     repo.get("homepage"), repo.get("git_http_url"), repo.get("git_ssh_url"), repo.get("url"))
        sha = payload.get("checkout_sha") or payload.get("after") or ""
        return [PushEvent(provider, urls, str(payload.get("ref", "")), str(sha),
                          str(project.get("default_branch") or ""), _files(payload.get("commits")))]
    if provider == "bitbucket":
        repo = _dict(payload.get("repository"))
        full = repo.get("full_name") if isinstance(repo.get("full_name"), str) else ""
        html = _dict(_dict(repo.get("links")).get("html")).get("href")
        urls = _strs(html, f"https://bitbucket.org/{full}" if full else None,
                     f"git@bitbucket.org:{full}.git" if full else None)
        default = str(_dict(repo.get("mainbranch")).get("name") or "")
        events = []
        for change in _dict(payload.get("push")).get("changes") or []:
            new = _dict(_dict(change).get("new"))
            if not new.get("name"):
                continue  # a deleted ref: nothing to sync to
            prefix = "refs/tags/" if new.get("type") == "tag" else "refs/heads/"
            events.append(PushEvent(provider, urls, prefix + str(new["name"]),
                                    str(_dict(new.get("target")).get("hash") or ""), default))
        return events
    # bitbucket-server
    repo = _dict(payload.get("repository"))
    urls = _strs(*(_dict(c).get("href") for c in _dict(repo.get("links")).get("clone") or []),
                 *(_dict(c).get("href") for c in _dict(repo.get("links")).get("self") or []))
    events = []
    for change in payload.get("changes") or []:
        change = _dict(change)
        ref = _dict(change.get("ref"))
        ref_id = str(ref.get("id") or change.get("refId") or "")
        if change.get("type") == "DELETE" or not ref_id:
            continue
        events.append(PushEvent(provider, urls, ref_id, str(change.get("toHash") or "")))
    return events


_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>(?!//).+)$")


def repo_identity(url: str) -> str:
    """``host/path`` in lower case: https, ssh://, git://, ``git@host:path`` and ``.git`` forms agree.

    Ports and users are dropped (an ssh port differs from the https one for the
    same repository, as in Argo CD's webhook URL regex); a local path stays a path.
    """
    url = url.strip()
    if "://" not in url:
        m = _SCP.match(url)
        if m is None or url.startswith(("/", ".")):
            path = url.rstrip("/")
            return path[:-4] if path.endswith(".git") else path
        host, path = m.group("host"), m.group("path")
    else:
        parts = urlsplit(url)
        if parts.scheme == "file":
            path = parts.path.rstrip("/")
            return path[:-4] if path.endswith(".git") else path
        host, path = (parts.hostname or ""), parts.path
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"{host.lower()}/{path.lower()}"


_CONSTRAINT = re.compile(r"[*<>=~^|]|(^|\.)[xX](\.|$)|\s-\s")


def revision_matches(target_revision: str, push: PushEvent) -> bool:
    """Argo CD's ``sourceRevisionHasChanged``: HEAD follows the default branch; names match exactly.

    A semver constraint (``1.*``, ``>=1.2``) matches every tag push: the
    refresh resolves the constraint and finds out whether the new tag wins.
    """
    target = (target_revision or "").strip()
    if target in ("", "HEAD"):
        return push.touched_head
    for prefix in ("refs/heads/", "refs/tags/"):
        if target.startswith(prefix):
            return target == push.ref
    if target == push.revision:
        return True
    return push.is_tag and bool(_CONSTRAINT.search(target)) and not re.fullmatch(r"[0-9a-f]{40}", target)


def source_matches(repo_url: str, target_revision: str, chart: str | None, push: PushEvent) -> bool:
    """Does this app source follow the pushed repo and ref? Helm chart sources never do."""
    if chart:
        return False
    ident = repo_identity(repo_url)
    return any(repo_identity(u) == ident for u in push.repo_urls) and revision_matches(target_revision, push)


def app_matches(sources: Iterable[tuple[str, str, str | None]], push: PushEvent) -> bool:
    """True when any ``(repo_url, target_revision, chart)`` source of an app follows the push."""
    return any(source_matches(url, rev, chart, push) for url, rev, chart in sources)


def handle(d: Delivery, secrets: Mapping[str, str]) -> tuple[str, list[PushEvent]]:
    """Verify then parse one delivery; returns (provider, pushes). Non-push events give no pushes."""
    provider = detect_provider(d)
    verify(provider, d, secrets)
    if not _is_push(provider, d):
        return provider, []
    try:
        payload = json.loads(d.body)
    except ValueError as e:
        raise WebhookError(400, f"{provider} webhook body is not JSON: {e}") from None
    if not isinstance(payload, dict):
        raise WebhookError(400, f"{provider} webhook body is not a JSON object")
    return provider, parse_push(provider, payload)
