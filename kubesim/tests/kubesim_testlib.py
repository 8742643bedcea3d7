"""Helpers for kubesim's tests (a unique module name, so it never clashes with another
test directory's `conftest`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client

KUBECTL = os.environ.get("KUBECTL", str(Path(__file__).resolve().parents[2] / ".venv/bin/kubectl"))


class Raw:
    """Plain HTTP to the cluster with the kubeconfig's credentials (for byte-exact bodies)."""

    def __init__(self, cfg: client.Configuration) -> None:
        self.host = cfg.host.rstrip("/")
        self.headers: dict[str, str] = {}
        token = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
        if token:
            self.headers["Authorization"] = token if token.startswith("Bearer") else (
                f"Bearer {token}")
        self.pool = urllib3.PoolManager(
            ca_certs=cfg.ssl_ca_cert, cert_file=cfg.cert_file, key_file=cfg.key_file,
            cert_reqs="CERT_REQUIRED" if cfg.verify_ssl and cfg.ssl_ca_cert else "CERT_NONE")

    def request(self, method: str, path: str, body: bytes | str | dict[str, Any] | None = None,
                content_type: str = "application/json",
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        if isinstance(body, dict):
            body = json.dumps(body)
        h = {**self.headers, "Content-Type": content_type, **(headers or {})}
        r = self.pool.request(method, self.host + path, body=body, headers=h, retries=False)
        try:
            return r.status, json.loads(r.data)
        except ValueError:
            return r.status, r.data
