"""The reconcile loop against kubesim: auto-sync, self-heal, triggers, conditions, projects."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from controller_harness import Harness, configmaps, git, git_daemon, stop_daemon, wait_for, served_repo


def test_auto_sync_then_self_heal_reverts_drift_fast(harness: Harness) -> None:
    harness.files("gb", configmaps(3))
    app = harness.app("gb", "gb", auto={"prune": True, "selfHeal": True})
    harness.start()
    wait_for(lambda: harness.sync_health(app) == ("Synced", "Healthy"), 15, "app Synced/Healthy")
    assert harness.live("ConfigMap", "cm1")["data"] == {"k": "v1"}
    harness.patch_cm("cm0", {"k": "drift"})
    t0 = time.monotonic()
    wait_for(lambda: (harness.live("ConfigMap", "cm0") or {}).get("data") == {"k": "v0"}, 5, "drift reverted")
    assert time.monotonic() - t0 < 2.0
    assert harness.seen("auto-sync", app)[-1]["selfHeal"] is True


def test_manual_app_reports_out_of_sync_and_is_not_synced(harness: Harness) -> None:
    harness.files("manual", configmaps(2))
    app = harness.app("manual", "manual")
    harness.start()
    wait_for(lambda: harness.sync_health(app)[0] == "OutOfSync", 15, "OutOfSync")
    time.sleep(0.5)
    assert harness.live("ConfigMap", "cm0") is None
    assert not harness.seen("operation-start", app)
    st = harness.status(app)
    assert st["syncPolicy"] == "Manual"
    assert {r["name"] for r in st["resources"]} == {"cm0", "cm1"}
    assert all(r["status"] == "OutOfSync" and r["health"] == "Missing" for r in st["resources"])


def test_without_self_heal_drift_is_reported_not_reverted(harness: Harness) -> None:
    harness.files("noheal", configmaps(1))
    app = harness.app("noheal", "noheal", auto={})
    harness.start()
    wait_for(lambda: harness.sync_health(app)[0] == "Synced", 15, "Synced")
    harness.patch_cm("cm0", {"k": "drift"})
    wait_for(lambda: harness.sync_health(app)[0] == "OutOfSync", 5, "drift noticed through the watch")
    time.sleep(0.5)
    assert harness.live("ConfigMap", "cm0")["data"] == {"k": "drift"}
    assert len(harness.seen("operation-start", app)) == 1


def test_spec_change_and_new_revision_trigger_sync_with_prune(harness: Harness) -> None:
    harness.files("chg", configmaps(2))
    app = harness.app("chg", "chg", auto={"prune": True})
    harness.start()
    wait_for(lambda: harness.live("ConfigMap", "cm1") is not None, 15, "first sync")
    wait_for(lambda: harness.sync_health(app)[0] == "Synced", 5, "Synced")
    harness.files("chg", {"cm1.yaml": None})  # a local source: the new "revision" is seen on refresh
    harness.app("chg", "chg", auto={"prune": True}, extra={"revisionHistoryLimit": 5})  # spec change
    wait_for(lambda: harness.live("ConfigMap", "cm1") is None, 10, "cm1 pruned")
    wait_for(lambda: harness.sync_health(app)[0] == "Synced", 5, "Synced again")


def test_invalid_spec_is_a_condition_and_other_apps_are_unaffected(harness: Harness) -> None:
    harness.files("good", configmaps(1))
    good = harness.app("good", "good", auto={})
    bad = f"bad-{harness.ns}"
    harness.raw("bad.yaml", yaml.safe_dump({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": bad},
        "spec": {"source": {"repoURL": str(harness.repo), "path": "good"}, "destinaton": {"namespace": harness.ns}}}))
    harness.raw("junk.yaml", "apiVersion: v1\nkind: Application\nmetadata: [1]\n")
    running = harness.start()
    wait_for(lambda: harness.sync_health(good) == ("Synced", "Healthy"), 15, "good app synced")
    wait_for(lambda: harness.status(bad), 5, "bad app recorded")
    st = harness.status(bad)
    assert st["sync"]["status"] == "Unknown"
    [cond] = st["conditions"]
    assert cond["type"] == "InvalidSpecError"
    assert "destinaton" in cond["message"] and "bad.yaml" in cond["message"]
    assert any("junk.yaml" in e for e in running.controller.source_errors)


def test_project_violation_means_no_write(harness: Harness) -> None:
    harness.files("proj", {**configmaps(1), "role.yaml": yaml.safe_dump({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": f"r-{harness.ns}"}, "rules": []})})
    harness.raw("project.yaml", yaml.safe_dump({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": f"p-{harness.ns}"},
        "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": harness.ns}]}}))
    kinds = harness.app("kinds", "proj", auto={}, project=f"p-{harness.ns}")
    harness.files("other", configmaps(1, prefix="o"))
    elsewhere = harness.app("elsewhere", "other", auto={}, project=f"p-{harness.ns}", namespace="kube-system")
    missing = harness.app("missing", "other", auto={}, project="nope")
    harness.start()
    wait_for(lambda: "InvalidSpecError" in harness.condition_types(kinds), 15, "kind violation")
    wait_for(lambda: "InvalidSpecError" in harness.condition_types(elsewhere), 5, "destination violation")
    wait_for(lambda: "InvalidSpecError" in harness.condition_types(missing), 5, "unknown project")
    msgs = {a: harness.status(a)["conditions"][0]["message"] for a in (kinds, elsewhere, missing)}
    assert "ClusterRole" in msgs[kinds] and "not permitted" in msgs[kinds]
    assert "destination" in msgs[elsewhere] and "kube-system" in msgs[elsewhere]
    assert "project nope which does not exist" in msgs[missing]
    time.sleep(0.5)
    assert harness.live("ConfigMap", "cm0") is None and harness.live("ConfigMap", "o0", "kube-system") is None
    assert not harness.seen("operation-start")


def test_empty_render_is_refused_without_allow_empty(harness: Harness) -> None:
    harness.files("empty", configmaps(1))
    app = harness.app("empty", "empty", auto={"prune": True})
    harness.start()
    wait_for(lambda: harness.sync_health(app)[0] == "Synced", 15, "first sync")
    harness.files("empty", {"cm0.yaml": None})  # the render now has zero resources
    harness.app("empty", "empty", auto={"prune": True}, extra={"revisionHistoryLimit": 3})
    wait_for(lambda: "SyncError" in harness.condition_types(app), 10, "refusal condition")
    assert "wipe out all resources" in harness.status(app)["conditions"][0]["message"]
    assert harness.sync_health(app)[0] == "OutOfSync"
    time.sleep(0.3)
    assert harness.live("ConfigMap", "cm0") is not None  # not pruned
    assert len(harness.seen("operation-start", app)) == 1


def test_failed_auto_sync_is_not_retried_for_the_same_revision(harness: Harness) -> None:
    harness.files("fail", {"bad.yaml": yaml.safe_dump({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"}, "data": {"k": 1}})})
    app = harness.app("fail", "fail", auto={"selfHeal": True})
    harness.start(resync=0.3, jitter=0.0)
    wait_for(lambda: "SyncError" in harness.condition_types(app), 15, "SyncError condition")
    time.sleep(1.0)  # several periodic refreshes
    assert len(harness.seen("operation-start", app)) == 1
    assert "Failed last sync attempt" in next(c["message"] for c in harness.status(app)["conditions"]
                                              if c["type"] == "SyncError")


def test_cli_list_get_refresh_sync_history(harness: Harness) -> None:
    import json
    import subprocess

    from controller_harness import SW

    harness.files("cli", configmaps(2))
    app = harness.app("cli", "cli")
    harness.start()
    wait_for(lambda: harness.sync_health(app)[0] == "OutOfSync", 15, "OutOfSync")

    def sw(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SW, "app", *args, "--state", str(harness.state)], capture_output=True, text=True,
                              timeout=60)

    out = sw("list")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].split()[:6] == ["NAME", "CLUSTER", "NAMESPACE", "PROJECT", "STATUS", "HEALTH"]
    assert any(line.startswith(app) and "OutOfSync" in line for line in out.stdout.splitlines())
    diff = sw("diff", app)
    assert diff.returncode == 1 and "ConfigMap" in diff.stdout
    res = sw("sync", app, "--timeout", "30")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Succeeded" in res.stdout
    res = sw("refresh", app, "-o", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["sync"]["status"] == "Synced"
    got = sw("get", app)
    assert "Sync Status:        Synced" in got.stdout and "Health Status:      Healthy" in got.stdout
    hist = sw("history", app, "-o", "json")
    assert [h["id"] for h in json.loads(hist.stdout)] == [0]
    missing = sw("get", "no-such-app")
    assert missing.returncode == 1 and "not found" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_push_notification_syncs_the_new_commit(harness: Harness, tmp_path: Path) -> None:
    """``Controller.notify_push`` (what a Git webhook calls) gets a new commit synced at once."""
    h = harness
    work, daemon, port = served_repo(tmp_path, "push", configmaps(2))
    try:
        url = f"git://127.0.0.1:{port}/push.git"
        app = h.app("push", "app", repo_url=url, auto={"prune": True},
                    extra={"source": {"repoURL": url, "path": "app", "targetRevision": "main"}})
        other = h.app("other", "app", repo_url=url + "-other", auto={})
        running = h.start()
        wait_for(lambda: h.sync_health(app) == ("Synced", "Healthy"), 20, "first commit synced")
        first = h.status(app)["sync"]["revision"]
        for name, text in configmaps(2, value="new").items():
            (work / "app" / name).write_text(text)
        git("commit", "-q", "-am", "two", cwd=work)
        git("push", "-q", str(tmp_path / "served" / "push.git"), "HEAD:refs/heads/main", cwd=work)
        t0 = time.monotonic()
        assert running.controller.notify_push(url.removesuffix(".git") + "/", "main") == [app]  # URLs match normalized
        wait_for(lambda: (h.live("ConfigMap", "cm0") or {}).get("data") == {"k": "new0"}, 10, "new commit applied")
        assert time.monotonic() - t0 < 5
        wait_for(lambda: h.status(app)["sync"]["revision"] not in ("", first), 5, "new revision reported")
        assert running.controller.notify_push(url, "feature") == []
        assert other not in running.controller.notify_push(url, "")
    finally:
        stop_daemon(daemon)
