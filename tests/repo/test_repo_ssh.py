"""Git over SSH against a real ``sshd`` on an ephemeral port: keys, known_hosts, insecure.

Skipped when Debian's openssh-server (``/usr/sbin/sshd``) is not installed.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from syncwright.model import parse_application
from syncwright.repo.creds import CredentialStore, Credentials
from syncwright.repo.errors import AuthError, RepoError
from syncwright.repo.gitmirror import RECENT_ARGV
from syncwright.repo.service import RepoService
from syncwright.repo.urls import normalize

SSHD = "/usr/sbin/sshd"
pytestmark = pytest.mark.skipif(not os.path.exists(SSHD), reason="openssh-server not installed")


@dataclass
class Sshd:
    port: int
    key: str
    other_key: str
    known_hosts: Path
    user: str

    def url(self, repo: Any) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{repo.bare}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("sshd did not start")


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host", "client", "other"):
        _keygen(d / name)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PermitRootLogin prohibit-password\nPidFile {d / 'pid'}\nLogLevel ERROR\n")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port)
    host_pub = (d / "host.pub").read_text().split()
    known = d / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    yield Sshd(port, (d / "client").read_text(), (d / "other").read_text(), known, getpass.getuser())
    proc.terminate()
    proc.wait(timeout=10)


def _service(hooks: Any, cache_dir: Path, url: str, creds: Credentials) -> RepoService:
    store = CredentialStore()
    store.repos[normalize(url)] = creds
    return RepoService(hooks, cache_dir=cache_dir, revision_ttl=0, credentials=store)


def test_ssh_key_with_known_hosts(sshd: Sshd, hooks: Any, cache_dir: Path, repos: Any, helpers: Any) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("over-ssh")})
    url = sshd.url(repo)
    service = _service(hooks, cache_dir, url, Credentials(ssh_private_key=sshd.key,
                                                          known_hosts_file=str(sshd.known_hosts)))
    RECENT_ARGV.clear()
    app = parse_application(helpers.app_doc("s", {"repoURL": url, "targetRevision": "main"}), "t")
    assert service.render_app(app).manifests[0]["metadata"]["name"] == "over-ssh"
    key_body = sshd.key.splitlines()[1]
    assert not any(key_body in " ".join(argv) for argv in RECENT_ARGV)


def test_unknown_host_key_is_refused(sshd: Sshd, hooks: Any, cache_dir: Path, repos: Any, helpers: Any,
                                     tmp_path: Path) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("x")})
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    service = _service(hooks, cache_dir, sshd.url(repo), Credentials(ssh_private_key=sshd.key,
                                                                     known_hosts_file=str(empty)))
    with pytest.raises(RepoError, match=r"ssh host key is not in known_hosts"):
        service.resolve(sshd.url(repo), "main")
    insecure = _service(hooks, cache_dir, sshd.url(repo), Credentials(ssh_private_key=sshd.key, insecure=True))
    assert len(insecure.resolve(sshd.url(repo), "main").sha) == 40


def test_wrong_ssh_key_is_an_auth_error(sshd: Sshd, hooks: Any, cache_dir: Path, repos: Any, helpers: Any) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("x")})
    service = _service(hooks, cache_dir, sshd.url(repo), Credentials(ssh_private_key=sshd.other_key,
                                                                     known_hosts_file=str(sshd.known_hosts)))
    with pytest.raises(AuthError, match=r"authentication failed") as err:
        service.resolve(sshd.url(repo), "main")
    assert "PRIVATE KEY" not in str(err.value)
