"""HTTP/1.1 front end: authentication, faults, routing, body parsing, rendering.

A stdlib ThreadingHTTPServer with keep-alive. Each response is written in a
single send (headers + body) with TCP_NODELAY, which keeps loopback latency
well under a millisecond; watches use chunked transfer encoding.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import orjson
import yaml

from . import errors, protobuf, tables
from .api import APPLY, APPLY_CBOR, JSON_PATCH, MERGE_PATCH, SMP
from .errors import ApiError
from .registry import ResourceType
from .selectors import build_matcher
from .watch import render_object as render
from .watch import serve_watch

if TYPE_CHECKING:
    from .sim import Simulator

MAX_BODY = 3 * 1024 * 1024
PROTOBUF = "application/vnd.kubernetes.protobuf"
VERSION_INFO = {
    "major": "1", "minor": "37", "emulationMajor": "1", "emulationMinor": "37",
    "minCompatibilityMajor": "1", "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.0-kubesim", "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean", "buildDate": "2026-11-01T00:00:00Z", "goVersion": "go1.25.0",
    "compiler": "gc", "platform": "linux/amd64",
}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr: tuple[str, int], sim: Simulator,
                 tls: ssl.SSLContext | None = None) -> None:
        self.sim = sim
        self.tls = tls
        self.open_sockets: set[Any] = set()
        self._sockets_lock = threading.Lock()
        super().__init__(addr, Handler)

    def shutdown_request(self, request: Any) -> None:
        with self._sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        """Hang up on every client (keep-alive and watch connections) when stopping."""
        with self._sockets_lock:
            socks = list(self.open_sockets)
            self.open_sockets.clear()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Failed TLS handshakes and dropped clients are routine; stay quiet."""

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:
            # The handshake runs in the request thread (Handler.setup), not the accept loop.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._sockets_lock:
            self.open_sockets.add(sock)
        return sock, addr


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: Server
    server_version = "kubesim"
    sys_version = ""

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.sim.config.log_requests:
            super().log_message(format, *args)

    # --- plumbing --------------------------------------------------------------

    def _send(self, code: int, body: bytes, ctype: str = "application/json",
              extra: dict[str, str] | None = None) -> None:
        head = [f"HTTP/1.1 {code} {self.responses.get(code, ('',))[0]}",
                f"Content-Type: {ctype}", f"Content-Length: {len(body)}",
                "Cache-Control: no-cache, private"]
        for k, v in (extra or {}).items():
            head.append(f"{k}: {v}")
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        self.log_request(code)

    def _json(self, code: int, obj: Any) -> None:
        warnings = self.server.sim.api.warnings() if self.command != "GET" else []
        extra = {"Warning": ", ".join('299 - "' + w.replace('"', '\\"') + '"'
                                      for w in warnings)} if warnings else None
        self._send(code, obj if isinstance(obj, bytes) else orjson.dumps(obj), extra=extra)

    def _error(self, e: ApiError) -> None:
        extra = {"Retry-After": str(e.retry_after)} if e.retry_after is not None else None
        self._send(e.code, orjson.dumps(e.status()), extra=extra)

    def _reset(self) -> None:
        """Abort the connection with a TCP RST, as a crashed or unreachable server would."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True

    def _body(self) -> bytes:
        self._consumed = True
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            # Drain what the client is sending so it can read the 413 (up to a sane bound).
            left = length if length <= 64 * MAX_BODY else 0
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                left -= len(chunk)
            self.close_connection = True
            raise errors.too_large(MAX_BODY)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    self.close_connection = True
                    raise errors.too_large(MAX_BODY)
            return bytes(data)
        return self.rfile.read(length) if length else b""

    def _drain(self) -> None:
        """Read an unread request body so the keep-alive connection stays in sync."""
        if not self._consumed:
            try:
                self._body()
            except (ApiError, OSError, ValueError):
                self.close_connection = True

    def _parse(self, raw: bytes, ctype: str) -> Any:
        if not raw.strip():
            raise errors.bad_request("the request body is empty; expected a Kubernetes object")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as je:
            if "yaml" not in ctype:
                raise errors.bad_request(f"the object provided is unrecognized: json parse "
                                         f"error: {je}") from None
        try:
            return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as ye:
            raise errors.bad_request(f"error converting YAML to JSON: {ye}") from None

    # --- verbs -------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        sim = self.server.sim
        path, _, qs = self.path.partition("?")
        q = dict(parse_qsl(qs, keep_blank_values=True))
        self._consumed = False
        try:
            token = sim.config.token
            if token and self.headers.get("Authorization", "") != f"Bearer {token}":
                self._body()
                raise errors.unauthorized()
            if path.startswith("/kubesim/"):
                self._control(method, path)
                return
            latency, action, code = sim.faults.decide()
            if latency:
                time.sleep(latency)
            if action == "reset":
                self._reset()
                return
            if action == "error" and code is not None:
                self._body()
                raise _fault_error(code)
            self._route(method, path, q)
        except ApiError as e:
            self._drain()
            self._error(e)
        except (ConnectionError, ssl.SSLError):
            self._reset()
        except Exception as e:  # noqa: BLE001 - a bug must answer 500, not drop the client
            sim.log_exception(f"{method} {path}", e)
            self._drain()
            self._error(ApiError(500, "InternalError", f"Internal error occurred: {e}"))

    # --- control endpoints -----------------------------------------------------------

    def _control(self, method: str, path: str) -> None:
        sim = self.server.sim
        if path == "/kubesim/faults":
            if method in ("POST", "PUT"):
                try:
                    sim.faults.apply_json(self._parse(self._body(), "json"))
                except (ValueError, TypeError) as e:
                    raise errors.bad_request(f"invalid fault settings: {e}") from None
            elif method == "DELETE":
                sim.faults.clear()
            self._json(200, sim.faults.snapshot())
            return
        if path == "/kubesim/controllers":
            if method in ("POST", "PUT"):
                try:
                    sim.controllers.configure_json(self._parse(self._body(), "json"))
                except (ValueError, TypeError, KeyError) as e:
                    raise errors.bad_request(f"invalid controller settings: {e}") from None
            self._json(200, sim.controllers.snapshot())
            return
        raise errors.resource_not_found()

    # --- routing --------------------------------------------------------------------

    def _route(self, method: str, path: str, q: dict[str, str]) -> None:
        sim = self.server.sim
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        if method == "GET" and len(parts) <= 1:
            self._root_get(path)
            return
        if not parts:
            raise errors.method_not_allowed(method)
        if parts[0] == "openapi" and method == "GET":
            self._openapi(parts[1:])
            return
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                doc = sim.registry.api_group(parts[1]) if method == "GET" else None
                if doc is None:
                    raise errors.resource_not_found()
                self._json(200, doc)
                return
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[0] in ("healthz", "readyz", "livez") and method == "GET":
            self._send(200, b"ok", "text/plain; charset=utf-8")
            return
        else:
            raise errors.resource_not_found()
        if not rest:
            doc = sim.registry.resource_list(group, version) if method == "GET" else None
            if doc is None:
                raise errors.resource_not_found()
            self._json(200, doc)
            return
        ns: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and sim.registry.lookup(
                group, version, rest[2]) is not None and rest[2] != "namespaces":
            ns, rest = rest[1], rest[2:]
        rt = sim.registry.lookup(group, version, rest[0])
        if rt is None or (ns is not None and not rt.namespaced) or len(rest) > 3:
            raise errors.resource_not_found()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if sub and not ((sub == "status" and rt.status) or (sub == "scale" and rt.scale) or
                        (sub == "log" and rt.key == ("", "pods") and method == "GET")):
            raise errors.resource_not_found()
        if rt.namespaced and ns is None and name is not None:
            raise errors.resource_not_found()
        self._resource(method, rt, ns, name, sub, q)

    def _root_get(self, path: str) -> None:
        sim = self.server.sim
        if path in ("/", ""):
            paths = sorted({"/api", "/api/v1", "/apis", "/version", "/openapi/v2", "/openapi/v3",
                            "/healthz", "/readyz", "/livez"} |
                           {f"/apis/{g}" for g in sim.registry.group_versions() if g})
            self._json(200, {"paths": paths})
            return
        if path == "/version":
            self._json(200, VERSION_INFO)
            return
        accept = self.headers.get("Accept", "")
        if path in ("/api", "/apis") and "as=APIGroupDiscoveryList" in accept and not any(
                a.split(";")[0].strip() in ("application/json", "*/*") and "as=" not in a
                for a in accept.split(",")):
            raise ApiError(406, "NotAcceptable", "only the legacy (unaggregated) discovery "
                           "documents are served; ask for application/json")
        if path == "/api":
            host = self.headers.get("Host", "127.0.0.1")
            self._json(200, sim.registry.api_versions(host))
        elif path == "/apis":
            self._json(200, sim.registry.api_group_list())
        elif path in ("/healthz", "/readyz", "/livez"):
            self._send(200, b"ok", "text/plain; charset=utf-8")
        else:
            raise errors.resource_not_found()

    def _openapi(self, rest: list[str]) -> None:
        sim = self.server.sim
        accept = self.headers.get("Accept", "")
        if rest == ["v2"]:
            if "json" not in accept and "*/*" not in accept and accept:
                raise ApiError(406, "NotAcceptable", "only application/json is served for "
                               "/openapi/v2")
            self._json(200, sim.openapi_v2())
            return
        if rest == ["v3"]:
            gvs = [(g, v) for g, vs in sim.registry.group_versions().items() for v in vs]
            self._json(200, sim.schema.openapi_v3_index(gvs))
            return
        if len(rest) >= 3 and rest[0] == "v3":
            if rest[1] == "api" and len(rest) == 3:
                group, version = "", rest[2]
            elif rest[1] == "apis" and len(rest) == 4:
                group, version = rest[2], rest[3]
            else:
                raise errors.resource_not_found()
            if sim.registry.resource_list(group, version) is None:
                raise errors.resource_not_found()
            doc = sim.openapi_v3_doc(group, version)
            if doc is None:
                raise errors.resource_not_found()
            self._json(200, doc)
            return
        raise errors.resource_not_found()

    # --- resources -----------------------------------------------------------------

    def _manager(self, q: dict[str, str]) -> str:
        m = q.get("fieldManager")
        if m:
            return m
        ua = self.headers.get("User-Agent", "unknown")
        return ua.split("/")[0] or "unknown"

    def _resource(self, method: str, rt: ResourceType, ns: str | None, name: str | None,
                  sub: str, q: dict[str, str]) -> None:
        sim = self.server.sim
        api = sim.api
        dry = q.get("dryRun") == "All"
        if "dryRun" in q and q["dryRun"] not in ("All", ""):
            raise errors.bad_request(f'unsupported dryRun value "{q["dryRun"]}"; only "All"')
        manager = self._manager(q)
        if method != "GET":
            api.begin_request(q.get("fieldValidation"))
        if method == "GET":
            if name is None:
                if q.get("watch") in ("true", "1"):
                    self._watch(rt, ns, q)
                else:
                    self._list(rt, ns, q)
                return
            entry = api.get(rt, ns or "", name)
            if sub == "log":
                self._send(200, pod_log(entry.obj, q.get("container")),
                           "text/plain; charset=utf-8")
                return
            if sub == "scale":
                self._json(200, scale_of(rt, entry.obj))
                return
            if self._wants_table():
                self._json(200, tables.table(rt, [entry.obj], None, single=True))
                return
            self._json(200, render(rt, entry))
            return
        if method == "DELETE":
            if name is None:
                self._delete_collection(rt, ns, q, dry)
                return
            raw = self._body()
            opts = self._parse(raw, "json") if raw.strip() else {}
            if not isinstance(opts, dict):
                raise errors.bad_request("DeleteOptions must be a JSON object")
            if "propagationPolicy" in q:
                opts["propagationPolicy"] = q["propagationPolicy"]
            if opts.get("dryRun") == ["All"]:
                dry = True
            code, obj = api.delete(rt, ns or "", name, opts, dry_run=dry)
            self._json(code, obj)
            return
        raw = self._body()
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if method == "POST":
            if name is not None:
                raise errors.method_not_allowed("POST")
            obj = api.create(rt, ns or "", self._object_body(raw, ctype), manager=manager,
                             dry_run=dry)
            self._json(201, obj)
            return
        if name is None:
            raise errors.method_not_allowed(method)
        if method == "PUT":
            body = self._object_body(raw, ctype)
            if sub == "scale":
                obj = sim.api_scale(rt, ns or "", name, body, manager, dry)
                self._json(200, obj)
                return
            obj = api.update(rt, ns or "", name, body, manager=manager, subresource=sub,
                             dry_run=dry)
            self._json(200, obj)
            return
        if method == "PATCH":
            if ctype not in (JSON_PATCH, MERGE_PATCH, SMP, APPLY, APPLY_CBOR):
                accepted = [JSON_PATCH, MERGE_PATCH, APPLY] + ([SMP] if rt.builtin else [])
                raise errors.unsupported_media_type(ctype, accepted)
            if ctype == SMP and not rt.builtin:
                raise errors.unsupported_media_type(ctype, [JSON_PATCH, MERGE_PATCH, APPLY])
            patch = self._parse(raw, "yaml" if ctype == APPLY else "json")
            force = q.get("force") in ("true", "1")
            if sub == "scale":
                obj = sim.patch_scale(rt, ns or "", name, ctype, patch, manager, dry)
                self._json(200, obj)
                return
            code, obj = api.patch(rt, ns or "", name, ctype, patch, manager=manager,
                                  subresource=sub, force=force, dry_run=dry)
            self._json(code, obj)
            return
        raise errors.method_not_allowed(method)

    def _object_body(self, raw: bytes, ctype: str) -> Any:
        """Decode a POST/PUT body: JSON, YAML, or the protobuf kubectl's generators send."""
        if ctype == PROTOBUF:
            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as e:
                raise ApiError(415, "UnsupportedMediaType", str(e)) from None
        if ctype not in ("application/json", "application/yaml", "*/*", ""):
            raise errors.unsupported_media_type(ctype, ["application/json", "application/yaml",
                                                        PROTOBUF])
        return self._parse(raw, ctype)

    def _wants_table(self) -> bool:
        return "as=Table" in self.headers.get("Accept", "")

    def _list(self, rt: ResourceType, ns: str | None, q: dict[str, str]) -> None:
        sim = self.server.sim
        match = build_matcher(q.get("labelSelector"), q.get("fieldSelector"), rt.kind)
        limit = int(q.get("limit") or 0)
        items, rv, cont, remaining = sim.list_entries(rt, ns, match, limit, q.get("continue"))
        if self._wants_table():
            self._json(200, tables.table(rt, [e.obj for e in items], rv, cont=cont))
            return
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if cont:
            meta["continue"] = cont
            meta["remainingItemCount"] = remaining
        head = orjson.dumps({"kind": rt.kind + "List", "apiVersion": rt.api_version,
                             "metadata": meta})
        body = head[:-1] + b',"items":[' + b",".join(render(rt, e) for e in items) + b"]}"
        self._send(200, body)

    def _delete_collection(self, rt: ResourceType, ns: str | None, q: dict[str, str],
                           dry: bool) -> None:
        sim = self.server.sim
        raw = self._body()
        opts = self._parse(raw, "json") if raw.strip() else {}
        match = build_matcher(q.get("labelSelector"), q.get("fieldSelector"), rt.kind)
        items, rv, _, _ = sim.list_entries(rt, ns, match, 0, None)
        deleted = []
        for e in items:
            m = e.obj["metadata"]
            try:
                _, obj = sim.api.delete(rt, m.get("namespace", ""), m["name"], opts, dry_run=dry)
            except ApiError as err:
                if err.code != 404:
                    raise
                continue
            deleted.append(e.obj)
        self._json(200, {"kind": rt.kind + "List", "apiVersion": rt.api_version,
                         "metadata": {"resourceVersion": str(sim.store.rv)}, "items": deleted})

    def _watch(self, rt: ResourceType, ns: str | None, q: dict[str, str]) -> None:
        sim = self.server.sim
        match = build_matcher(q.get("labelSelector"), q.get("fieldSelector"), rt.kind)
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Cache-Control: no-cache, private\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")

        def write(data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        try:
            serve_watch(sim, rt, ns, match, q, write, self.connection, self._wants_table())
        except ApiError as e:
            write(b'{"type":"ERROR","object":' + orjson.dumps(e.status()) + b"}\n")
        except ConnectionAbortedError:
            self._reset()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.log_request(200)


def _fault_error(code: int) -> ApiError:
    reasons = {429: ("TooManyRequests", "Too many requests, please try again later."),
               500: ("InternalError", "Internal error occurred: injected fault"),
               502: ("InternalError", "Bad gateway: injected fault"),
               503: ("ServiceUnavailable", "The server is currently unavailable"),
               504: ("Timeout", "The server was unable to return a response in the time "
                                "allotted, but may still be processing the request")}
    reason, msg = reasons[code]
    return ApiError(code, reason, msg, retry_after=1 if code in (429, 503, 504) else None)


def pod_log(pod: dict[str, Any], container: str | None) -> bytes:
    """What `kubectl logs` shows for a simulated pod: one line saying what it did."""
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    if container and container not in names:
        raise errors.bad_request(f"container {container} is not valid for pod "
                                 f"{pod['metadata']['name']}")
    name = container or (names[0] if names else "")
    phase = (pod.get("status") or {}).get("phase", "Pending")
    if phase == "Pending":
        raise errors.bad_request(f'container "{name}" in pod "{pod["metadata"]["name"]}" is '
                                 "waiting to start: ContainerCreating")
    return (f"kubesim: simulated container {name} of pod {pod['metadata']['name']} "
            f"({phase}); no real process runs, so there is no output\n").encode()


def scale_of(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of a scalable object."""
    meta = obj["metadata"]
    sel = (obj.get("spec") or {}).get("selector") or {}
    sel_str = ",".join(f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items())
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                "creationTimestamp") if k in meta},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": sel_str}}
