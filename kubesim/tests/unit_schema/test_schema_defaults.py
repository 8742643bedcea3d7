"""Server-side defaulting of built-in kinds."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesim.defaults import apply_defaults, cluster_ip_for, image_pull_policy
from kubesim.schema import GVK


def test_deployment_defaults(deployment: Any) -> None:
    obj = deployment([{"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}])
    del obj["spec"]["replicas"]
    before = copy.deepcopy(obj)
    out = apply_defaults(obj, GVK("apps", "v1", "Deployment"))
    assert obj == before
    spec = out["spec"]
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Always" and pod["dnsPolicy"] == "ClusterFirst"
    assert pod["schedulerName"] == "default-scheduler" and pod["securityContext"] == {}
    assert pod["terminationGracePeriodSeconds"] == 30
    c = pod["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent" and c["resources"] == {}
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_defaulting_is_idempotent_and_keeps_user_values(deployment: Any) -> None:
    obj = deployment(replicas=3, strategy={"type": "Recreate"})
    gvk = GVK("apps", "v1", "Deployment")
    once = apply_defaults(obj, gvk)
    assert apply_defaults(once, gvk) == once
    assert once["spec"]["replicas"] == 3 and once["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1", "IfNotPresent"),
    ("registry:5000/app", "Always"), ("registry:5000/app:v2", "IfNotPresent"),
    ("nginx@sha256:abc", "IfNotPresent")])
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_service_defaults() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "a"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    out = apply_defaults(svc, GVK("", "v1", "Service"))
    spec = out["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert spec["clusterIP"] == cluster_ip_for("a", "web") == spec["clusterIPs"][0]
    assert spec["clusterIP"].startswith("10.") and spec["internalTrafficPolicy"] == "Cluster"
    assert apply_defaults(out, GVK("", "v1", "Service")) == out
    headless = apply_defaults({"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}},
                              GVK("", "v1", "Service"))
    assert headless["spec"]["clusterIPs"] == ["None"]
    lb = apply_defaults({"metadata": {"name": "l"}, "spec": {"type": "LoadBalancer",
                                                             "ports": [{"port": 443}]}},
                        GVK("", "v1", "Service"))
    assert 30000 <= lb["spec"]["ports"][0]["nodePort"] <= 32767
    assert lb["spec"]["externalTrafficPolicy"] == "Cluster"


def test_job_and_cronjob_defaults() -> None:
    job = {"spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "busybox"}]}}}}
    out = apply_defaults(job, GVK("batch", "v1", "Job"))["spec"]
    assert (out["backoffLimit"], out["completions"], out["parallelism"]) == (6, 1, 1)
    assert out["completionMode"] == "NonIndexed" and out["suspend"] is False
    assert out["template"]["spec"]["restartPolicy"] == "Never"
    no_rp = apply_defaults({"spec": {"template": {"spec": {"containers": []}}}},
                           GVK("batch", "v1", "Job"))
    assert "restartPolicy" not in no_rp["spec"]["template"]["spec"]
    cj = apply_defaults({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {
        "template": {"spec": {"restartPolicy": "OnFailure", "containers": []}}}}}},
        GVK("batch", "v1", "CronJob"))["spec"]
    assert cj["concurrencyPolicy"] == "Allow" and cj["successfulJobsHistoryLimit"] == 3
    assert cj["failedJobsHistoryLimit"] == 1 and cj["suspend"] is False


def test_pod_and_misc_defaults() -> None:
    pod = apply_defaults({"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "x", "livenessProbe": {"httpGet": {"port": 80}}}]}},
        GVK("", "v1", "Pod"))["spec"]
    assert pod["serviceAccountName"] == "default" and pod["enableServiceLinks"] is True
    assert len(pod["tolerations"]) == 2
    probe = pod["containers"][0]["livenessProbe"]
    assert probe["periodSeconds"] == 10 and probe["httpGet"]["scheme"] == "HTTP"
    ns = apply_defaults({"metadata": {"name": "team"}}, GVK("", "v1", "Namespace"))
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert apply_defaults({"data": {}}, GVK("", "v1", "Secret"))["type"] == "Opaque"
    rb = apply_defaults({"subjects": [{"kind": "User", "name": "u"},
                                      {"kind": "ServiceAccount", "name": "s"}]},
                        GVK("rbac.authorization.k8s.io", "v1", "RoleBinding"))
    assert [s["apiGroup"] for s in rb["subjects"]] == ["rbac.authorization.k8s.io", ""]
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"a": 1}}
    assert apply_defaults(cr, GVK("example.com", "v1", "Widget")) == cr
