"""A small HTTP server: routing, bearer-token auth, body caps, JSON errors, access logs.

Built on the standard library's ``ThreadingHTTPServer`` (no framework is
needed for a dozen JSON routes). Security properties, each tested:

- every route needs ``Authorization: Bearer <token>`` unless it is declared
  public (probes, metrics, the spec, and the webhook, which has its own
  signatures); tokens are compared with ``hmac.compare_digest``;
- a request body is refused with 413 from its ``Content-Length`` *before* any
  of it is read, and bodies without a length (chunked) get 411 — so a huge
  upload cannot exhaust memory (Argo CD's GHSA-jmvp-698c-4x3w);
- each connection has a socket timeout, so a slow client cannot hold a thread
  for long, and at most ``max_connections`` are served at once (more get 503);
- errors are JSON ``{"error": ..., "code": ...}``, never tracebacks.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import metrics

log = logging.getLogger("syncwright.server")

DEFAULT_MAX_BODY = 64 * 1024
MIN_TOKEN_LENGTH = 16


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    route: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client: str

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is ``{}``."""
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as e:
            raise HTTPError(400, f"request body is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise HTTPError(400, "request body must be a JSON object")
        return data


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # /api/v1/applications/{name}
    handler: Handler
    public: bool = False
    max_body: int = DEFAULT_MAX_BODY
    pattern: re.Pattern[str] = field(default=re.compile(""), compare=False)


class Router:
    """Method + path template → handler; ``{param}`` matches one path segment."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, *, public: bool = False,
            max_body: int = DEFAULT_MAX_BODY) -> None:
        regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        self.routes.append(Route(method, template, handler, public, max_body, re.compile(regex)))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = []
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, {k: unquote(v) for k, v in m.groupdict().items()}
            allowed.append(route.method)
        if allowed:
            raise HTTPError(405, f"method {method} not allowed on {path}", {"Allow": ", ".join(sorted(set(allowed)))})
        raise HTTPError(404, f"no route for {path}")


class Auth:
    """Static bearer tokens (one or more, e.g. during rotation), compared in constant time."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self.tokens = tuple(t.encode() for t in tokens if t)
        if not self.tokens:
            raise ValueError("no API token configured")
        for t in self.tokens:
            if len(t) < MIN_TOKEN_LENGTH:
                raise ValueError(f"API token too short ({len(t)} characters; at least {MIN_TOKEN_LENGTH} needed, "
                                 "e.g. from `openssl rand -hex 32`)")

    def check(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        given = token.strip().encode()
        ok = False
        for t in self.tokens:  # no early exit: the time taken does not depend on which token matched
            ok |= hmac.compare_digest(t, given)
        return ok


class _Handler(BaseHTTPRequestHandler):
    server_version = "syncwright"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30.0  # per-connection socket timeout (slowloris)
    app: App  # set on the subclass made per server

    def setup(self) -> None:
        super().setup()
        # headers and body go out as two writes; without NODELAY Nagle + delayed ACK add 40 ms per request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # access logs are ours, as JSON

    def _dispatch(self) -> None:
        start = time.monotonic()
        parts = urlsplit(self.path)
        route_name = "unmatched"
        try:
            route, params = self.app.router.match(self.command, parts.path)
            route_name = route.template
            if not route.public and not self.app.auth.check(self.headers.get("Authorization", "")):
                raise HTTPError(401, "missing or invalid bearer token",
                                {"WWW-Authenticate": 'Bearer realm="syncwright"'})
            body = self._read_body(route.max_body)
            req = Request(self.command, parts.path, route.template, params, dict(parse_qsl(parts.query)),
                          {k: v for k, v in self.headers.items()}, body, self.client_address[0])
            resp = route.handler(req)
        except HTTPError as e:
            resp = json_response({"error": e.message, "code": e.status}, e.status)
            resp.headers.update(e.headers)
        except Exception as e:  # noqa: BLE001 - a bug in a handler is a 500 with a message, not a traceback
            log.exception("handler failed", extra={"route": route_name})
            resp = json_response({"error": f"internal error: {type(e).__name__}: {e}", "code": 500}, 500)
        seconds = time.monotonic() - start  # counted and logged before the reply, so a client sees them after
        metrics.inc_http(self.command, route_name, resp.status)
        log.info("%s %s %d", self.command, parts.path, resp.status,
                 extra={"method": self.command, "route": route_name, "status": resp.status,
                        "duration_ms": round(seconds * 1000, 1), "client": self.client_address[0]})
        self._send(resp)

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise HTTPError(411, "chunked request bodies are not accepted; send Content-Length")
        raw = self.headers.get("Content-Length")
        if not raw:
            return b""
        try:
            length = int(raw)
        except ValueError:
            self.close_connection = True
            raise HTTPError(400, f"bad Content-Length {raw!r}") from None
        if length < 0:
            self.close_connection = True
            raise HTTPError(400, f"bad Content-Length {raw!r}")
        if length > limit:
            self.close_connection = True  # the unread body must not be parsed as the next request
            raise HTTPError(413, f"request body of {length} bytes exceeds the limit of {limit} bytes")
        return self.rfile.read(length)

    def _send(self, resp: Response) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)


@dataclass
class App:
    """What the request handler needs: the routes and the token check."""

    router: Router
    auth: Auth


class _BoundedServer(ThreadingHTTPServer):
    """One thread per connection, but no more than ``max_connections`` threads."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
                                b"Connection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class Server:
    """A ThreadingHTTPServer serving ``app`` on ``host:port`` (port 0: an ephemeral one)."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, *, max_connections: int = 256) -> None:
        handler = type("Handler", (_Handler,), {"app": app})
        self.httpd = _BoundedServer((host, port), handler, max_connections)
        self.thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"

    def start(self) -> Server:
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="syncwright-http",
                                       daemon=True)
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread is not None:
            self.thread.join(5)
