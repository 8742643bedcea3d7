"""Concurrent writers and watchers: ordered events, unique versions, no internal errors."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client, config, watch

from kubesim.testing import KubeCluster


@pytest.mark.kubesim_only
def test_concurrent_ssa_writers_and_watchers(fresh_kubesim: KubeCluster) -> None:
    sim = fresh_kubesim.sim
    assert sim is not None
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(fresh_kubesim.kubeconfig), client_configuration=cfg)
    core = client.CoreV1Api(client.ApiClient(cfg))
    start_rv = core.list_namespaced_config_map("default").metadata.resource_version
    writers, per_writer = 4, 40
    seen: list[list[int]] = [[] for _ in range(3)]

    def watcher(k: int) -> None:
        api = client.CoreV1Api(client.ApiClient(cfg))
        w = watch.Watch()
        for ev in w.stream(api.list_namespaced_config_map, "default", resource_version=start_rv,
                           label_selector="load=yes", timeout_seconds=20):
            seen[k].append(int(ev["object"].metadata.resource_version))
            if len(seen[k]) == writers * per_writer:
                w.stop()

    def writer(k: int) -> None:
        api = client.CoreV1Api(client.ApiClient(cfg))
        for i in range(per_writer):
            body = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": f"w{k}-{i % 5}", "labels": {"load": "yes"}},
                    "data": {"i": str(i)}}
            api.patch_namespaced_config_map(f"w{k}-{i % 5}", "default", body,
                                            field_manager=f"writer{k}", force=True,
                                            _content_type="application/apply-patch+yaml")

    ws = [threading.Thread(target=watcher, args=(k,)) for k in range(3)]
    for t in ws:
        t.start()
    wr = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in wr:
        t.start()
    for t in wr + ws:
        t.join(timeout=30)
    for events in seen:
        assert len(events) == writers * per_writer
        assert events == sorted(events) and len(set(events)) == len(events)
    assert seen[0] == seen[1] == seen[2]
    assert sim.internal_errors == [] and sim.controllers.errors == []
