"""Built-in checks: every kind and status branch, from YAML fixtures that carry their expected health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncwright.api import HealthContext, HealthStatus, hookimpl
from syncwright.health import PENDING_DELETION, assess
from syncwright.health.builtin import check
from syncwright.manifests import parse_manifests
from syncwright.plugins import DEFAULT_PLUGINS, Hooks

FIXTURES = Path(__file__).parent / "fixtures" / "builtin"
EXPECT = "test.syncwright.dev/"


def _cases() -> list[Any]:
    out = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        for obj in parse_manifests(path.read_text(), str(path)):
            ann = obj["metadata"]["annotations"]
            expected = HealthStatus(ann[EXPECT + "status"], ann.get(EXPECT + "message", ""))
            out.append(pytest.param(obj, expected, id=f"{path.stem}-{obj['metadata']['name']}"))
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def hooks() -> Hooks:
    return Hooks.load(entry_points=[])


@pytest.mark.parametrize(("obj", "expected"), CASES)
def test_builtin_check(obj: dict[str, Any], expected: HealthStatus, hooks: Hooks) -> None:
    direct = check(obj)
    through_plugins = assess(obj, hooks)
    if expected.status == "":
        assert direct is None and through_plugins is None
    else:
        assert direct == expected
        assert through_plugins == expected


def test_fixtures_cover_every_builtin_kind_and_status() -> None:
    kinds = {(o.values[0]["apiVersion"].rpartition("/")[0], o.values[0]["kind"]) for o in CASES}
    from syncwright.health.builtin import CHECKS

    assert set(CHECKS) <= kinds
    statuses = {o.values[1].status for o in CASES}
    assert {"Healthy", "Progressing", "Degraded", "Suspended", "Unknown", ""} <= statuses


def test_builtins_are_a_default_plugin(hooks: Hooks) -> None:
    assert "syncwright.health.builtin" in DEFAULT_PLUGINS
    info = {p.name: p for p in hooks.plugins()}["syncwright.health.builtin"]
    assert info.builtin and info.hooks == ("syncwright_health",)


def test_pending_deletion_comes_first(hooks: Hooks) -> None:
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"},
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert assess(pod, hooks) == HealthStatus("Progressing", PENDING_DELETION)
    # a hook still holding Argo CD's hook finalizer is judged normally
    pod["metadata"]["finalizers"] = ["argocd.argoproj.io/hook-finalizer"]
    assert assess(pod, hooks) == HealthStatus("Healthy", "")


def test_a_third_party_plugin_beats_the_builtin_and_a_raising_one_is_unknown() -> None:
    class Override:
        @hookimpl
        def syncwright_health(self, obj: dict[str, Any], ctx: HealthContext) -> HealthStatus | None:
            if obj["kind"] == "Deployment":
                return HealthStatus("Degraded", "policy says no")
            if obj["kind"] == "Service":
                raise RuntimeError("backend down")
            return None

    hooks = Hooks.load(entry_points=[], extra_plugins=[Override()])
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"paused": True}}
    assert assess(dep, hooks) == HealthStatus("Degraded", "policy says no")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}}
    health = assess(svc, hooks)
    assert health is not None and health.status == "Unknown"
    assert health.message == "health check failed for Service n/s: backend down"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Succeeded"}}
    assert assess(pod, hooks) == HealthStatus("Healthy", "")


def test_defaults_are_applied_to_objects_that_never_saw_a_server() -> None:
    # no spec.replicas → 1, no restartPolicy → Always, no updateStrategy → RollingUpdate partition 0
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
    assert check(dep) == HealthStatus(
        "Progressing", "Waiting for rollout to finish: 0 out of 1 new replicas have been updated...")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert check(pod) == HealthStatus("Healthy", "")
