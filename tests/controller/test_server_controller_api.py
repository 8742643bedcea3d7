"""The HTTP API served by the controller (``ControllerBackend``): reads, actions, webhooks, the command."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from controller_harness import Harness, configmaps, git, git_daemon, stop_daemon, wait_for, served_repo

from syncwright.commands.controller import serve

TOKEN = "t0ken-0123456789abcdef"
SECRET = "webhook-secret-123"
APPS = "/api/v1/applications"
PASSWORD = base64.b64encode(b"hunter2-in-git").decode()


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {TOKEN}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.s.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.s.post(self.url + path, json=body if body is not None else {}, timeout=30, **kw)


@pytest.fixture
def served(harness: Harness) -> Iterator[tuple[Harness, Any]]:
    """The harness and ``start()``: a running controller with the API on an ephemeral port (as ``--listen``)."""
    servers: list[Any] = []

    def start(**settings: Any) -> tuple[Any, Api]:
        running = harness.start(**settings)
        srv = serve(running.controller, ("127.0.0.1", 0), [TOKEN], {"github": SECRET}, 1024 * 1024)
        servers.append(srv)
        return running, Api(srv.url)

    yield harness, start
    for srv in servers:
        srv.stop()


def _secret_manifest() -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                           "data": {"password": PASSWORD}})


def test_reads_and_actions_over_the_running_controller(served: Any) -> None:
    h, start = served
    h.files("web", {**configmaps(2), "secret.yaml": _secret_manifest()})
    app = h.app("web", "web")
    running, api = start()
    wait_for(lambda: h.sync_health(app)[0] == "OutOfSync", 20, "compared")

    assert requests.get(api.url + APPS, timeout=10).status_code == 401
    assert requests.get(api.url + "/readyz", timeout=10).json()["status"] == "ready"
    items = api.get(APPS).json()["items"]
    row = next(i for i in items if i["name"] == app)
    assert (row["syncStatus"], row["healthStatus"], row["syncPolicy"]) == ("OutOfSync", "Missing", "Manual")
    assert api.get(APPS + "/nope").status_code == 404

    git_objs = api.get(f"{APPS}/{app}/manifests", params={"source": "git"}).json()["items"]
    secret = next(o for o in git_objs if o["kind"] == "Secret")
    assert PASSWORD not in json.dumps(git_objs) and secret["data"]["password"] != PASSWORD  # masked
    diff = api.get(f"{APPS}/{app}/diff").json()
    assert diff["syncStatus"] == "OutOfSync" and {r["name"] for r in diff["resources"]} == {"cm0", "cm1", "db"}
    assert "hunter2" not in json.dumps(diff)

    resp = api.post(f"{APPS}/{app}/sync", {"prune": False})
    assert resp.status_code == 202, resp.text
    op_id = resp.json()["operationId"]
    assert op_id
    wait_for(lambda: h.sync_health(app) == ("Synced", "Healthy"), 20, "synced through the API")
    detail = api.get(f"{APPS}/{app}").json()
    assert detail["summary"]["syncStatus"] == "Synced"
    assert detail["operation"]["id"] == op_id and detail["operation"]["phase"] == "Succeeded"
    assert [x["operationId"] for x in detail["history"]] == [op_id]
    assert {r["name"] for r in detail["resources"]} == {"cm0", "cm1", "db"}
    tree = api.get(f"{APPS}/{app}/resource-tree").json()["nodes"]
    assert {n["name"] for n in tree} >= {"cm0", "cm1", "db"} and all(n["uid"] for n in tree)
    live = api.get(f"{APPS}/{app}/manifests", params={"source": "live"}).json()["items"]
    assert {o["metadata"]["name"] for o in live} == {"cm0", "cm1", "db"} and PASSWORD not in json.dumps(live)

    assert api.post(f"{APPS}/{app}/sync", {"revision": "v2"}).status_code == 400  # not silently ignored
    assert api.post(f"{APPS}/{app}/rollback", {"id": 99}).status_code == 400
    assert api.post(f"{APPS}/{app}/refresh", {"hard": True}).status_code == 202
    assert api.s.delete(f"{api.url}{APPS}/{app}/operation", timeout=10).status_code == 409  # nothing runs

    h.files("web", {"cm1.yaml": None})
    assert api.post(f"{APPS}/{app}/refresh").status_code == 202
    wait_for(lambda: api.get(f"{APPS}/{app}").json()["summary"]["syncStatus"] == "OutOfSync", 10, "refreshed")
    rb = api.post(f"{APPS}/{app}/rollback", {"id": detail["history"][0]["id"]})
    assert rb.status_code == 202, rb.text
    wait_for(lambda: len(api.get(f"{APPS}/{app}").json()["history"]) == 2, 20, "rollback recorded")
    assert api.get(f"{APPS}/{app}/operation").json()["kind"] == "rollback"
    running.stop()
    ready = requests.get(api.url + "/readyz", timeout=10)
    assert ready.status_code == 503 and "not running" in ready.json()["reason"]


def _push_body(url: str, ref: str = "refs/heads/main", sha: str = "0" * 40) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"ref": ref, "after": sha, "repository": {
        "html_url": url.replace("git://", "https://").removesuffix(".git"), "clone_url": url,
        "default_branch": "main"}}).encode()
    sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sig,
                  "Content-Type": "application/json"}


@pytest.mark.slow
def test_signed_webhook_gets_the_new_commit_synced(served: Any, tmp_path: Path) -> None:
    h, start = served
    work, daemon, port = served_repo(tmp_path, "hook", configmaps(2))
    try:
        url = f"git://127.0.0.1:{port}/hook.git"
        app = h.app("hook", "app", repo_url=url, auto={"prune": True},
                    extra={"source": {"repoURL": url, "path": "app", "targetRevision": "main"}})
        manual = h.app("elsewhere", "app", repo_url=url + "-other", auto={})
        # a long resync: only the webhook can make the controller see the new commit quickly
        _running, api = start(resync=3600)
        srv = api
        if True:
            wait_for(lambda: h.sync_health(app) == ("Synced", "Healthy"), 20, "first commit synced")
            first = h.status(app)["sync"]["revision"]
            for name, text in configmaps(2, value="new").items():
                (work / "app" / name).write_text(text)
            git("commit", "-q", "-am", "two", cwd=work)
            git("push", "-q", str(tmp_path / "served" / "hook.git"), "HEAD:refs/heads/main", cwd=work)
            sha = git("rev-parse", "HEAD", cwd=work)

            body, headers = _push_body(url, sha=sha)
            bad = requests.post(srv.url + "/api/webhook", data=body, timeout=10,
                                headers={**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64})
            assert bad.status_code == 401
            time.sleep(1.0)
            assert h.status(app)["sync"]["revision"] == first  # nothing refreshed by a forged delivery

            t0 = time.monotonic()
            resp = requests.post(srv.url + "/api/webhook", data=body, headers=headers, timeout=10)
            assert resp.status_code == 200, resp.text
            assert resp.json()["refreshed"] == [app] and manual not in resp.json()["refreshed"]
            wait_for(lambda: h.status(app)["sync"]["revision"] == sha and h.sync_health(app)[0] == "Synced",
                     10, "new commit synced")
            elapsed = time.monotonic() - t0
            print(f"webhook to Synced at the new commit: {elapsed:.2f}s")
            assert elapsed < 5
            assert (h.live("ConfigMap", "cm0") or {}).get("data") == {"k": "new0"}
    finally:
        stop_daemon(daemon)


def test_controller_command_serves_the_api_with_json_logs(harness: Harness) -> None:
    h = harness
    h.files("cmdapi", configmaps(1))
    app = h.app("cmdapi", "cmdapi", auto={})
    token = h.tmp / "token"
    token.write_text(TOKEN + "\n")
    secrets = h.tmp / "secrets.yaml"
    secrets.write_text(yaml.safe_dump({"webhook.github.secret": SECRET}))
    proc = h.spawn("--listen", "127.0.0.1:0", "--token-file", str(token), "--webhook-secrets", str(secrets))
    assert proc.stderr is not None
    lines: list[dict[str, Any]] = []
    url = ""
    end = time.monotonic() + 30
    while not url and time.monotonic() < end:
        line = proc.stderr.readline()
        if not line:
            break
        if line.startswith("{"):
            lines.append(json.loads(line))
        m = re.search(r"serving on (http://127\.0\.0\.1:\d+)", line)
        url = m.group(1) if m else ""
    assert url, f"the controller did not serve: {lines}"
    api = Api(url)
    wait_for(lambda: h.sync_health(app) == ("Synced", "Healthy"), 20, "synced by the command")
    assert requests.get(url + "/readyz", timeout=10).status_code == 200
    assert [i["syncStatus"] for i in api.get(APPS).json()["items"] if i["name"] == app] == ["Synced"]
    text = requests.get(url + "/metrics", timeout=10).text
    assert re.search(rf'syncwright_app_info\{{[^}}]*name="{app}"[^}}]*sync_status="Synced"', text), text[:2000]
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]
    lines += [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    ops = [x for x in lines if x.get("app") == app and x.get("operation_id")]
    assert ops and all(x.get("revision") is not None for x in ops), lines


def test_listen_without_a_token_is_a_clear_error(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNCWRIGHT_API_TOKEN", raising=False)
    proc = harness.spawn("--listen", "127.0.0.1:0", env={"SYNCWRIGHT_API_TOKEN": ""})
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "token" in err and "Traceback" not in err
    bad = harness.spawn("--listen", "nope", "--token-file", __file__)
    _out, err = bad.communicate(timeout=30)
    assert bad.returncode != 0 and "HOST:PORT" in err


def test_a_second_operation_is_a_conflict_and_unknown_apps_are_not_found() -> None:
    from types import SimpleNamespace

    from syncwright.server.backend import Conflict, NotFound, SyncOptions
    from syncwright.server.controller_backend import ControllerBackend

    queued: list[str] = []
    entry = SimpleNamespace(name="a", app=object(), error="")
    controller = SimpleNamespace(apps={"a": SimpleNamespace(entry=entry)},
                                 operations=SimpleNamespace(active=lambda name: True),
                                 sync=lambda name, req: queued.append(name))
    backend = ControllerBackend(controller)
    with pytest.raises(Conflict, match="already queued or running"):
        backend.sync("a", SyncOptions())
    assert queued == []
    with pytest.raises(NotFound):
        backend.sync("b", SyncOptions())
    assert backend.get_app("b") is None
