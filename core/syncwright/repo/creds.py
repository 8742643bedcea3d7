"""Repository credentials: the credentials file, the environment, and how git gets them.

The file (``--credentials FILE``, ``$SYNCWRIGHT_CREDENTIALS``, else
``~/.config/syncwright/credentials.yaml`` when present) uses Argo CD's
repository Secret fields. Either plain entries::

    repositories:            # exact repo URL (normalized: no .git, no trailing /)
      - url: https://git.example.com/org/app.git
        username: deploy
        password: s3cret      # or a token
    credentialTemplates:     # Argo CD "repo-creds": longest matching URL prefix wins
      - url: https://git.example.com/org
        sshPrivateKey: |
          -----BEGIN OPENSSH PRIVATE KEY-----
          ...
        insecure: false
    knownHostsFile: ~/.ssh/known_hosts

or Argo CD Secret manifests (``argocd.argoproj.io/secret-type: repository`` or
``repo-creds``, ``stringData`` or base64 ``data``), several per file.

Secrets go to git through the environment of the git process only: a
``GIT_ASKPASS`` script (its text holds no secret) reads them from variables,
SSH keys are written to a 0600 file in a private 0700 directory removed
afterwards. Nothing secret is ever put on a command line.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import RepoError
from .urls import normalize, split_credentials

FIELDS = ("username", "password", "sshPrivateKey", "bearerToken", "insecure")


@dataclass(frozen=True)
class Credentials:
    """What one repository needs; ``repr`` never shows the secrets."""

    username: str = ""
    password: str = field(default="", repr=False)
    ssh_private_key: str = field(default="", repr=False)
    bearer_token: str = field(default="", repr=False)
    insecure: bool = False
    known_hosts_file: str = ""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for redaction of tool and git messages."""
        return tuple(s for s in (self.password, self.bearer_token, self.ssh_private_key) if s)

    def is_empty(self) -> bool:
        return not (self.username or self.password or self.ssh_private_key or self.bearer_token)


def _truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.strip().lower() in ("true", "1", "yes"))


def _from_fields(d: Mapping[str, Any], where: str) -> tuple[str, Credentials]:
    url = d.get("url")
    if not isinstance(url, str) or not url:
        raise RepoError(f"credentials entry without a url in {where}")
    unknown = set(d) - {"url", "type", "name", "project", "knownHostsFile", *FIELDS}
    if unknown:
        raise RepoError(f"credentials entry for {normalize(url)} in {where} has unknown field(s) {sorted(unknown)}")
    return url, Credentials(
        username=str(d.get("username") or ""),
        password=str(d.get("password") or ""),
        ssh_private_key=str(d.get("sshPrivateKey") or ""),
        bearer_token=str(d.get("bearerToken") or ""),
        insecure=_truthy(d.get("insecure")),
        known_hosts_file=str(d.get("knownHostsFile") or ""),
    )


def _from_secret(doc: Mapping[str, Any], where: str) -> tuple[str, str, Credentials]:
    labels = (doc.get("metadata") or {}).get("labels") or {}
    kind = labels.get("argocd.argoproj.io/secret-type", "")
    if kind not in ("repository", "repo-creds"):
        raise RepoError(f"Secret in {where} is not an Argo CD repository Secret "
                        "(label argocd.argoproj.io/secret-type must be repository or repo-creds)")
    fields: dict[str, Any] = {}
    for k, v in (doc.get("data") or {}).items():
        try:
            fields[k] = base64.b64decode(str(v)).decode()
        except ValueError:
            raise RepoError(f"Secret field {k!r} in {where} is not valid base64") from None
    fields.update(doc.get("stringData") or {})
    fields = {k: v for k, v in fields.items() if k in ("url", "knownHostsFile", *FIELDS)}
    url, creds = _from_fields(fields, where)
    return ("template" if kind == "repo-creds" else "repo"), url, creds


