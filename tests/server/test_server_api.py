"""The HTTP API over an in-memory backend: auth, every route, masking, limits, the spec."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from syncwright.server.api import Api, openapi_text
from syncwright.server.http import Auth


def test_every_api_route_needs_the_token(api: Any) -> None:
    for method, path in [("get", "/api/v1/applications"), ("get", "/api/v1/applications/guestbook"),
                         ("get", "/api/v1/applications/guestbook/diff"), ("post", "/api/v1/applications/guestbook/sync"),
                         ("delete", "/api/v1/applications/guestbook/operation")]:
        r = getattr(api, method)(path, auth=False)
        assert r.status_code == 401, (method, path)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert r.json()["code"] == 401
        bad = getattr(api, method)(path, headers={"Authorization": "Bearer " + api.token[:-1] + "x"})
        assert bad.status_code == 401
        basic = getattr(api, method)(path, headers={"Authorization": api.token})
        assert basic.status_code == 401
    assert api.backend.synced == [] and api.backend.terminated == []
    assert api.get("/api/v1/applications").status_code == 200


def test_auth_rejects_short_or_missing_tokens() -> None:
    with pytest.raises(ValueError, match="too short"):
        Auth(["short"])
    with pytest.raises(ValueError, match="no API token"):
        Auth([""])
    auth = Auth(["a" * 32, "b" * 32])  # two tokens during a rotation
    assert auth.check("Bearer " + "b" * 32) and auth.check("bearer " + "a" * 32)
    assert not auth.check("Bearer " + "c" * 32) and not auth.check("") and not auth.check("Bearer ")


def test_list_and_get(api: Any) -> None:
    items = api.get("/api/v1/applications").json()["items"]
    assert [a["name"] for a in items] == ["guestbook", "helm-app", "tagged"]
    assert items[0]["syncStatus"] == "OutOfSync" and items[0]["healthStatus"] == "Healthy"
    assert items[2]["conditions"] == [{"type": "SharedResourceWarning", "message": "shared", "lastTransition": ""}]
    assert [a["name"] for a in api.get("/api/v1/applications?name=helm-app").json()["items"]] == ["helm-app"]
    detail = api.get("/api/v1/applications/guestbook").json()
    assert detail["summary"]["name"] == "guestbook"
    assert {r["kind"] for r in detail["resources"]} == {"Secret", "Deployment"}
    assert detail["history"][0]["id"] == 1 and detail["operation"] is None
    tree = api.get("/api/v1/applications/guestbook/resource-tree").json()["nodes"]
    assert tree[1]["parentUids"] == ["u1"]
    assert api.get("/api/v1/applications/guestbook/history").json()["items"][0]["revision"] == "a" * 40
    r = api.get("/api/v1/applications/nope")
    assert r.status_code == 404 and "nope" in r.json()["error"]
    for sub in ("resource-tree", "diff", "manifests", "history", "operation"):
        assert api.get(f"/api/v1/applications/nope/{sub}").status_code == 404, sub


def test_get_with_refresh(api: Any) -> None:
    assert api.get("/api/v1/applications/guestbook?refresh=hard").status_code == 200
    assert api.backend.refreshed == [("guestbook", True)]
    assert api.get("/api/v1/applications/guestbook?refresh=bogus").status_code == 400


def test_secrets_are_masked_in_diff_manifests_and_get(api: Any) -> None:
    for path in ("/api/v1/applications/guestbook/diff", "/api/v1/applications/guestbook/manifests",
                 "/api/v1/applications/guestbook/manifests?source=live", "/api/v1/applications/guestbook"):
        text = api.get(path).text
        assert api.SECRET_VALUE not in text and api.LIVE_SECRET_VALUE not in text, path
        assert "hunter2" not in text and "old-password" not in text
    diff = api.get("/api/v1/applications/guestbook/diff").json()
    sec = diff["resources"][0]
    assert sec["live"]["data"]["password"].startswith("++++++++")
    assert sec["live"]["data"]["password"] != sec["target"]["data"]["password"]  # a change still shows
    assert "password" in sec["diff"] and sec["diff"].startswith("--- live/Secret/demo/db")
    assert diff["resources"][1]["diff"] == ""
    live = api.get("/api/v1/applications/guestbook/manifests?source=live").json()["items"]
    assert "++++" in live[0]["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert live[1]["items"][0]["data"]["password"].startswith("+")  # nested in a List too
    assert live[2]["data"] == {"k": "visible"}  # ConfigMaps are not Secrets
    assert api.get("/api/v1/applications/guestbook/manifests?source=cluster").status_code == 400


def test_sync_refresh_rollback_terminate(api: Any) -> None:
    r = api.post("/api/v1/applications/guestbook/sync",
                 json={"prune": True, "dryRun": False, "resources": ["apps:Deployment:web"], "timeout": 30})
    assert r.status_code == 202 and r.json() == {"operationId": "op-1"}
    name, opts = api.backend.synced[0]
    assert name == "guestbook" and opts.prune and opts.resources == ("apps:Deployment:web",) and opts.timeout == 30
    assert api.post("/api/v1/applications/guestbook/sync").status_code == 409  # one operation at a time
    op = api.get("/api/v1/applications/guestbook/operation").json()
    assert op["id"] == "op-1" and op["phase"] == "Running"
    assert api.delete("/api/v1/applications/guestbook/operation").status_code == 202
    assert api.backend.terminated == ["guestbook"]
    assert api.delete("/api/v1/applications/helm-app/operation").status_code == 409
    assert api.get("/api/v1/applications/helm-app/operation").status_code == 404
    assert api.post("/api/v1/applications/helm-app/refresh", json={"hard": True}).status_code == 202
    assert api.post("/api/v1/applications/helm-app/refresh?hard=false").status_code == 202
    assert api.backend.refreshed == [("helm-app", True), ("helm-app", False)]
    assert api.post("/api/v1/applications/helm-app/rollback", json={"id": 7}).status_code == 400
    api.backend.apps["guestbook"].operation = None
    r = api.post("/api/v1/applications/guestbook/rollback", json={"id": 1, "prune": True})
    assert r.status_code == 202 and api.backend.synced[-1][1].prune


@pytest.mark.parametrize("body", [b"[1]", b"{not json", b'{"prune": "maybe"}', b'{"resources": "x"}',
                                  b'{"timeout": -1}', b'{"revision": 3}'])
def test_bad_sync_bodies_are_400(api: Any, body: bytes) -> None:
    r = api.post("/api/v1/applications/guestbook/sync", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]
    assert api.backend.synced == []


def test_unknown_route_and_method(api: Any) -> None:
    assert api.get("/api/v1/nothing").status_code == 404
    r = api.delete("/api/v1/applications/guestbook")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]


def _raw(url: str, request: bytes) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def test_oversized_body_is_refused_before_reading(api: Any) -> None:
    # Only the headers are sent: the server must answer 413 without waiting for 100 MB.
    head = (f"POST /api/v1/applications/guestbook/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n").encode()
    reply = _raw(api.url, head)
    assert reply.startswith(b"HTTP/1.1 413") and b"exceeds the limit" in reply
    chunked = (f"POST /api/v1/applications/guestbook/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
               "Transfer-Encoding: chunked\r\n\r\n").encode()
    assert _raw(api.url, chunked).startswith(b"HTTP/1.1 411")
    assert api.backend.synced == []


def test_connections_beyond_the_cap_get_503(api: Any) -> None:
    from syncwright.server.http import Server

    server = Server(api.server_app, max_connections=2).start()
    parts = urlsplit(server.url)
    idle = [socket.create_connection((parts.hostname, parts.port), timeout=5) for _ in range(2)]
    try:
        time.sleep(0.1)  # both are being served (waiting for a request line)
        with socket.create_connection((parts.hostname, parts.port), timeout=5) as third:
            assert third.recv(1024).startswith(b"HTTP/1.1 503")
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 5
    while True:  # the slots come back once the idle connections are gone
        reply = _raw(server.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        if reply.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    server.stop()
    assert reply.startswith(b"HTTP/1.1 200")


def test_every_route_is_in_the_spec_and_vice_versa() -> None:
    spec = yaml.safe_load(openapi_text())
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m != "parameters"}
    implemented = {(r.method, r.template) for r in Api(None).router().routes}  # type: ignore[arg-type]
    assert implemented == documented
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary") and op.get("responses"), (method, path)
            public = op.get("security") == []
            assert public == (path in ("/healthz", "/readyz", "/metrics", "/openapi.yaml", "/api/webhook"))


def test_spec_is_served(api: Any) -> None:
    r = api.get("/openapi.yaml", auth=False)
    assert r.status_code == 200 and yaml.safe_load(r.text)["openapi"].startswith("3.")
