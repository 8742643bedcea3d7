"""``syncwright cmp-server``: one plugin served on a Unix socket (protocol v1, see protocol.py).

Each request gets its own temp dir under the server's work dir, removed when
the request ends (success or not); requests run concurrently (one thread
each); every request is logged as one line on stderr. The generate timeout
is the smaller of the engine's and the server's ``--timeout``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import socketserver
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO, Any

from syncwright.api import RenderContext, RenderError, SpecError, Source, resolve_in_root

from . import __version__
from .archive import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES, extract_archive
from .config import PluginConfig
from .protocol import HEADER, MAX_META_BYTES, PROTOCOL_VERSION, error_body
from .runner import announcements, discover_match, match_paths, run_generate


@dataclass
class ServerSettings:
    config: PluginConfig
    socket_path: Path
    work_dir: Path
    timeout: float = float(os.environ.get("ARGOCD_EXEC_TIMEOUT", "90").rstrip("s") or 90)
    max_bytes: int = DEFAULT_MAX_BYTES
    max_files: int = DEFAULT_MAX_FILES
    max_output: int | None = None
    pass_env: tuple[str, ...] = ()
    pass_all_env: bool = False
    log: IO[str] = field(default_factory=lambda: sys.stderr)
    log_lock: threading.Lock = field(default_factory=threading.Lock)

    def info(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "protocol": PROTOCOL_VERSION,
            "server": f"syncwright-cmp/{__version__}",
            "name": cfg.name,
            "version": cfg.version,
            "pluginName": cfg.plugin_name,
            "discover": cfg.discover.to_json(),
            "parameters": list(cfg.static_parameters),
            "dynamicParameters": cfg.dynamic_parameters is not None,
            "preserveFileMode": cfg.preserve_file_mode,
            "provideGitCreds": cfg.provide_git_creds,
        }

    def extra_env(self) -> dict[str, str]:
        """Sidecar-container variables handed to the plugin (Argo CD hands all of them)."""
        if self.pass_all_env:
            return dict(os.environ)
        return {k: os.environ[k] for k in self.pass_env if k in os.environ}


class _Limited:
    """A reader that stops at the request body's end (so tar never reads the next request)."""

    def __init__(self, raw: IO[bytes], remaining: int) -> None:
        self.raw = raw
        self.remaining = remaining

    def read(self, n: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        n = self.remaining if n is None or n < 0 else min(n, self.remaining)
        data = self.raw.read(n)
        self.remaining -= len(data)
        return data

    def readline(self, limit: int) -> bytes:
        data = self.raw.readline(min(limit, self.remaining))
        self.remaining -= len(data)
        return data

    def drain(self, limit: int = 1024 * 1024) -> None:
        while self.remaining > 0 and limit > 0:
            chunk = self.read(min(65536, limit))
            if not chunk:
                break
            limit -= len(chunk)


def _context(meta: dict[str, Any], repo_root: Path, settings: ServerSettings) -> RenderContext:
    """The render context of a request, built from its metadata (validated like an Application)."""
    build = meta.get("build") or {}
    if not isinstance(build, dict):
        raise SpecError("request field 'build' must be an object")
    try:
        source = Source.model_validate(meta.get("source") or {"repoURL": ""})
    except Exception as e:  # noqa: BLE001 - pydantic's message is the useful part
        raise SpecError(f"request source is invalid: {e}") from None
    app_path = str(meta.get("appPath") or ".")
    app_dir = resolve_in_root(repo_root, app_path, base=repo_root, what="app path", allow_root=True)
    if not app_dir.is_dir():
        raise SpecError(f"app path {app_path!r} is not a directory in the received tree")
    requested = float(build.get("timeout") or settings.timeout)
    kwargs: dict[str, Any] = {}
    if build.get("kubeVersion"):
        kwargs["kube_version"] = str(build["kubeVersion"])
    if build.get("apiVersions"):
        kwargs["api_versions"] = tuple(str(v) for v in build["apiVersions"])
    if settings.max_output is not None:
        kwargs["max_output"] = settings.max_output
    return RenderContext(
        app_name=str(build.get("appName", "")),
        app_namespace=str(build.get("appNamespace", "")),
        project=str(build.get("project") or "default"),
        revision=str(build.get("revision", "")),
        source=source,
        source_dir=app_dir,
        repo_root=repo_root,
        tool=settings.config.tool,
        timeout=max(0.1, min(requested, settings.timeout)),
        private=True,
        **kwargs,
    )


class Handler(BaseHTTPRequestHandler):
    server: CMPServer
    protocol_version = "HTTP/1.1"
    timeout = 300  # an idle or stuck client cannot pin a thread forever

    # Unix sockets have no peer address; http.server's default logging indexes into it.
    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass

    def _send(self, status: int, body: dict[str, Any] | bytes) -> None:
        # generate answers with the plugin's own output (a YAML/JSON stream, as Argo CD's
        # ManifestResponse carries it); everything else is JSON
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/yaml" if isinstance(body, bytes) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header(HEADER, str(PROTOCOL_VERSION))
        self.end_headers()
        self.wfile.write(data)

    def _log(self, status: int, started: float, note: dict[str, Any], error: str | None) -> None:
        s = self.server.settings
        parts = [
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cmp-server", s.config.plugin_name,
            self.command, self.path, str(status), f"{time.monotonic() - started:.3f}s",
            *(f"{k}={v}" for k, v in note.items()),
        ]
        if error:
            parts.append(f"error={error[:300]!r}")
        with s.log_lock:
            print(" ".join(parts), file=s.log, flush=True)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        started = time.monotonic()
        if self.path == "/v1/info":
            self._log(200, started, {}, None)
            self._send(200, self.server.settings.info())
            return
        self._log(404, started, {}, "no such endpoint")
        self._send(404, {"error": {"type": "RenderError", "message": f"no such endpoint {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        started = time.monotonic()
        note: dict[str, Any] = {}
        length = int(self.headers.get("Content-Length") or 0)
        body = _Limited(self.rfile, length)  # type: ignore[arg-type]
        self._tmp: Path | None = None
        try:
            version = self.headers.get(HEADER)
            if version != str(PROTOCOL_VERSION):
                raise SpecError(f"client speaks protocol {version or 'none'}, this cmp-server speaks {PROTOCOL_VERSION}")
            if self.path not in ("/v1/discover", "/v1/generate", "/v1/parameters"):
                raise SpecError(f"no such endpoint {self.path}")
            if length > self.server.settings.max_bytes:
                raise RenderError(f"request of {length} bytes is over the size cap ({self.server.settings.max_bytes})")
            line = body.readline(MAX_META_BYTES)
            try:
                meta = json.loads(line)
                if not isinstance(meta, dict):
                    raise ValueError
            except ValueError:
                raise SpecError("request does not start with a line of JSON metadata") from None
            note["app"] = meta.get("build", {}).get("appName", "") if isinstance(meta.get("build"), dict) else ""
            result = self._handle(meta, body, note)
            status, answer = 200, result
            error: str | None = None
        except Exception as e:  # noqa: BLE001 - every failure becomes a structured answer
            status, answer = error_body(e)
            error = answer["error"]["message"]
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
        body.drain()
        if status != 200:
            self.close_connection = True
        self._log(status, started, note, error)  # before answering: a client that saw the answer sees the log
        try:
            self._send(status, answer)
        except OSError:
            pass  # the client went away; nothing to tell it

    def _handle(self, meta: dict[str, Any], body: _Limited, note: dict[str, Any]) -> dict[str, Any] | bytes:
        s = self.server.settings
        cfg = s.config
        if self.path == "/v1/discover" and cfg.discover.kind in ("", "fileName", "glob"):
            if not cfg.discover.kind:
                return {"match": False, "reason": "the plugin has no discover rule"}
            paths = meta.get("paths")
            if not isinstance(paths, list):
                raise SpecError("discover request needs 'paths' (the app dir's entries) for this rule")
            hit = match_paths(cfg.discover, (str(p) for p in paths))
            return {"match": hit is not None, "reason": f"{hit} matches" if hit else ""}
        tmp = self._tmp = Path(tempfile.mkdtemp(prefix="req-", dir=s.work_dir))
        repo = tmp / "repo"
        repo.mkdir()
        stats = extract_archive(body, repo, max_bytes=s.max_bytes, max_files=s.max_files,
                                preserve_mode=cfg.preserve_file_mode)
        note["files"] = stats.files
        note["bytes"] = stats.bytes
        ctx = _context(meta, repo.resolve(), s)
        try:
            if self.path == "/v1/discover":
                reason = discover_match(ctx, cfg)
                return {"match": reason is not None, "reason": reason or ""}
            if self.path == "/v1/parameters":
                return {"parameters": announcements(ctx, cfg, ctx.source_dir, extra_env=s.extra_env())}
            output = run_generate(ctx, cfg, ctx.source_dir, extra_env=s.extra_env())
            note["output"] = len(output)
            return output
        finally:
            ctx.cleanup()


class CMPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        super().__init__(str(settings.socket_path), Handler)


def _remove_stale(path: Path) -> None:
    """Remove a socket file nobody listens on; refuse to steal a live one."""
    if not os.path.lexists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
        return
    finally:
        probe.close()
    raise RenderError(f"socket {path} is in use by a running server")


def make_server(settings: ServerSettings) -> CMPServer:
    """Bind the socket; requests work in a private dir made under ``work_dir`` (removed by ``close``)."""
    if len(str(settings.socket_path)) > 100:
        raise SpecError(f"socket path {settings.socket_path} is too long for a Unix socket (max ~100 bytes)")
    settings.socket_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(settings.socket_path)
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    settings.work_dir = Path(tempfile.mkdtemp(prefix="syncwright-cmp-", dir=settings.work_dir))
    return CMPServer(settings)


def close(server: CMPServer) -> None:
    """Stop serving, remove the socket file and the work dir."""
    server.server_close()
    try:
        server.settings.socket_path.unlink()
    except FileNotFoundError:
        pass
    shutil.rmtree(server.settings.work_dir, ignore_errors=True)
