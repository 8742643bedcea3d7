"""The sidecar protocol, version 1: HTTP/1.1 over a Unix socket (documented in README.md).

Requests carry the header ``Syncwright-CMP-Protocol: 1``. ``GET /v1/info`` is
the handshake (plugin name, version, discover rule, protocol version).
``POST /v1/discover``, ``/v1/generate`` and ``/v1/parameters`` take one body:
a single line of JSON metadata, a newline, then (when the call needs the
tree) the repository as tar.gz. Answers are JSON: the result, or
``{"error": {"type": ..., "message": ...}}`` with a 4xx/5xx status, which
the client turns back into the same syncwright error type.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from syncwright.api import ManifestError, PathEscapeError, RenderError, SpecError, SyncwrightError, ToolError

PROTOCOL_VERSION = 1
HEADER = "Syncwright-CMP-Protocol"
MAX_META_BYTES = 4 * 1024 * 1024
MAX_RESPONSE_BYTES = 256 * 1024 * 1024

ERROR_TYPES: dict[str, type[SyncwrightError]] = {
    "SpecError": SpecError,
    "RenderError": RenderError,
    "ToolError": ToolError,
    "ManifestError": ManifestError,
    "PathEscapeError": PathEscapeError,
}


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over an AF_UNIX socket: the host name is only a label."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def encode_meta(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, separators=(",", ":")).encode() + b"\n"


def call(
    socket_path: Path,
    method: str,
    path: str,
    *,
    body: Iterable[bytes] | None = None,
    length: int = 0,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """One request; returns the JSON answer or raises the error the sidecar reported."""
    status, ctype, raw = _exchange(socket_path, method, path, body, length, timeout)
    return _json(socket_path, status, raw)


def call_raw(
    socket_path: Path, method: str, path: str, *, body: Iterable[bytes], length: int, timeout: float
) -> bytes:
    """A request whose success answer is the plugin's output stream (``/v1/generate``)."""
    status, ctype, raw = _exchange(socket_path, method, path, body, length, timeout)
    if status == 200 and ctype.startswith("application/yaml"):
        return raw
    _json(socket_path, status, raw)
    raise RenderError(f"answered HTTP {status} with {ctype or 'no content type'}, expected the plugin output",
                      context=f"CMP sidecar {socket_path}")


def _exchange(
    socket_path: Path, method: str, path: str, body: Iterable[bytes] | None, length: int, timeout: float
) -> tuple[int, str, bytes]:
    """Send one request, read the whole answer.

    A socket that is gone, refuses, times out or answers something that is
    not this protocol becomes a RenderError naming the socket.
    """
    where = f"CMP sidecar {socket_path}"
    conn = UnixHTTPConnection(str(socket_path), timeout)
    try:
        headers = {HEADER: str(PROTOCOL_VERSION)}
        if body is not None:
            headers["Content-Type"] = "application/x-syncwright-cmp"
            headers["Content-Length"] = str(length)
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        try:
            for chunk in body or ():
                conn.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (e.g. a size cap) and stopped reading: read its answer
        resp = conn.getresponse()
        raw = resp.read(MAX_RESPONSE_BYTES + 1)
        status = resp.status
        ctype = resp.getheader("Content-Type") or ""
    except FileNotFoundError:
        raise RenderError("socket is gone (no such file); is the cmp-server running?", context=where) from None
    except ConnectionRefusedError:
        raise RenderError("socket refuses connections (stale socket?); is the cmp-server running?", context=where) from None
    except TimeoutError:
        raise RenderError(f"no answer within {timeout:g}s", context=where) from None
    except (http.client.HTTPException, OSError) as e:
        raise RenderError(f"answered garbage, not the syncwright CMP protocol ({type(e).__name__}: {e})", context=where) from None
    finally:
        conn.close()
    if len(raw) > MAX_RESPONSE_BYTES:
        raise RenderError(f"answer is larger than {MAX_RESPONSE_BYTES} bytes", context=where)
    return status, ctype, raw


def _json(socket_path: Path, status: int, raw: bytes) -> dict[str, Any]:
    where = f"CMP sidecar {socket_path}"
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError:
        snippet = raw[:80].decode("utf-8", errors="replace")
        raise RenderError(f"answered garbage, not the syncwright CMP protocol (HTTP {status}: {snippet!r})", context=where) from None
    err = data.get("error")
    if status >= 400 or err is not None:
        if not isinstance(err, dict) or not isinstance(err.get("message"), str):
            raise RenderError(f"answered HTTP {status} without a structured error", context=where)
        cls = ERROR_TYPES.get(str(err.get("type")), RenderError)
        raise cls(err["message"], context=where)
    return data


def error_body(e: BaseException) -> tuple[int, dict[str, Any]]:
    """The status and JSON for an error on the server side."""
    if isinstance(e, SyncwrightError):
        name = next((n for n, c in ERROR_TYPES.items() if type(e) is c), None)
        if name is None:
            name = next((n for n, c in ERROR_TYPES.items() if isinstance(e, c)), "RenderError")
        status = 400 if isinstance(e, (SpecError, PathEscapeError)) else 422
        if "cap" in str(e) and name == "RenderError":
            status = 413
        return status, {"error": {"type": name, "message": str(e)}}
    return 500, {"error": {"type": "RenderError", "message": f"cmp-server internal error: {type(e).__name__}: {e}"}}
