"""Webhooks: each provider's signature, push parsing, URL forms, revision matching, limits."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from syncwright.server.backend import PushEvent
from syncwright.server.webhooks import repo_identity, revision_matches

SHA = "0123456789abcdef0123456789abcdef01234567"


def _sig(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github(secret: str, ref: str = "refs/heads/main") -> tuple[bytes, dict[str, str], str]:
    body = json.dumps({"ref": ref, "after": SHA, "repository": {
        "html_url": "https://github.com/example/guestbook", "clone_url": "https://github.com/example/guestbook.git",
        "ssh_url": "git@github.com:example/guestbook.git", "default_branch": "main"}}).encode()
    return body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + _sig(secret, body)}, ""


def gitea(secret: str) -> tuple[bytes, dict[str, str], str]:
    body = json.dumps({"ref": "refs/heads/main", "after": SHA, "repository": {
        "html_url": "https://GitHub.com/Example/Guestbook", "default_branch": "main"}}).encode()
    return body, {"X-Gitea-Event": "push", "X-GitHub-Event": "push", "X-Gitea-Signature": _sig(secret, body)}, ""


def gitlab(secret: str) -> tuple[bytes, dict[str, str], str]:
    body = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": SHA, "project": {
        "web_url": "https://gitlab.com/example/charts", "git_ssh_url": "git@gitlab.com:example/charts.git",
        "default_branch": "main"}}).encode()
    return body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}, ""


def bitbucket(secret: str) -> tuple[bytes, dict[str, str], str]:
    body = json.dumps({"repository": {"full_name": "example/infra", "links": {"html": {
        "href": "https://bitbucket.org/example/infra"}}, "mainbranch": {"name": "main"}},
        "push": {"changes": [{"new": {"type": "tag", "name": "v1.4.0", "target": {"hash": SHA}}}]}}).encode()
    return body, {"X-Event-Key": "repo:push", "X-Hook-UUID": "{u}"}, f"?token={secret}"


def bitbucket_hmac(secret: str) -> tuple[bytes, dict[str, str], str]:
    body, _, _ = bitbucket(secret)
    return body, {"X-Event-Key": "repo:push", "X-Hub-Signature": "sha256=" + _sig(secret, body)}, ""


def bitbucket_server(secret: str) -> tuple[bytes, dict[str, str], str]:
    body = json.dumps({"repository": {"links": {"clone": [
        {"href": "ssh://git@bitbucket.org:7999/example/infra.git", "name": "ssh"}]}},
        "changes": [{"ref": {"id": "refs/tags/v1.5.0", "displayId": "v1.5.0", "type": "TAG"}, "toHash": SHA,
                     "type": "ADD"}]}).encode()
    return body, {"X-Event-Key": "repo:refs_changed", "X-Hub-Signature": "sha256=" + _sig(secret, body)}, ""


CASES = {
    "github": (github, "github", ["guestbook"]),
    "gitea": (gitea, "gitea", ["guestbook"]),
    "gitlab": (gitlab, "gitlab", ["helm-app"]),
    "bitbucket-token": (bitbucket, "bitbucket", ["tagged"]),
    "bitbucket-hmac": (bitbucket_hmac, "bitbucket", ["tagged"]),
    "bitbucket-server": (bitbucket_server, "bitbucket-server", ["tagged"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_good_signature_refreshes_matching_apps(api: Any, case: str) -> None:
    make, provider, expected = CASES[case]
    body, headers, query = make(api.WEBHOOK_SECRETS[provider])
    r = api.post("/api/webhook" + query, auth=False, data=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["provider"] == provider and r.json()["refreshed"] == expected
    assert api.backend.refreshed == [(n, False) for n in expected]


@pytest.mark.parametrize("case", list(CASES))
def test_bad_signature_is_401_and_refreshes_nothing(api: Any, case: str) -> None:
    make, provider, _ = CASES[case]
    body, headers, query = make("wrong-secret")
    r = api.post("/api/webhook" + query, auth=False, data=body, headers=headers)
    assert r.status_code == 401 and provider in r.json()["error"]
    # a body tampered with after signing fails too
    body, headers, query = make(api.WEBHOOK_SECRETS[provider])
    if "token=" not in query and "X-Gitlab-Token" not in headers:
        r = api.post("/api/webhook" + query, auth=False, data=body + b" ", headers=headers)
        assert r.status_code == 401
    unsigned = {k: v for k, v in headers.items() if "Signature" not in k and "Token" not in k}
    assert api.post("/api/webhook", auth=False, data=body, headers=unsigned).status_code == 401
    assert api.backend.refreshed == []


def test_unconfigured_provider_and_unknown_sender(api: Any) -> None:
    api_secrets = api.WEBHOOK_SECRETS
    body, headers, _ = github(api_secrets["github"])
    # the bearer token is not a substitute for the signature
    r = api.post("/api/webhook", data=body, headers={"X-GitHub-Event": "push"})
    assert r.status_code == 401
    assert api.post("/api/webhook", auth=False, data=body, headers={}).status_code == 400
    assert api.backend.refreshed == []


def test_non_push_events_are_acknowledged(api: Any) -> None:
    body = b'{"zen": "hi"}'
    r = api.post("/api/webhook", auth=False, data=body, headers={
        "X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + _sig(api.WEBHOOK_SECRETS["github"], body)})
    assert r.status_code == 200 and r.json()["refreshed"] == [] and r.json()["pushes"] == 0


def test_other_branch_refreshes_nothing(api: Any) -> None:
    body, headers, _ = github(api.WEBHOOK_SECRETS["github"], ref="refs/heads/feature")
    r = api.post("/api/webhook", auth=False, data=body, headers=headers)
    assert r.status_code == 200 and r.json()["refreshed"] == []


def test_oversized_webhook_is_413_before_the_body_is_read(api: Any) -> None:
    parts = urlsplit(api.url)
    head = (b"POST /api/webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2147483648\r\n\r\n")
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as s:
        s.sendall(head)  # 2 GiB announced, none sent: an answer proves nothing was waited for
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413")
    assert api.backend.refreshed == []
    r = api.post("/api/webhook", auth=False, data=b"x" * (64 * 1024 + 1), headers={"X-GitHub-Event": "push"})
    assert r.status_code == 413


@pytest.mark.parametrize("url", [
    "https://github.com/Example/Guestbook", "https://github.com/example/guestbook.git",
    "git@github.com:example/guestbook.git", "ssh://git@github.com:22/example/guestbook",
    "https://user@github.com/example/guestbook/", "git://github.com/example/guestbook.git",
])
def test_repo_url_forms_agree(url: str) -> None:
    assert repo_identity(url) == "github.com/example/guestbook"


def test_repo_identity_keeps_distinct_repos_apart() -> None:
    assert repo_identity("https://github.com/example/guestbook2") != repo_identity("https://github.com/example/guestbook")
    assert repo_identity("https://gitlab.com/example/guestbook") != repo_identity("https://github.com/example/guestbook")
    assert repo_identity("/srv/git/repo.git") == "/srv/git/repo" == repo_identity("file:///srv/git/repo")


def _push(ref: str, default: str = "main") -> PushEvent:
    return PushEvent("github", ("https://x/y",), ref, SHA, default)


@pytest.mark.parametrize("target,ref,default,expected", [
    ("HEAD", "refs/heads/main", "main", True),
    ("", "refs/heads/main", "main", True),
    ("HEAD", "refs/heads/dev", "main", False),
    ("HEAD", "refs/heads/dev", "", True),  # default branch unknown: refresh rather than miss it
    ("HEAD", "refs/tags/v1", "main", False),
    ("dev", "refs/heads/dev", "main", True),
    ("refs/heads/dev", "refs/heads/dev", "main", True),
    ("refs/heads/dev", "refs/tags/dev", "main", False),
    ("v1.2.0", "refs/tags/v1.2.0", "main", True),
    ("1.*", "refs/tags/1.4.0", "main", True),
    (">=1.2", "refs/tags/2.0.0", "main", True),
    ("1.*", "refs/heads/main", "main", False),
    ("fix-x", "refs/tags/v9", "main", False),
    (SHA, "refs/heads/main", "main", False),
])
def test_revision_matching(target: str, ref: str, default: str, expected: bool) -> None:
    assert revision_matches(target, _push(ref, default)) is expected
