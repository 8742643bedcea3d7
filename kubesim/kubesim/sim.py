"""The simulator handle: storage, API semantics, controllers, faults and the HTTP server."""

from __future__ import annotations

import base64
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from . import errors
from ._deps import PatchError, Schema, apply_json_patch, apply_merge_patch
from .api import JSON_PATCH, Api
from .controllers import ControllerManager
from .faults import Faults
from .registry import Registry, ResourceType
from .selectors import Matcher
from .server import Server, scale_of
from .store import Entry, Store

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class Config:
    token: str | None = None
    tls: bool | None = None              # None: HTTPS exactly when a token is set
    watch_timeout: float = 1800.0        # server-side cap on a watch without timeoutSeconds
    bookmark_interval: float = 5.0       # seconds between BOOKMARK events when allowed
    log_requests: bool = False
    event_log_size: int = 20000          # watch history; older resourceVersions get 410
    controllers: bool = True
    controller_delays: dict[str, float] = field(default_factory=dict)


class Simulator:
    """One in-memory Kubernetes API server."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self.store = Store(self.config.event_log_size)
        self.registry = Registry()
        self.schema = Schema()
        self.api = Api(self.store, self.registry, self.schema)
        self.faults = Faults()
        self.controllers = ControllerManager(self.api, self.config.controller_delays)
        self.stopping = False
        self.internal_errors: list[str] = []  # 500s caused by kubesim bugs (tests assert none)
        self._httpd: Server | None = None
        self._thread: threading.Thread | None = None
        self._openapi_cache: dict[tuple[str, str], bytes] = {}
        for ns in INITIAL_NAMESPACES:
            self.api.create(self.registry.lookup("", "v1", "namespaces"),  # type: ignore[arg-type]
                            "", {"apiVersion": "v1", "kind": "Namespace",
                                 "metadata": {"name": ns}}, manager="kube-apiserver")
        svc = self.registry.lookup("", "v1", "services")
        assert svc is not None
        self.api.create(svc, "default", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver",
                                                          "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                "targetPort": 6443}]}}, manager="kube-apiserver")
        if self.config.controllers:
            self.controllers.start()

    # --- lifecycle ---------------------------------------------------------------

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Serve HTTP on `host:port` (0 = ephemeral) in a background thread; returns the URL."""
        ctx = None
        if self.tls_enabled:
            from .tls import server_context
            ctx = server_context()
        self._httpd = Server((host, port), self, ctx)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.2}, daemon=True,
                                        name="kubesim-http")
        self._thread.start()
        return self.url

    @property
    def tls_enabled(self) -> bool:
        return bool(self.config.token) if self.config.tls is None else self.config.tls

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("kubesim is not serving; call start() first")
        host, port = self._httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"{'https' if self.tls_enabled else 'http'}://{host}:{port}"

    def stop(self) -> None:
        self.stopping = True
        self.controllers.stop()
        with self.store.lock:
            self.store.changed.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.close_all()
            self._httpd = None

    def write_kubeconfig(self, path: str | Path, context: str = "kubesim") -> Path:
        """Write a kubeconfig pointing at this server (with its bearer token, if any)."""
        user: dict[str, Any] = {"token": self.config.token} if self.config.token else {}
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls_enabled:
            from .tls import certificate
            cluster["certificate-authority-data"] = base64.b64encode(certificate()[0]).decode()
        doc = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": user}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context,
                                                       "namespace": "default"}}],
            "current-context": context,
        }
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(yaml.safe_dump(doc, sort_keys=False))
        return p

    def log_exception(self, what: str, e: BaseException) -> None:
        self.internal_errors.append(f"{what}: {e!r}")
        print(f"kubesim: internal error in {what}: {e}", file=sys.stderr)
        traceback.print_exception(e, file=sys.stderr)

    # --- reads used by the HTTP layer ----------------------------------------------

    def list_entries(self, rt: ResourceType, ns: str | None, match: Matcher | None,
                     limit: int, cont: str | None) -> tuple[list[Entry], int, str | None, int]:
        """(items, list resourceVersion, continue token, remaining count)."""
        start: tuple[str, str] | None = None
        if cont:
            try:
                tok = orjson.loads(base64.urlsafe_b64decode(cont.encode()))
                start = (tok["ns"], tok["name"])
            except (ValueError, KeyError, TypeError):
                raise errors.bad_request("continue key is not valid: illegal base64 or "
                                         "unknown format") from None
        with self.store.lock:
            rv = self.store.rv
            items: list[Entry] = []
            remaining = 0
            last: tuple[str, str] | None = None
            for ens, name, e in self.store.iter(rt.key, ns):
                if start is not None and (ens, name) <= start:
                    continue
                if match is not None and not match(e.obj):
                    continue
                if limit and len(items) >= limit:
                    remaining += 1
                    continue
                items.append(e)
                last = (ens, name)
        token = None
        if remaining and last is not None:
            token = base64.urlsafe_b64encode(orjson.dumps(
                {"ns": last[0], "name": last[1], "rv": rv})).decode()
        return items, rv, token, remaining

    def openapi_v2(self) -> bytes:
        key = ("v2", "")
        if key not in self._openapi_cache:
            self._openapi_cache[key] = orjson.dumps(self.schema.openapi_v2())
        return self._openapi_cache[key]

    def openapi_v3_doc(self, group: str, version: str) -> bytes | None:
        builtin = any(rt.builtin for rt in self.registry.all()
                      if rt.group == group and rt.version == version)
        if builtin and (group, version) in self._openapi_cache:
            return self._openapi_cache[(group, version)]
        doc = self.schema.openapi_v3_doc(group, version)
        if doc is None:
            return None
        raw = orjson.dumps(doc)
        if builtin:
            self._openapi_cache[(group, version)] = raw
        return raw

    # --- scale subresource ---------------------------------------------------------

    def api_scale(self, rt: ResourceType, ns: str, name: str, body: Any, manager: str,
                  dry: bool) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("kind") != "Scale":
            raise errors.bad_request("expected an autoscaling/v1 Scale object")
        return self._set_replicas(rt, ns, name, body, manager, dry)

    def patch_scale(self, rt: ResourceType, ns: str, name: str, ctype: str, patch: Any,
                    manager: str, dry: bool) -> dict[str, Any]:
        with self.store.lock:
            cur = scale_of(rt, self.api.get(rt, ns, name).obj)
            try:
                new = (apply_json_patch(cur, patch) if ctype == JSON_PATCH
                       else apply_merge_patch(cur, patch))
            except PatchError as e:
                raise errors.bad_request(str(e)) from None
            return self._set_replicas(rt, ns, name, new, manager, dry)

    def _set_replicas(self, rt: ResourceType, ns: str, name: str, scale: dict[str, Any],
                      manager: str, dry: bool) -> dict[str, Any]:
        with self.store.lock:
            e = self.api.get(rt, ns, name)
            replicas = (scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise errors.invalid("Scale", "autoscaling", name, [
                    ("spec.replicas", str(replicas), "must be greater than or equal to 0")])
            srv = (scale.get("metadata") or {}).get("resourceVersion")
            if srv and srv != e.obj["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name)
            new = {**e.obj, "spec": {**(e.obj.get("spec") or {}), "replicas": replicas}}
            obj = self.api._finish_update(rt, e, new, manager=manager, operation="Update",
                                          subresource="scale", dry_run=dry)
            return scale_of(rt, obj)


def serve_forever(port: int, config: Config, kubeconfig_out: str | None,
                  host: str = "127.0.0.1") -> None:
    """Run a simulator in the foreground until interrupted (the CLI's `serve`)."""
    sim = Simulator(config)
    url = sim.start(port, host)
    if kubeconfig_out:
        sim.write_kubeconfig(kubeconfig_out)
    print(url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
