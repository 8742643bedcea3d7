"""Fidelity: the official `kubernetes` client (typed, dynamic, watch) against the cluster."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from kubernetes import client, dynamic, watch

from kubesim.testing import KubeCluster, wait_for


def test_typed_crud(k8s: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(k8s)
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="typed", labels={"a": "b"}),
                              data={"k": "v"})
    created = core.create_namespaced_config_map(ns, body)
    assert created.metadata.uid and created.metadata.resource_version
    got = core.read_namespaced_config_map("typed", ns)
    assert got.data == {"k": "v"}
    got.data["k"] = "w"
    replaced = core.replace_namespaced_config_map("typed", ns, got)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    listed = core.list_namespaced_config_map(ns, label_selector="a=b")
    assert [i.metadata.name for i in listed.items] == ["typed"]
    core.delete_namespaced_config_map("typed", ns)
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_config_map("typed", ns)
    assert err.value.status == 404


def test_typed_apps_and_server_side_apply(k8s: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(k8s)
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "ssa"}},
                    "template": {"metadata": {"labels": {"app": "ssa"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    dyn = dynamic.DynamicClient(k8s)
    res = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    out = res.server_side_apply(body=dep, namespace=ns, field_manager="pytest")
    assert out.metadata.name == "ssa"
    mf = out.metadata.managedFields
    assert any(m["manager"] == "pytest" and m["operation"] == "Apply" for m in mf)
    d = apps.read_namespaced_deployment("ssa", ns)
    assert d.spec.replicas == 1
    wait_for(lambda: (apps.read_namespaced_deployment_status("ssa", ns).status.available_replicas
                      or 0) >= 1, what="deployment available")


def test_dynamic_client_discovery_and_crud(k8s: client.ApiClient, ns: str) -> None:
    dyn = dynamic.DynamicClient(k8s)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    assert cms.namespaced and cms.name == "configmaps"
    cms.create(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dyn"},
                     "data": {"x": "1"}}, namespace=ns)
    cms.patch(name="dyn", namespace=ns, body={"data": {"y": "2"}},
              content_type="application/merge-patch+json")
    got = cms.get(name="dyn", namespace=ns)
    assert dict(got.data) == {"x": "1", "y": "2"}
    names = [i.metadata.name for i in cms.get(namespace=ns).items]
    assert "dyn" in names
    for kind, version in [("Role", "rbac.authorization.k8s.io/v1"), ("Job", "batch/v1"),
                          ("Ingress", "networking.k8s.io/v1"), ("Lease", "coordination.k8s.io/v1"),
                          ("HorizontalPodAutoscaler", "autoscaling/v2"),
                          ("PodDisruptionBudget", "policy/v1"),
                          ("CustomResourceDefinition", "apiextensions.k8s.io/v1")]:
        assert dyn.resources.get(api_version=version, kind=kind).kind == kind


def test_watch_streams_events_in_order(k8s: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(k8s)
    start_rv = core.list_namespaced_config_map(ns).metadata.resource_version
    seen: list[tuple[str, str]] = []

    def produce() -> None:
        time.sleep(0.2)
        core.create_namespaced_config_map(ns, {"metadata": {"name": "w1"}})
        core.patch_namespaced_config_map("w1", ns, {"data": {"a": "b"}})
        core.delete_namespaced_config_map("w1", ns)

    t = threading.Thread(target=produce)
    t.start()
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=start_rv,
                       timeout_seconds=10):
        if ev["object"].metadata.name == "w1":
            seen.append((ev["type"], ev["object"].metadata.name))
        if ev["type"] == "DELETED":
            w.stop()
    t.join()
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_watch_with_label_selector_sees_objects_leave(k8s: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "sel", "labels": {"on": "1"}}})
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.patch_namespaced_config_map("sel", ns, {"metadata": {"labels": {"on": None}}})
    w = watch.Watch()
    events = []
    for ev in w.stream(core.list_namespaced_config_map, ns, label_selector="on=1",
                       resource_version=rv, timeout_seconds=3):
        events.append(ev["type"])
        w.stop()
    assert events == ["DELETED"]


@pytest.mark.kubesim_only
def test_watch_too_old_resource_version_is_410(fresh_kubesim: KubeCluster) -> None:
    sim = fresh_kubesim.sim
    assert sim is not None
    api = _client(fresh_kubesim)
    core = client.CoreV1Api(api)
    for i in range(3):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    # Shrink the history so version 1 falls out of it.
    with sim.store.lock:
        while len(sim.store.log) > 1:
            sim.store.log.popleft()
    with pytest.raises(client.ApiException) as err:
        for _ in watch.Watch().stream(core.list_namespaced_config_map, "default",
                                      resource_version="2", timeout_seconds=2):
            pass
    assert err.value.status == 410


def test_watch_bookmarks(fresh_kubesim: KubeCluster) -> None:
    sim = fresh_kubesim.sim
    assert sim is not None
    sim.config.bookmark_interval = 0.2
    core = client.CoreV1Api(_client(fresh_kubesim))
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    types = []
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_config_map, "default", resource_version=rv,
                       allow_watch_bookmarks=True, timeout_seconds=3):
        types.append(ev["type"])
        if ev["type"] == "BOOKMARK":
            w.stop()
    assert "BOOKMARK" in types


def _client(cluster: KubeCluster) -> client.ApiClient:
    from kubernetes import config
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


def test_pagination_through_client(k8s: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(k8s)
    for i in range(5):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"pg{i}",
                                                            "labels": {"pg": "1"}}})
    names: list[str] = []
    cont: Any = None
    while True:
        page = core.list_namespaced_config_map(ns, label_selector="pg=1", limit=2,
                                               _continue=cont)
        names += [i.metadata.name for i in page.items]
        cont = page.metadata._continue
        if not cont:
            break
    assert names == [f"pg{i}" for i in range(5)]
