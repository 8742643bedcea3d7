"""Application health: worst wins in Argo CD's order, with its exclusions and a 'Caused by' message."""

from __future__ import annotations

from typing import Any

import pytest

from syncwright.api import HealthStatus
from syncwright.health import HEALTH_ORDER, ResourceHealth, aggregate, is_worse
from syncwright.manifests import key_of


def live(kind: str, name: str, api_version: str = "apps/v1", namespace: str = "ns",
         ann: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if ann:
        meta["annotations"] = ann
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def res(obj: dict[str, Any], status: str | None, message: str = "", *, missing: bool = False,
        target: dict[str, Any] | None = None) -> ResourceHealth:
    health = HealthStatus(status, message) if status is not None else None
    return ResourceHealth(key_of(obj), None if missing else obj, target if target is not None else obj, health)


def test_order_is_argo_cds() -> None:
    assert HEALTH_ORDER == ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")
    assert is_worse("Healthy", "Progressing") and is_worse("Healthy", "Degraded")
    assert not is_worse("Degraded", "Progressing") and is_worse("Degraded", "Unknown")


@pytest.mark.parametrize(("statuses", "expected"), [
    (["Healthy", "Healthy"], "Healthy"),
    (["Healthy", "Suspended"], "Suspended"),
    (["Suspended", "Progressing"], "Progressing"),
    (["Progressing", "Degraded", "Healthy"], "Degraded"),
    (["Degraded", "Unknown"], "Unknown"),
    (["Healthy", None], "Healthy"),
    ([], "Healthy"),
])
def test_worst_wins(statuses: list[str | None], expected: str) -> None:
    items = [res(live("Deployment", f"d{i}"), s) for i, s in enumerate(statuses)]
    assert aggregate(items).status == expected


def test_caused_by_names_up_to_three_and_counts_the_rest() -> None:
    items = [res(live("Deployment", f"d{i}"), "Degraded", "x") for i in range(5)]
    items.append(res(live("Service", "s", "v1"), "Progressing"))
    items.append(res(live("ClusterRole", "r", "rbac.authorization.k8s.io/v1", namespace=""), "Degraded"))
    assert aggregate(items) == HealthStatus(
        "Degraded", "Caused by apps/Deployment:ns/d0, apps/Deployment:ns/d1, apps/Deployment:ns/d2 and 3 more")
    one = aggregate([res(live("Service", "s", "v1"), "Progressing"), res(live("Deployment", "d"), "Healthy")])
    assert one == HealthStatus("Progressing", "Caused by Service:ns/s")
    cluster = aggregate([res(live("ClusterRole", "r", "rbac.authorization.k8s.io/v1", namespace=""), "Degraded")])
    assert cluster == HealthStatus("Degraded", "Caused by rbac.authorization.k8s.io/ClusterRole:r")


def test_hooks_skip_and_ignore_healthcheck_are_excluded() -> None:
    hook = live("Job", "migrate", "batch/v1", ann={"argocd.argoproj.io/hook": "PreSync"})
    helm_hook = live("Pod", "test", "v1", ann={"helm.sh/hook": "test"})
    ignored = live("Deployment", "noisy", ann={"argocd.argoproj.io/ignore-healthcheck": "true"})
    skip = live("ConfigMap", "skipped", "v1", ann={"argocd.argoproj.io/hook": "Skip"})
    ok = live("Deployment", "web")
    items = [res(hook, "Degraded"), res(helm_hook, "Degraded"), res(ignored, "Degraded"),
             res(skip, "Degraded", target=skip), res(ok, "Healthy")]
    assert aggregate(items) == HealthStatus("Healthy", "")


def test_missing_resources_do_not_degrade_but_all_missing_is_missing() -> None:
    web, db = live("Deployment", "web"), live("StatefulSet", "db")
    some_missing = aggregate([res(web, "Healthy"), res(db, "Missing", missing=True)])
    assert some_missing == HealthStatus("Healthy", "")
    all_missing = aggregate([res(web, "Missing", missing=True), res(db, "Missing", missing=True)])
    assert all_missing == HealthStatus("Missing", "Caused by apps/Deployment:ns/web, apps/StatefulSet:ns/db")
    # Unknown is worse than Missing, so it stays
    assert aggregate([res(web, "Unknown"), res(db, "Missing", missing=True)]).status == "Unknown"
    # only hooks: nothing to aggregate, Healthy
    hook = live("Job", "j", "batch/v1", ann={"argocd.argoproj.io/hook": "PostSync"})
    assert aggregate([res(hook, "Progressing")]).status == "Healthy"


def test_child_applications_and_the_app_itself() -> None:
    child = live("Application", "child", "argoproj.io/v1alpha1", namespace="argocd")
    assert aggregate([res(child, "Missing"), res(live("Deployment", "d"), "Healthy")]).status == "Healthy"
    assert aggregate([res(child, "Unknown")]).status == "Healthy"
    assert aggregate([res(child, "Degraded")]).status == "Degraded"
    me = live("Application", "parent", "argoproj.io/v1alpha1", namespace="argocd")
    items = [res(me, "Degraded"), res(live("Deployment", "d"), "Healthy")]
    assert aggregate(items, app_name="parent", app_namespace="argocd").status == "Healthy"
    assert aggregate(items, app_name="other").status == "Degraded"


def test_suspended_job_aggregates_as_healthy_but_a_suspended_deployment_does_not() -> None:
    job = live("Job", "nightly", "batch/v1")
    assert aggregate([res(job, "Suspended")]) == HealthStatus("Healthy", "")
    assert aggregate([res(live("Deployment", "d"), "Suspended")]) == HealthStatus(
        "Suspended", "Caused by apps/Deployment:ns/d")


def test_tuples_of_live_target_health_are_accepted() -> None:
    web = live("Deployment", "web")
    assert aggregate([(web, web, HealthStatus("Degraded", "x")), (None, web, HealthStatus("Missing"))]) == \
        HealthStatus("Degraded", "Caused by apps/Deployment:ns/web")
