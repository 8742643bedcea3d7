"""Shared fixtures for the schema/patch/SSA unit tests."""
from __future__ import annotations

import pytest

from kubesim.schema import GVK, Schema

@pytest.fixture(scope="session", params=["validate", "client"])
def schema(request: pytest.FixtureRequest) -> Schema:
    """A loaded Schema per type source: kubernetes-validate's definitions, and the
    fallback built from the kubernetes client's models."""
    return Schema(source=request.param)


def _deployment(containers: list[dict] | None = None, **spec: object) -> dict:
    """A small Deployment manifest for tests."""
    body: dict = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": containers or [
                                  {"name": "app", "image": "nginx:1"}]}}},
    }
    body["spec"].update(spec)
    return body


@pytest.fixture(scope="session")
def deployment() -> object:
    """Factory for small Deployment manifests: deployment(containers=None, **spec)."""
    return _deployment
