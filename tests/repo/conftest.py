"""Real servers for the repo-layer tests, on 127.0.0.1 ephemeral ports.

- ``git_daemon``: ``git daemon`` (git://) over a per-worker base directory.
- ``git_http``: ``git http-backend`` (smart HTTP, protocol v2) behind a small
  threaded Python HTTP server with optional basic auth, which also counts
  fetches (``command=fetch`` requests) and serves a Helm repository made with
  ``helm package`` + ``helm repo index`` under ``/helm/``.
- ``tools_plugin`` / ``hooks``: an in-process source plugin (plain YAML
  directory + real ``helm template``) that counts its tool runs, so the tests
  do not depend on which plugin distributions happen to be installed.
"""

from __future__ import annotations

import base64
import gzip
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncwright.api import (
    Discovered, Rendered, RenderContext, SourceType, SourceTypes, find_tool, hookimpl,
)
from syncwright.plugins import Hooks

HELM = str(Path(sys.executable).parent / "helm")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "GIT_TERMINAL_PROMPT": "0",
}


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    out = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


# --- repositories ------------------------------------------------------------------------


@dataclass
class Repo:
    """A bare repository served by the fixtures plus a work tree to commit from."""

    name: str
    bare: Path
    work: Path

    def write(self, files: dict[str, str | None]) -> None:
        for rel, text in files.items():
            path = self.work / rel
            if text is None:
                if path.is_symlink() or path.exists():
                    path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if text.startswith("symlink:"):
                if path.is_symlink() or path.exists():
                    path.unlink()
                os.symlink(text[len("symlink:"):], path)
            else:
                path.write_text(text)

    def commit(self, files: dict[str, str | None], message: str = "change", *, branch: str = "main") -> str:
        self.write(files)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.work)
        git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def tag(self, name: str, *, annotated: bool = False) -> None:
        if annotated:
            git("tag", "-a", "-m", name, name, cwd=self.work)
        else:
            git("tag", name, cwd=self.work)
        git("push", "-q", "origin", f"refs/tags/{name}", cwd=self.work)


@dataclass
class RepoFactory:
    base: Path
    scratch: Path

    def create(self, files: dict[str, str | None] | None = None, *, name: str | None = None) -> Repo:
        name = name or f"r{uuid.uuid4().hex[:10]}"
        bare = self.base / f"{name}.git"
        git("init", "-q", "--bare", "-b", "main", str(bare))
        git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
        git("config", "http.receivepack", "true", cwd=bare)
        work = self.scratch / name
        git("init", "-q", "-b", "main", str(work))
        git("remote", "add", "origin", str(bare), cwd=work)
        repo = Repo(name, bare, work)
        if files is not None:
            repo.commit(files, "initial")
        return repo


@pytest.fixture(scope="session")
def git_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("served")


@pytest.fixture
def repos(git_base: Path, tmp_path: Path) -> RepoFactory:
    return RepoFactory(git_base, tmp_path / "work")


@dataclass
class GitDaemon:
    port: int

    def url(self, repo: Repo) -> str:
        return f"git://127.0.0.1:{self.port}/{repo.name}.git"


@pytest.fixture(scope="session")
def git_daemon(git_base: Path) -> Iterator[GitDaemon]:
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={git_base}", "--listen=127.0.0.1",
             f"--port={port}", "--informative-errors", str(git_base)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(port, 5)
            break
        except RuntimeError:
            proc.kill()
            proc.wait()
    else:  # pragma: no cover
        raise RuntimeError("git daemon did not start")
    yield GitDaemon(port)
    proc.terminate()
    proc.wait(timeout=10)


# --- smart HTTP + Helm repository server -------------------------------------------------


@dataclass
class HttpServer:
    port: int
    state: dict[str, Any]

    def url(self, repo: Repo, *, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user else ""
        return f"http://{auth}127.0.0.1:{self.port}/git/{repo.name}.git"

    @property
    def helm_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/helm"

    @property
    def fetches(self) -> int:
        return int(self.state["fetches"])

    def require_auth(self, user: str | None, password: str | None = None) -> None:
        self.state["auth"] = (user, password) if user else None


def _handler(git_root: Path, helm_root: Path, state: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args: Any) -> None:
            pass

        def _authorized(self) -> bool:
            auth = state.get("auth")
            if not auth:
                return True
            expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            if self.headers.get("Authorization") == expected:
                return True
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            state["requests"].append((self.command, self.path))
            if not self._authorized():
                return
            if self.path.startswith("/git/"):
                self._git()
            elif self.path.startswith("/helm/"):
                self._static()
            else:
                self.send_error(404)

        def _static(self) -> None:
            rel = self.path[len("/helm/"):].split("?")[0]
            path = (helm_root / rel).resolve()
            if not path.is_relative_to(helm_root.resolve()) or not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _git(self) -> None:
            path, _, query = self.path[len("/git"):].partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "POST" and path.endswith("git-upload-pack"):
                plain = body
                if self.headers.get("Content-Encoding") == "gzip":
                    plain = gzip.decompress(body)
                if b"command=fetch" in plain or (b"command=" not in plain and b"want " in plain):
                    with state["lock"]:
                        state["fetches"] += 1
            env = {
                "PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(git_root), "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": "127.0.0.1", "REMOTE_USER": "test",
            }
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60)
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").split("\r\n"):
                if not line:
                    continue
                k, _, v = line.partition(":")
                if k.lower() == "status":
                    status = int(v.strip().split()[0])
                else:
                    headers.append((k, v.strip()))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def git_http(git_base: Path, tmp_path: Path) -> Iterator[HttpServer]:
    helm_root = tmp_path / "helm-repo"
    helm_root.mkdir()
    state: dict[str, Any] = {"fetches": 0, "requests": [], "auth": None, "lock": threading.Lock(), "helm_root": helm_root}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(git_base, helm_root, state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield HttpServer(int(server.server_address[1]), state)
    server.shutdown()
    server.server_close()


def helm_env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "HELM_CACHE_HOME": str(tmp / "hc"), "HELM_CONFIG_HOME": str(tmp / "hcfg"),
            "HELM_DATA_HOME": str(tmp / "hd")}


