"""Credentials: file formats, matching, and never leaking a secret."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncwright.model import parse_application
from syncwright.repo.creds import CredentialStore, Credentials, git_env
from syncwright.repo.errors import AuthError, RepoError
from syncwright.repo.gitmirror import RECENT_ARGV
from syncwright.repo.service import RepoService
from syncwright.repo.urls import normalize, split_credentials, url_hash

SECRET = "s3cr3t-Pa55w0rd"


def _walk_names(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*")]


@pytest.fixture
def private_repo(repos: Any, helpers: Any, git_http: Any) -> Any:
    repo = repos.create({"cm.yaml": helpers.cm("private")})
    git_http.require_auth("deploy", SECRET)
    return repo


def test_basic_auth_from_credentials_file(hooks: Any, cache_dir: Path, private_repo: Any, git_http: Any,
                                          helpers: Any, tmp_path: Path) -> None:
    creds = tmp_path / "creds.yaml"
    creds.write_text(yaml.safe_dump({"credentialTemplates": [
        {"url": f"http://127.0.0.1:{git_http.port}/git", "username": "deploy", "password": SECRET}]}))
    service = RepoService(hooks, cache_dir=cache_dir, revision_ttl=0, credentials=CredentialStore.load(creds))
    RECENT_ARGV.clear()
    app = parse_application(helpers.app_doc("p", {"repoURL": git_http.url(private_repo)}), "t")
    assert service.render_app(app).manifests[0]["metadata"]["name"] == "private"
    assert RECENT_ARGV and not any(SECRET in " ".join(argv) for argv in RECENT_ARGV)
    assert not any(SECRET in name for name in _walk_names(cache_dir))
    for f in cache_dir.rglob("*"):
        if f.is_file() and "objects" not in f.parts:
            assert SECRET.encode() not in f.read_bytes(), f


def test_wrong_credentials_name_repo_not_secret(hooks: Any, cache_dir: Path, private_repo: Any, git_http: Any,
                                                helpers: Any) -> None:
    store = CredentialStore()
    store.repos[normalize(git_http.url(private_repo))] = Credentials(username="deploy", password="wrong-" + SECRET)
    service = RepoService(hooks, cache_dir=cache_dir, revision_ttl=0, credentials=store)
    app = parse_application(helpers.app_doc("p", {"repoURL": git_http.url(private_repo)}), "t")
    with pytest.raises(AuthError, match=r"authentication failed \(check the credentials") as err:
        service.render_app(app)
    assert git_http.url(private_repo) in str(err.value)
    assert SECRET not in str(err.value) and "wrong-" not in str(err.value)


def test_no_credentials_does_not_prompt(hooks: Any, cache_dir: Path, private_repo: Any, git_http: Any) -> None:
    service = RepoService(hooks, cache_dir=cache_dir, revision_ttl=0, credentials=CredentialStore())
    with pytest.raises(AuthError):
        service.resolve(git_http.url(private_repo), "main")


def test_embedded_url_credentials_used_and_redacted(hooks: Any, cache_dir: Path, private_repo: Any,
                                                    git_http: Any, helpers: Any) -> None:
    service = RepoService(hooks, cache_dir=cache_dir, revision_ttl=0, credentials=CredentialStore())
    url = git_http.url(private_repo, user="deploy", password=SECRET)
    RECENT_ARGV.clear()
    app = parse_application(helpers.app_doc("p", {"repoURL": url}), "t")
    assert service.render_app(app).manifests[0]["metadata"]["name"] == "private"
    assert not any(SECRET in " ".join(argv) for argv in RECENT_ARGV)
    bad = parse_application(helpers.app_doc("p", {"repoURL": url, "path": "missing"}), "t")
    with pytest.raises(Exception) as err:
        service.render_app(bad)
    assert SECRET not in str(err.value) and "deploy:" not in str(err.value) and "does not exist" in str(err.value)
    wrong = parse_application(helpers.app_doc("p", {"repoURL": git_http.url(private_repo, user="deploy",
                                                                                      password="nope-" + SECRET)}), "t")
    with pytest.raises(AuthError) as err2:
        RepoService(hooks, cache_dir=cache_dir, revision_ttl=0, credentials=CredentialStore()).render_app(wrong)
    assert SECRET not in str(err2.value)
    assert not any(SECRET in name for name in _walk_names(cache_dir))


def test_argo_secret_manifests(tmp_path: Path) -> None:
    f = tmp_path / "secrets.yaml"
    f.write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "labels": {
            "argocd.argoproj.io/secret-type": "repository"}},
         "stringData": {"url": "https://git.example.com/org/app.git", "username": "u1", "password": "p1"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b", "labels": {
            "argocd.argoproj.io/secret-type": "repo-creds"}},
         "data": {"url": base64.b64encode(b"https://git.example.com/org").decode(),
                  "username": base64.b64encode(b"u2").decode(), "password": base64.b64encode(b"p2").decode(),
                  "insecure": base64.b64encode(b"true").decode()}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c", "labels": {
            "argocd.argoproj.io/secret-type": "repo-creds"}},
         "stringData": {"url": "https://git.example.com", "username": "u3", "password": "p3"}},
    ]))
    store = CredentialStore.load(f)
    assert store.lookup("https://git.example.com/org/app").username == "u1"  # exact beats template
    other = store.lookup("https://git.example.com/org/other.git")
    assert (other.username, other.password, other.insecure) == ("u2", "p2", True)  # longest prefix
    assert store.lookup("https://git.example.com/elsewhere/x").username == "u3"
    assert store.lookup("https://git.example.community/org/x").is_empty()  # prefix is per path segment
    assert "p1" not in repr(store.lookup("https://git.example.com/org/app"))


def test_bad_credentials_files(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("repositories:\n  - url: https://x/y\n    pasword: typo\n")
    with pytest.raises(RepoError, match=r"unknown field\(s\) \['pasword'\]"):
        CredentialStore.load(f)
    f.write_text("repositories: [\n")
    with pytest.raises(RepoError, match=r"is not valid YAML"):
        CredentialStore.load(f)
    with pytest.raises(RepoError, match=r"cannot read credentials file"):
        CredentialStore.load(tmp_path / "missing.yaml")


def test_env_credentials_scoped_to_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SYNCWRIGHT_REPO_URL", "https://git.example.com/team")
    monkeypatch.setenv("SYNCWRIGHT_REPO_USERNAME", "bot")
    monkeypatch.setenv("SYNCWRIGHT_REPO_PASSWORD", "tok")
    monkeypatch.setenv("SYNCWRIGHT_CREDENTIALS", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    store = CredentialStore.load()
    assert store.lookup("https://git.example.com/team/app.git").password == "tok"
    assert store.lookup("https://evil.example.org/team/app.git").is_empty()


def test_ssh_key_file_is_private_and_removed() -> None:
    creds = Credentials(ssh_private_key="-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----")
    with git_env(creds, timeout=10) as env:
        cmd = env["GIT_SSH_COMMAND"]
        key = Path(cmd.split(" -i ")[1].split()[0])
        assert oct(key.stat().st_mode & 0o777) == "0o600" and oct(key.parent.stat().st_mode & 0o777) == "0o700"
        assert "StrictHostKeyChecking=yes" in cmd and "UserKnownHostsFile=" in cmd and "BatchMode=yes" in cmd
        assert "abc" not in cmd and "abc" not in " ".join(v for k, v in env.items() if k != "SYNCWRIGHT_GIT_PASSWORD")
    assert not key.exists() and not key.parent.exists()
    with git_env(Credentials(insecure=True), timeout=10) as env:
        assert "StrictHostKeyChecking=no" in env["GIT_SSH_COMMAND"] and env["GIT_SSL_NO_VERIFY"] == "true"


def test_askpass_answers_from_environment() -> None:
    import subprocess

    with git_env(Credentials(username="me", password=SECRET), timeout=10) as env:
        script = env["GIT_ASKPASS"]
        assert SECRET not in Path(script).read_text()
        full = {**os.environ, **env}
        user = subprocess.run([script, "Username for 'http://x': "], env=full, capture_output=True, text=True)
        pw = subprocess.run([script, "Password for 'http://me@x': "], env=full, capture_output=True, text=True)
        assert (user.stdout.strip(), pw.stdout.strip()) == ("me", SECRET)


def test_url_helpers() -> None:
    assert split_credentials("https://u:p@h.example/x.git") == ("https://h.example/x.git", "u", "p")
    assert normalize("git@github.com:org/Repo.git") == normalize("ssh://git@github.com/org/Repo")
    assert normalize("HTTPS://GitHub.com/org/repo.git/") == "https://github.com/org/repo"
    assert url_hash("https://u:p@h/x") == url_hash("https://h/x") and "p" not in url_hash("https://u:p@h/x")
