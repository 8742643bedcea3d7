"""Helm repository sources and multi-source Applications with ``$ref`` value files."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncwright.errors import PathEscapeError, SpecError
from syncwright.model import parse_application
from syncwright.repo.errors import RepoError, RevisionNotFound
from syncwright.repo.service import RepoService


@pytest.fixture
def service(hooks: Any, cache_dir: Path) -> RepoService:
    return RepoService(hooks, cache_dir=cache_dir, revision_ttl=0)


def _chart_app(helpers: Any, url: str, revision: str, **extra: Any) -> Any:
    return parse_application(helpers.app_doc("web", {"repoURL": url, "chart": "demo", "targetRevision": revision,
                                                     **extra}), "test")


@pytest.mark.parametrize("revision,version", [
    ("0.1.0", "0.1.0"), ("0.*", "0.2.0"), ("", "1.0.0"), ("*", "1.0.0"), (">=0.1.0 <1.0.0", "0.2.0"),
    ("1.1.0-rc.1", "1.1.0-rc.1"), ("~1.1.0-rc.0", "1.1.0-rc.1"),
])
def test_chart_versions(service: RepoService, helm_repo: Any, helpers: Any, revision: str, version: str) -> None:
    out = service.render_app(_chart_app(helpers, helm_repo.helm_url, revision))
    assert out.sources[0].revision == version and out.sources[0].tool == "helm"
    (cm,) = out.manifests
    assert cm["metadata"]["name"] == "web-cm" and cm["data"]["version"] == version


def test_chart_cached_and_index_reused(service: RepoService, helm_repo: Any, helpers: Any, tools_plugin: Any) -> None:
    from syncwright.repo.helmrepo import STATS

    app = _chart_app(helpers, helm_repo.helm_url, "0.2.0")
    before = dict(STATS)
    first = service.render_app(app)
    assert first.manifests[0]["data"]["color"] == "blue"
    second = service.render_app(app)
    assert second.sources[0].cached and tools_plugin.renders == 1
    assert STATS["chart"] - before["chart"] == 1


def test_missing_chart_and_version(service: RepoService, helm_repo: Any, helpers: Any) -> None:
    with pytest.raises(RevisionNotFound, match=r"no version of chart 'demo' matches '>=5.0.0'"):
        service.render_app(_chart_app(helpers, helm_repo.helm_url, ">=5.0.0"))
    app = parse_application(helpers.app_doc("w", {"repoURL": helm_repo.helm_url, "chart": "nope"}), "t")
    with pytest.raises(RevisionNotFound, match=r"has no chart 'nope'"):
        service.render_app(app)


def test_malformed_index_entry_is_skipped_with_warning(service: RepoService, helm_repo: Any, helpers: Any) -> None:
    index_path = helm_repo.state["helm_root"] / "index.yaml"
    index = yaml.safe_load(index_path.read_text())
    index["entries"]["demo"].append({"name": "demo", "version": "not-a-version", "urls": ["x.tgz"]})
    index["entries"]["demo"].append({"name": "demo", "version": "3.0.0"})  # no urls
    index["entries"]["demo"].append("garbage")
    index_path.write_text(yaml.safe_dump(index))
    out = service.render_app(_chart_app(helpers, helm_repo.helm_url, ">=0.1.0"))
    assert out.sources[0].revision == "1.0.0"
    assert any("skipped malformed index entry demo" in w and "'3.0.0'" in w and "no urls" in w for w in out.warnings)
    assert any("not semantic versioning" in w for w in out.warnings)
    with pytest.raises(RevisionNotFound, match=r"no version of chart 'demo' matches '3.0.0'.*no urls|expected a mapping"):
        service.render_app(_chart_app(helpers, helm_repo.helm_url, "3.0.0"))


def test_broken_index_is_a_clear_error(service: RepoService, helm_repo: Any, helpers: Any) -> None:
    (helm_repo.state["helm_root"] / "index.yaml").write_text("entries: [\n")
    with pytest.raises(RepoError, match=r"index.yaml is not valid YAML"):
        service.render_app(_chart_app(helpers, helm_repo.helm_url, "0.1.0"))


def test_chart_digest_mismatch(service: RepoService, helm_repo: Any, helpers: Any) -> None:
    root = helm_repo.state["helm_root"]
    (root / "demo-0.1.0.tgz").write_bytes((root / "demo-0.2.0.tgz").read_bytes())
    with pytest.raises(RepoError, match=r"digest mismatch"):
        service.render_app(_chart_app(helpers, helm_repo.helm_url, "0.1.0"))


def test_helm_repo_with_basic_auth(hooks: Any, cache_dir: Path, helm_repo: Any, helpers: Any, tmp_path: Path) -> None:
    from syncwright.repo.creds import CredentialStore

    helm_repo.require_auth("charts", "hunter22")
    anonymous = RepoService(hooks, cache_dir=cache_dir, revision_ttl=0, credentials=CredentialStore())
    with pytest.raises(RepoError, match=r"authentication failed \(HTTP 401") as err:
        anonymous.render_app(_chart_app(helpers, helm_repo.helm_url, "0.1.0"))
    assert "hunter22" not in str(err.value)
    creds = tmp_path / "creds.yaml"
    creds.write_text(yaml.safe_dump({"repositories": [
        {"url": helm_repo.helm_url, "username": "charts", "password": "hunter22"}]}))
    authed = RepoService(hooks, cache_dir=cache_dir, revision_ttl=0, credentials=CredentialStore.load(creds))
    assert authed.render_app(_chart_app(helpers, helm_repo.helm_url, "0.1.0")).sources[0].revision == "0.1.0"


def test_oci_is_refused_clearly(service: RepoService, helpers: Any) -> None:
    with pytest.raises(RepoError, match=r"OCI Helm registries are not supported yet"):
        service.render_app(_chart_app(helpers, "oci://127.0.0.1:1/charts", "1.0.0"))


# --- multi-source ----------------------------------------------------------------------------


def test_multi_source_ref_values(service: RepoService, helm_repo: Any, repos: Any, helpers: Any,
                                 git_daemon: Any, tools_plugin: Any) -> None:
    values = repos.create({"env/prod/values.yaml": "color: green\nsize: large\n",
                           "manifests/extra.yaml": helpers.cm("extra")})
    app = parse_application(helpers.app_doc("multi", sources=[
        {"repoURL": helm_repo.helm_url, "chart": "demo", "targetRevision": "0.1.0",
         "helm": {"valueFiles": ["$values/env/prod/values.yaml"]}},
        {"repoURL": git_daemon.url(values), "targetRevision": "main", "ref": "values"},
        {"repoURL": git_daemon.url(values), "targetRevision": "main", "path": "manifests"},
    ]), "t")
    out = service.render_app(app)
    assert [m["metadata"]["name"] for m in out.manifests] == ["multi-cm", "extra"]
    assert out.manifests[0]["data"]["color"] == "green" and out.manifests[0]["data"]["size"] == "large"
    assert service.render_app(app).manifests == out.manifests and tools_plugin.renders == 2
    values.commit({"env/prod/values.yaml": "color: yellow\n"})
    third = service.render_app(app)  # the ref source moved: the chart source must re-render
    assert third.manifests[0]["data"]["color"] == "yellow" and not third.sources[0].cached


def test_multi_source_git_chart_with_ref(service: RepoService, repos: Any, helpers: Any, git_daemon: Any,
                                         tmp_path: Path) -> None:
    chart = helpers.make_chart(tmp_path / "src", "inrepo", "0.3.0")
    files = {f"charts/inrepo/{p.relative_to(chart)}": p.read_text() for p in chart.rglob("*") if p.is_file()}
    chart_repo = repos.create(files)
    values = repos.create({"v.yaml": "color: purple\n"})
    app = parse_application(helpers.app_doc("g", sources=[
        {"repoURL": git_daemon.url(chart_repo), "path": "charts/inrepo", "helm": {"valueFiles": ["$vals/v.yaml"]}},
        {"repoURL": git_daemon.url(values), "ref": "vals"},
    ]), "t")
    assert service.render_app(app).manifests[0]["data"]["color"] == "purple"


def test_ref_value_file_escaping_is_rejected(service: RepoService, helm_repo: Any, repos: Any, helpers: Any,
                                             git_daemon: Any) -> None:
    values = repos.create({"values.yaml": "color: green\n"})
    for bad in ("$values/../../outside/values.yaml", "$values/../../../../etc/passwd"):
        app = parse_application(helpers.app_doc("m", sources=[
            {"repoURL": helm_repo.helm_url, "chart": "demo", "targetRevision": "0.1.0",
             "helm": {"valueFiles": [bad]}},
            {"repoURL": git_daemon.url(values), "ref": "values"},
        ]), "t")
        with pytest.raises(PathEscapeError, match=r"resolved to outside repository root") as err:
            service.render_app(app)
        assert "/tmp" not in str(err.value)
    unknown = parse_application(helpers.app_doc("m", sources=[
        {"repoURL": helm_repo.helm_url, "chart": "demo", "targetRevision": "0.1.0",
         "helm": {"valueFiles": ["$nope/values.yaml"]}},
        {"repoURL": git_daemon.url(values), "ref": "values"},
    ]), "t")
    with pytest.raises(SpecError, match=r"unknown source ref 'nope' \(refs: values\)"):
        service.render_app(unknown)


def test_helm_package_fixture_is_real(helm_repo: Any) -> None:
    index = yaml.safe_load((helm_repo.state["helm_root"] / "index.yaml").read_text())
    assert sorted(e["version"] for e in index["entries"]["demo"]) == ["0.1.0", "0.2.0", "1.0.0", "1.1.0-rc.1"]
    assert subprocess.run(["tar", "tzf", str(helm_repo.state["helm_root"] / "demo-0.1.0.tgz")],
                          capture_output=True, text=True).stdout.startswith("demo/")
