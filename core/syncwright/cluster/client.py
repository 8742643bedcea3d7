"""A lean REST client over the official ``kubernetes`` client's configuration.

The official client handles kubeconfig, contexts, in-cluster service
accounts, TLS and auth plugins; syncwright talks to the API generically
(any group/version/kind, raw JSON), so it uses ``ApiClient.call_api`` with
raw responses rather than the typed models, and adds what the official
client lacks: a QPS/burst token bucket and error translation into
``ClusterError`` with the resource named.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from ..errors import SyncwrightError


class ClusterError(SyncwrightError):
    """A Kubernetes API call failed; ``status`` is the HTTP status (0 = no answer)."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "", context: str | None = None) -> None:
        super().__init__(message, context=context)
        self.status = status
        self.reason = reason


class TokenBucket:
    """Client-side rate limiting like client-go's: ``qps`` sustained, ``burst`` at once."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps, self.burst = qps, burst
        self.tokens = float(burst)
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> None:
        if self.qps <= 0:
            return
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.qps)
            self.last = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            wait = (1 - self.tokens) / self.qps
            self.tokens = 0
            self.last = now + wait
        time.sleep(wait)


def _env_number(name: str, default: float) -> float:
    import os

    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class ClusterConfig:
    """How to reach a cluster: kubeconfig + context, or in-cluster when both are unset.

    Client-side rate limits default to ``SYNCWRIGHT_KUBE_QPS`` (50) and
    ``SYNCWRIGHT_KUBE_BURST`` (100), like client-go's QPS/burst; QPS 0 = unlimited.
    """

    kubeconfig: str | None = None
    context: str | None = None
    qps: float = field(default_factory=lambda: _env_number("SYNCWRIGHT_KUBE_QPS", 50.0))
    burst: int = field(default_factory=lambda: int(_env_number("SYNCWRIGHT_KUBE_BURST", 100)))
    timeout: float = 30.0


class Client:
    """Raw JSON access to any API path, rate limited, with clear errors."""

    def __init__(self, cfg: ClusterConfig) -> None:
        self.cfg = cfg
        self.api = _api_client(cfg)
        self.server = self.api.configuration.host
        self.bucket = TokenBucket(cfg.qps, cfg.burst)
        self.calls = 0  # API requests made (benchmarks and tests assert on it)
        self.calls_by_verb: dict[str, int] = {}

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json", timeout: float | None = None, what: str = "") -> Any:
        """One API call; returns the decoded JSON body."""
        resp = self._call(method, path, query=query, body=body, content_type=content_type,
                          timeout=timeout, what=what)
        data = resp.read()
        return json.loads(data) if data else None

    def stream(self, path: str, *, query: dict[str, Any], timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """A watch: yields decoded events until the server closes the stream."""
        resp = self._call("GET", path, query={**query, "watch": "true"}, timeout=timeout, what=f"watch {path}")
        raw = resp.response
        buf = b""
        try:
            for chunk in raw.stream(65536, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            raw.release_conn()

    def _call(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
              content_type: str = "application/json", timeout: float | None = None, what: str = "") -> Any:
        self.bucket.take()
        self.calls += 1
        self.calls_by_verb[method] = self.calls_by_verb.get(method, 0) + 1
        headers = {"Accept": "application/json", "Content-Type": content_type}
        if isinstance(body, (str, bytes)) and ("json" in content_type or "yaml" in content_type):
            body = json.loads(body)  # the official client serializes structured bodies itself
        where = what or f"{method} {path}"
        try:
            _m, url, hdrs, _b, _p = self.api.param_serialize(
                method, path, query_params=list((query or {}).items()), header_params=headers,
                auth_settings=["BearerToken"])
            resp = self.api.call_api(method, url, header_params=hdrs, body=body,
                                     _request_timeout=timeout or self.cfg.timeout)
        except k8s_client.ApiException as e:
            raise ClusterError(f"cannot reach the API server at {self.server}: {e.reason}", context=where) from None
        except Exception as e:  # noqa: BLE001 - urllib3/socket errors: the cluster did not answer
            raise ClusterError(f"cannot reach the API server at {self.server}: {type(e).__name__}: {e}",
                               context=where) from None
        if resp.status >= 400:
            raise _api_error(resp.status, resp.reason, resp.read(), where)
        return resp


def _api_error(code: int, reason: str | None, body: bytes | None, what: str) -> ClusterError:
    reason, message = reason or "", ""
    try:
        status = json.loads(body or b"")
        message = status.get("message") or ""
        reason = status.get("reason") or reason
    except (TypeError, ValueError, AttributeError):
        message = (body or b"").decode("utf-8", "replace")[:500]
    return ClusterError(message or f"HTTP {code} {reason}", status=int(code), reason=reason, context=what)


def _api_client(cfg: ClusterConfig) -> Any:
    configuration = k8s_client.Configuration()
    try:
        if cfg.kubeconfig or cfg.context or not _in_cluster():
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=cfg.kubeconfig, context=cfg.context, client_configuration=configuration,
                persist_config=False)
        else:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except (k8s_config.ConfigException, OSError, TypeError, ValueError) as e:
        where = cfg.kubeconfig or "the default kubeconfig"
        ctx = f" (context {cfg.context!r})" if cfg.context else ""
        raise ClusterError(f"cannot load cluster credentials from {where}{ctx}: {e}") from None
    configuration.retries = False
    return k8s_client.ApiClient(configuration)


def _in_cluster() -> bool:
    import os

    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(
        "/var/run/secrets/kubernetes.io/serviceaccount/token")