def make_chart(src: Path, name: str, version: str, *, marker: str = "") -> Path:
    chart = src / f"{name}-{version}" / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n")
    (chart / "values.yaml").write_text("color: blue\nsize: small\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n"
        f"data:\n  color: {{{{ .Values.color }}}}\n  size: {{{{ .Values.size }}}}\n  version: \"{version}\"\n"
        f"  marker: \"{marker}\"\n")
    return chart


@pytest.fixture
def helm_repo(git_http: HttpServer, tmp_path: Path) -> HttpServer:
    """A Helm repo with chart ``demo`` 0.1.0, 0.2.0, 1.0.0 and 1.1.0-rc.1 served under ``/helm``."""
    root: Path = git_http.state["helm_root"]
    src = tmp_path / "chart-src"
    env = helm_env(tmp_path)
    for version in ("0.1.0", "0.2.0", "1.0.0", "1.1.0-rc.1"):
        chart = make_chart(src, "demo", version)
        subprocess.run([HELM, "package", str(chart), "-d", str(root)], env=env, check=True, capture_output=True)
    subprocess.run([HELM, "repo", "index", str(root), "--url", git_http.helm_url], env=env, check=True,
                   capture_output=True)
    return git_http


# --- an in-process source plugin ----------------------------------------------------------


@dataclass
class ToolsPlugin:
    """Tools ``directory`` (YAML files of the app dir) and ``helm`` (real ``helm template``)."""

    __name__: str = "sw-test-tools"
    renders: int = 0
    version_runs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @hookimpl
    def syncwright_source_types(self, versions: bool) -> SourceTypes:
        helm = find_tool("helm", "SYNCWRIGHT_HELM", "make tools")
        version = None
        if versions:
            with self.lock:
                self.version_runs += 1
            version = subprocess.run([helm.require(), "version", "--short"], capture_output=True,
                                     text=True).stdout.strip()
        return SourceTypes((SourceType("helm", tool=helm, tool_version=version), SourceType("directory")))

    @hookimpl
    def syncwright_discover(self, ctx: RenderContext) -> Discovered | None:
        if (ctx.source_dir / "Chart.yaml").exists():
            return Discovered("helm", 100)
        return Discovered("directory", 1000)

    @hookimpl
    def syncwright_render(self, ctx: RenderContext) -> Rendered | None:
        with self.lock:
            self.renders += 1
        if ctx.tool == "directory":
            out: list[dict[str, Any]] = []
            for f in sorted(ctx.source_dir.glob("*.yaml")):
                ctx.resolve(f.name, what="manifest")
                out += ctx.parse(f.read_text(), f.name)
            return Rendered(tuple(out), "directory")
        if ctx.tool == "helm":
            argv = [HELM, "template", str(ctx.source_dir), "--name-template", ctx.app_name,
                    "--namespace", ctx.app_namespace or "default"]
            helm_opts = ctx.source.helm
            for vf in (helm_opts.value_files if helm_opts else ()):
                path = ctx.resolve_ref(vf) or ctx.resolve(vf, what="value file")
                argv += ["--values", str(path)]
            scratch = ctx.scratch_dir()
            env = {"HELM_CACHE_HOME": str(scratch / "c"), "HELM_CONFIG_HOME": str(scratch / "f"),
                   "HELM_DATA_HOME": str(scratch / "d")}
            result = ctx.run(argv, env=env, what="helm template")
            return Rendered(tuple(ctx.parse(result.stdout, "helm template")), "helm")
        return None


@pytest.fixture
def tools_plugin() -> ToolsPlugin:
    return ToolsPlugin()


@pytest.fixture
def hooks(tools_plugin: ToolsPlugin) -> Hooks:
    return Hooks.load(entry_points=[], extra_plugins=[tools_plugin])


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("SYNCWRIGHT_CACHE", str(d))
    monkeypatch.delenv("SYNCWRIGHT_CREDENTIALS", raising=False)
    monkeypatch.delenv("SYNCWRIGHT_REPO_URL", raising=False)
    return d


def app_doc(name: str, source: dict[str, Any] | None = None, *, sources: list[dict[str, Any]] | None = None,
            namespace: str = "default") -> dict[str, Any]:
    spec: dict[str, Any] = {"project": "default", "destination": {"server": "https://kubernetes.default.svc",
                                                                  "namespace": namespace}}
    if sources is not None:
        spec["sources"] = sources
    else:
        spec["source"] = source
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name}, "spec": spec}


def cm(name: str, **data: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"k": "v"}})


@pytest.fixture
def helpers() -> Any:
    """Plain helpers for the tests (``--import-mode=importlib`` cannot import conftest)."""

    class H:
        git = staticmethod(git)
        app_doc = staticmethod(app_doc)
        cm = staticmethod(cm)
        make_chart = staticmethod(make_chart)
        helm_env = staticmethod(helm_env)
        HELM = HELM

    return H
