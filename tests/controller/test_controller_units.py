"""Unit tests: work queue, SQLite store and migrations, projects, auto-sync rules, CRDs, file sources."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import yaml

from syncwright.controller import autosync
from syncwright.controller.crds import crds
from syncwright.controller.projects import DEFAULT_PROJECT, Projects, parse_project
from syncwright.controller.queue import WorkQueue
from syncwright.controller.reconcile import Settings
from syncwright.controller.sources import FileSource
from syncwright.controller.store import SCHEMA_VERSION, SqliteStore
from syncwright.errors import SyncwrightError
from syncwright.model import parse_application
from syncwright.sync.operation import HistoryEntry, OperationState, StoreError


# -- queue -----------------------------------------------------------------------------------
def test_queue_deduplicates_and_merges_hard() -> None:
    q = WorkQueue()
    q.add("a")
    q.add("a", hard=True)
    q.add("b")
    first = q.get(timeout=1)
    second = q.get(timeout=1)
    assert (first.app, first.hard) == ("a", True) and second.app == "b"
    assert q.get(timeout=0.05) is None


def test_queue_holds_a_requeue_of_an_active_item_until_done() -> None:
    q = WorkQueue()
    q.add("a")
    item = q.get(timeout=1)
    q.add("a", reason="again")
    assert q.get(timeout=0.05) is None  # never two workers on one app
    q.done(item)
    assert q.get(timeout=1).reason == "again"


def test_queue_backoff_grows_and_forget_resets() -> None:
    q = WorkQueue(base_delay=0.05, max_delay=0.2)
    q.add("a")
    item = q.get(timeout=1)
    q.done(item)
    assert [q.retry(item) for _ in range(4)] == [0.05, 0.1, 0.2, 0.2]
    q.forget("a")
    assert q.failures("a") == 0
    t = time.monotonic()
    assert q.get(timeout=1).app == "a" and time.monotonic() - t >= 0.03


def test_queue_delay_and_close() -> None:
    q = WorkQueue()
    q.add("later", delay=0.2)
    assert q.get(timeout=0.05) is None
    threading.Timer(0.05, q.close).start()
    assert q.get(timeout=2) is None


# -- store -----------------------------------------------------------------------------------
def test_store_operations_history_comparisons_requests(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "s.db")
    assert s.schema_version() == SCHEMA_VERSION
    op = OperationState("a", revision="abc")
    s.save(op)
    assert s.load("a").id == op.id and s.load("b") is None
    for i in range(5):
        s.add_history("a", HistoryEntry(i, f"r{i}", "t", "t", ()), limit=3)
    assert [e.id for e in s.history("a")] == [2, 3, 4]
    s.save_comparison("a", {"sync": {"status": "Synced"}})
    assert s.comparisons() == {"a": {"sync": {"status": "Synced"}}}
    s.request("a", "refresh")
    s.request("b", "sync", {"prune": True})
    assert [(r[1], r[2]) for r in s.take_requests(lambda app: app == "b")] == [("b", "sync")]
    assert [(r[1], r[2]) for r in s.take_requests()] == [("a", "refresh")]
    assert s.take_requests() == []


def test_store_migrates_an_old_schema_and_refuses_a_newer_one(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE operations (app TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL)")
    db.execute("CREATE TABLE history (app TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (app, id))")
    db.execute("CREATE TABLE comparisons (app TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL)")
    db.execute("INSERT INTO comparisons VALUES ('kept', '{\"x\": 1}', 0)")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    s = SqliteStore(path)
    assert s.schema_version() == SCHEMA_VERSION and s.comparison("kept") == {"x": 1}
    s.request("kept", "refresh")  # the table added by migration 2 exists
    s.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer than this syncwright"):
        SqliteStore(path)


def test_store_is_shared_between_threads(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "t.db")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                s.save_comparison(f"app{n}", {"i": i})
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and s.comparison("app3") == {"i": 19}


# -- projects --------------------------------------------------------------------------------
def _app(repo: str = "https://git.example.com/team/a.git", ns: str = "dev", project: str = "p", server: str = "https://k") -> object:
    return parse_application({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                              "metadata": {"name": "a"},
                              "spec": {"project": project, "source": {"repoURL": repo, "path": "."},
                                       "destination": {"server": server, "namespace": ns}}}, "test")


def _project(spec: dict[str, object]) -> Projects:
    return Projects({"p": parse_project({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
                                         "metadata": {"name": "p"}, "spec": spec}, "p.yaml")})


def test_project_source_repos_with_deny() -> None:
    projects = _project({"sourceRepos": ["https://git.example.com/*/*", "!https://git.example.com/team/secret.git"],
                         "destinations": [{"server": "*", "namespace": "*"}]})
    assert projects.check_app(_app(), "https://k", "") == []
    problems = projects.check_app(_app(repo="https://git.example.com/team/secret.git"), "https://k", "")
    assert problems == ["application repo https://git.example.com/team/secret.git is not permitted in project 'p'"]
    assert projects.check_app(_app(repo="https://evil.example.com/x.git"), "https://k", "")


def test_project_destinations_globs_and_deny() -> None:
    projects = _project({"sourceRepos": ["*"], "destinations": [
        {"server": "https://k", "namespace": "dev-*"}, {"server": "*", "namespace": "!dev-secret"},
        {"name": "prod", "namespace": "prod"}]})
    assert projects.check_app(_app(ns="dev-a"), "https://k", "") == []
    assert projects.check_app(_app(ns="dev-secret"), "https://k", "")
    assert projects.check_app(_app(ns="other"), "https://k", "")
    assert projects.check_app(_app(ns="prod"), "https://other", "prod") == []


def test_project_resource_lists_and_default() -> None:
    projects = _project({"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                         "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
                         "namespaceResourceBlacklist": [{"group": "", "kind": "Secret"}]})
    ns = lambda o: o["kind"] not in ("Namespace", "ClusterRole")  # noqa: E731
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}}]
    problems = projects.check_resources(_app(), objs, ns)
    assert len(problems) == 2
    assert "Secret:s" in problems[0] and "rbac.authorization.k8s.io/ClusterRole:r" in problems[1]
    assert Projects().get("default") is DEFAULT_PROJECT
    assert Projects().check_resources(_app(project="default"), objs, ns) == []
    assert Projects().check_app(_app(project="nope"), "https://k", "") == [
        "Application referencing project nope which does not exist"]


def test_project_source_namespaces() -> None:
    projects = Projects({"p": parse_project({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
                                             "metadata": {"name": "p"}, "spec": {
                                                 "sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                                                 "sourceNamespaces": ["team-*"]}}, "p")}, control_namespace="argocd")
    app = parse_application({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                             "metadata": {"name": "a", "namespace": "other"},
                             "spec": {"project": "p", "source": {"repoURL": "r", "path": "."},
                                      "destination": {"server": "https://k", "namespace": "x"}}}, "t")
    assert "sourceNamespaces" in projects.check_app(app, "https://k", "")[0]


def test_bad_project_document_names_the_field() -> None:
    with pytest.raises(SyncwrightError, match=r"p.yaml \(AppProject p\): spec.sourceRepos must be a list"):
        parse_project({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "p"},
                       "spec": {"sourceRepos": "*"}}, "p.yaml")


# -- auto-sync rules -------------------------------------------------------------------------
def _auto_app(**auto: object) -> object:
    return parse_application({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"},
                              "spec": {"source": {"repoURL": "r", "path": "."}, "destination": {"namespace": "n"},
                                       "syncPolicy": {"automated": auto}}}, "t")


def _op(phase: str, rev: str, message: str = "") -> OperationState:
    return OperationState("a", phase=phase, revision=rev, message=message, sources=[{"repoURL": "r", "targetRevision": rev}])


def test_autosync_rules() -> None:
    s = Settings()
    pinned = [{"repoURL": "r", "targetRevision": "new"}]
    app = _auto_app(prune=True)
    d = autosync.decide(app, "OutOfSync", 3, ["new"], pinned, _op("Succeeded", "old"), autosync.HealState(), s)
    assert d.sync and d.prune and not d.self_heal
    assert not autosync.decide(app, "Synced", 3, ["new"], pinned, None, autosync.HealState(), s).sync
    d = autosync.decide(app, "OutOfSync", 3, ["new"], pinned, _op("Failed", "new", "boom"), autosync.HealState(), s)
    assert not d.sync and "Failed last sync attempt to new: boom" in d.condition
    d = autosync.decide(app, "OutOfSync", 3, ["new"], pinned, _op("Succeeded", "new"), autosync.HealState(), s)
    assert not d.sync and not d.condition  # already synced there and no selfHeal
    d = autosync.decide(app, "OutOfSync", 3, ["new"], pinned,
                        _op("Error", "new", "operation interrupted: process 1 stopped"), autosync.HealState(), s)
    assert d.sync  # an interrupted operation is not an attempt
    d = autosync.decide(app, "OutOfSync", 0, ["new"], pinned, None, autosync.HealState(), s)
    assert not d.sync and "wipe out" in d.condition
    assert autosync.decide(_auto_app(allowEmpty=True), "OutOfSync", 0, ["new"], pinned, None,
                           autosync.HealState(), s).sync
    assert not autosync.decide(_auto_app(enabled=False), "OutOfSync", 1, ["new"], pinned, None,
                               autosync.HealState(), s).sync


def test_self_heal_backoff() -> None:
    s = Settings(self_heal_backoff=(2.0, 3.0, 300.0), self_heal_cooldown=330.0)
    app = _auto_app(selfHeal=True)
    pinned = [{"repoURL": "r", "targetRevision": "x"}]
    heal = autosync.HealState()
    last = _op("Succeeded", "x")
    d = autosync.decide(app, "OutOfSync", 1, ["x"], pinned, last, heal, s, at=100.0)
    assert d.sync and d.self_heal  # first self-heal: immediately
    heal.attempted(100.0)
    d = autosync.decide(app, "OutOfSync", 1, ["x"], pinned, last, heal, s, at=101.0)
    assert not d.sync and d.retry_in == pytest.approx(1.0)
    assert autosync.decide(app, "OutOfSync", 1, ["x"], pinned, last, heal, s, at=102.5).sync
    heal.attempted(102.5)
    assert autosync.decide(app, "OutOfSync", 1, ["x"], pinned, last, heal, s, at=107.0).retry_in == pytest.approx(1.5)
    assert [autosync.heal_delay(n, s.self_heal_backoff) for n in range(7)] == [0, 2, 6, 18, 54, 162, 300]
    autosync.decide(app, "OutOfSync", 1, ["x"], pinned, last, heal, s, at=102.5 + 331)
    assert heal.attempts == 0  # cooled down


# -- CRDs and sources ------------------------------------------------------------------------
def test_crds_are_structural_and_match_the_model() -> None:
    app_crd, proj_crd = crds()
    assert app_crd["metadata"]["name"] == "applications.syncwright.dev"
    version = app_crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    schema = version["schema"]["openAPIV3Schema"]
    text = yaml.safe_dump(schema)
    assert "$ref" not in text and "anyOf" not in text and "title" not in text
    spec = schema["properties"]["spec"]["properties"]
    assert spec["source"]["properties"]["repoURL"]["type"] == "string"
    assert spec["syncPolicy"]["properties"]["automated"]["properties"]["selfHeal"]["type"] == "boolean"
    assert spec["syncPolicy"]["properties"]["retry"]["properties"]["backoff"]["properties"]["duration"] == {
        "x-kubernetes-int-or-string": True}
    assert proj_crd["spec"]["names"]["kind"] == "AppProject"


def test_file_source_reports_bad_documents_and_notices_changes(tmp_path: Path) -> None:
    good = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "good"},
            "spec": {"source": {"repoURL": "r", "path": "."}, "destination": {"namespace": "n"}}}
    bad = {**good, "metadata": {"name": "bad"}, "spec": {"sourc": {}}}
    (tmp_path / "apps.yaml").write_text(yaml.safe_dump_all([good, bad, {**good}]))
    (tmp_path / "other.yml").write_text("kind: Deployment\n")
    src = FileSource([tmp_path])
    snap = src.poll()
    assert snap is not None and set(snap.apps) == {"good", "bad"}
    assert snap.apps["bad"].app is None and "sourc" in snap.apps["bad"].error
    assert any("already defined" in e for e in snap.errors) and any("Deployment" in e for e in snap.errors)
    assert src.poll() is None
    time.sleep(0.01)
    (tmp_path / "apps.yaml").write_text(yaml.safe_dump(good))
    snap2 = src.poll()
    assert snap2 is not None and set(snap2.apps) == {"good"}


# -- clusters --------------------------------------------------------------------------------
def test_clusters_from_kubeconfig_and_argo_cluster_secrets(tmp_path: Path) -> None:
    import base64
    import json as _json

    from syncwright.controller.clusters import ClusterNotFound, Clusters

    kc = tmp_path / "kubeconfig"
    kc.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dev",
        "clusters": [{"name": "c1", "cluster": {"server": "https://one:6443"}},
                     {"name": "c2", "cluster": {"server": "https://two:6443/"}}],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": "dev", "context": {"cluster": "c1", "user": "u"}},
                     {"name": "prod", "context": {"cluster": "c2", "user": "u"}}]}))
    reg = Clusters.from_kubeconfig(str(kc), None)
    assert reg.resolve("", "prod").server == "https://two:6443/"
    assert reg.resolve("https://two:6443", "").name == "prod"
    assert reg.resolve("https://kubernetes.default.svc", "").name == "dev"
    with pytest.raises(ClusterNotFound, match="no clusters with this name: nope"):
        reg.resolve("", "nope")
    b64 = lambda v: base64.b64encode(v.encode()).decode()  # noqa: E731
    secret = {"metadata": {"name": "s", "namespace": "argocd"},
              "data": {"name": b64("remote"), "server": b64("https://remote:443"),
                       "config": b64(_json.dumps({"bearerToken": "tok", "tlsClientConfig": {"insecure": True}}))}}
    cluster = reg.add_secret(secret)
    assert reg.resolve("https://remote:443", "") is cluster and cluster.name == "remote"
    written = yaml.safe_load(Path(str(cluster.config.kubeconfig)).read_text())
    assert written["users"][0]["user"]["token"] == "tok"
    assert oct(Path(str(cluster.config.kubeconfig)).stat().st_mode & 0o777) == "0o600"
    with pytest.raises(SyncwrightError, match="data.server is missing"):
        reg.add_secret({"metadata": {"name": "bad"}, "data": {}})
    reg.stop()
    assert not Path(str(cluster.config.kubeconfig)).exists()
