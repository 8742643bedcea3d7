"""Helm repository HTTP: credentials never follow a redirect to another host (CVE-2021-32690's class)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from syncwright.repo.creds import Credentials
from syncwright.repo.helmrepo import _get


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []
    redirect_to: str | None = None

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if type(self).redirect_to:
            self.send_response(302)
            self.send_header("Location", type(self).redirect_to + self.path)
            self.end_headers()
            return
        body = b"apiVersion: v1\nentries: {}\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> tuple[http.server.ThreadingHTTPServer, int]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


@pytest.fixture
def servers() -> Iterator[tuple[type[_Recorder], type[_Recorder], int, int]]:
    origin = type("Origin", (_Recorder,), {"seen": [], "redirect_to": None})
    other = type("Other", (_Recorder,), {"seen": [], "redirect_to": None})
    a, pa = _serve(origin)
    b, pb = _serve(other)
    yield origin, other, pa, pb
    a.shutdown()
    b.shutdown()


def test_auth_is_not_forwarded_to_another_host(servers: Any) -> None:
    origin, other, pa, pb = servers
    origin.redirect_to = f"http://localhost:{pb}"  # a different host name: another origin
    creds = Credentials(username="deploy", password="s3cret-pass")
    data = _get(f"http://127.0.0.1:{pa}/index.yaml", creds, limit=1 << 20)
    assert b"entries" in data
    assert origin.seen[0][1] is not None and origin.seen[0][1].startswith("Basic ")
    assert other.seen == [("/index.yaml", None)]


def test_auth_follows_a_same_host_redirect(servers: Any) -> None:
    origin, _other, pa, _pb = servers

    class Once(_Recorder):
        seen: list[tuple[str, str | None]] = []

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/old/index.yaml":
                Once.seen.append((self.path, self.headers.get("Authorization")))
                self.send_response(301)
                self.send_header("Location", "/index.yaml")
                self.end_headers()
                return
            super().do_GET()

    srv, port = _serve(Once)
    try:
        _get(f"http://127.0.0.1:{port}/old/index.yaml", Credentials(username="u", password="p4ssword"), limit=1 << 20)
        assert [h is not None for _, h in Once.seen] == [True, True]
    finally:
        srv.shutdown()