@dataclass
class CredentialStore:
    """Exact-URL entries and URL-prefix templates; ``lookup`` picks one for a repo URL."""

    repos: dict[str, Credentials] = field(default_factory=dict)
    templates: list[tuple[str, Credentials]] = field(default_factory=list)
    known_hosts_file: str = ""

    @classmethod
    def load(cls, path: str | Path | None = None) -> CredentialStore:
        """From ``path``, else ``$SYNCWRIGHT_CREDENTIALS``, else the default file if it exists; plus env."""
        store = cls()
        explicit = path or os.environ.get("SYNCWRIGHT_CREDENTIALS")
        file = Path(explicit).expanduser() if explicit else Path("~/.config/syncwright/credentials.yaml").expanduser()
        if explicit or file.exists():
            store.add_file(file)
        store.add_env(os.environ)
        return store

    def add_file(self, file: Path) -> None:
        where = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as e:
            raise RepoError(f"cannot read credentials file {where}: {e.strerror}") from None
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark is not None else ""
            raise RepoError(f"credentials file {where} is not valid YAML{at}") from None
        for doc in docs:
            if not isinstance(doc, dict):
                raise RepoError(f"credentials file {where}: expected a mapping, got {type(doc).__name__}")
            if doc.get("kind") == "Secret":
                kind, url, creds = _from_secret(doc, where)
                self._add(kind, url, creds)
                continue
            unknown = set(doc) - {"repositories", "credentialTemplates", "knownHostsFile"}
            if unknown:
                raise RepoError(f"credentials file {where}: unknown key(s) {sorted(unknown)}")
            for entry in doc.get("repositories") or ():
                self._add("repo", *_from_fields(entry, where))
            for entry in doc.get("credentialTemplates") or ():
                self._add("template", *_from_fields(entry, where))
            if doc.get("knownHostsFile"):
                self.known_hosts_file = str(Path(str(doc["knownHostsFile"])).expanduser())

    def add_env(self, env: Mapping[str, str]) -> None:
        """``SYNCWRIGHT_REPO_URL`` (a URL prefix) with ``SYNCWRIGHT_REPO_USERNAME/_PASSWORD/_SSH_KEY_FILE``.

        The prefix is required so environment credentials never go to any other host.
        """
        prefix = env.get("SYNCWRIGHT_REPO_URL")
        if not prefix:
            return
        key = ""
        key_file = env.get("SYNCWRIGHT_REPO_SSH_KEY_FILE")
        if key_file:
            try:
                key = Path(key_file).expanduser().read_text()
            except OSError as e:
                raise RepoError(f"cannot read SYNCWRIGHT_REPO_SSH_KEY_FILE: {e.strerror}") from None
        self._add("template", prefix, Credentials(
            username=env.get("SYNCWRIGHT_REPO_USERNAME", ""),
            password=env.get("SYNCWRIGHT_REPO_PASSWORD", ""),
            ssh_private_key=key,
            insecure=_truthy(env.get("SYNCWRIGHT_REPO_INSECURE", "")),
        ))

    def _add(self, kind: str, url: str, creds: Credentials) -> None:
        if kind == "repo":
            self.repos[normalize(url)] = creds
        else:
            self.templates.append((normalize(url), creds))

    def lookup(self, url: str) -> Credentials:
        """Exact entry, else the longest matching template prefix, else credentials embedded in the URL."""
        norm = normalize(url)
        creds = self.repos.get(norm)
        if creds is None:
            matches = [(p, c) for p, c in self.templates if norm == p or norm.startswith(p.rstrip("/") + "/")]
            if matches:
                creds = max(matches, key=lambda m: len(m[0]))[1]
        _, user, password = split_credentials(url)
        if creds is None:
            creds = Credentials(username=user or "", password=password or "") if (user or password) else Credentials()
        if self.known_hosts_file and not creds.known_hosts_file:
            creds = Credentials(creds.username, creds.password, creds.ssh_private_key, creds.bearer_token,
                                creds.insecure, self.known_hosts_file)
        return creds


_ASKPASS = """#!/bin/sh
# syncwright: answers git's credential prompts from its environment (no secret in this file).
case "$1" in
  Username*|username*) printf '%s\\n' "$SYNCWRIGHT_GIT_USERNAME" ;;
  *) printf '%s\\n' "$SYNCWRIGHT_GIT_PASSWORD" ;;
esac
"""


@contextmanager
def git_env(creds: Credentials, *, timeout: float) -> Iterator[dict[str, str]]:
    """Environment variables for one git network command using ``creds``.

    Never prompts (``GIT_TERMINAL_PROMPT=0``, ssh ``BatchMode``); slow or
    silent HTTP transfers abort (``GIT_HTTP_LOW_SPEED_*``); ssh connects time out.
    """
    tmp = Path(tempfile.mkdtemp(prefix="sw-git-"))
    os.chmod(tmp, 0o700)
    try:
        env: dict[str, str] = {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
            "GIT_HTTP_LOW_SPEED_TIME": str(max(5, int(min(timeout, 60)))),
            "GCM_INTERACTIVE": "never",
            # The user's credential helpers must neither prompt nor receive our secrets.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "credential.helper",
            "GIT_CONFIG_VALUE_0": "",
        }
        askpass = tmp / "askpass.sh"
        askpass.write_text(_ASKPASS)
        askpass.chmod(stat.S_IRWXU)
        env["GIT_ASKPASS"] = str(askpass)
        env["SSH_ASKPASS"] = str(askpass)
        env["SYNCWRIGHT_GIT_USERNAME"] = creds.username or ("git" if creds.password else "")
        env["SYNCWRIGHT_GIT_PASSWORD"] = creds.password
        n = 1
        if creds.bearer_token:
            env[f"GIT_CONFIG_KEY_{n}"] = "http.extraHeader"
            env[f"GIT_CONFIG_VALUE_{n}"] = f"Authorization: Bearer {creds.bearer_token}"
            n += 1
        if creds.insecure:
            env["GIT_SSL_NO_VERIFY"] = "true"
        env["GIT_CONFIG_COUNT"] = str(n)
        ssh = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(3, int(min(timeout, 30)))}",
               "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3"]
        if creds.ssh_private_key:
            key = tmp / "id_key"
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(creds.ssh_private_key.rstrip("\n") + "\n")
            ssh += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
        if creds.insecure:
            ssh += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        else:
            known = creds.known_hosts_file or os.environ.get("SYNCWRIGHT_SSH_KNOWN_HOSTS") or str(Path("~/.ssh/known_hosts").expanduser())
            ssh += ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known}"]
        env["GIT_SSH_COMMAND"] = " ".join(_shell_quote(a) for a in ssh)
        env["GIT_SSH_VARIANT"] = "ssh"
        yield env
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _shell_quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def basic_auth_header(creds: Credentials) -> dict[str, str]:
    """HTTP headers for a Helm repository request."""
    if creds.bearer_token:
        return {"Authorization": f"Bearer {creds.bearer_token}"}
    if creds.username or creds.password:
        token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}
