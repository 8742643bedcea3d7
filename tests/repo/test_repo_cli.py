"""The CLI: ``render -f`` with remote sources, ``repo resolve|ls-refs``, ``cache stats|clear``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from syncwright.cli import main

SYNCWRIGHT = str(Path(sys.executable).parent / "syncwright")


@pytest.fixture
def cli_hooks(hooks: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import syncwright.commands.render as render_cmd
    import syncwright.commands.repo as repo_cmd

    monkeypatch.setattr(render_cmd, "load_hooks", lambda ctx, **kw: hooks)
    monkeypatch.setattr(repo_cmd, "load_hooks", lambda ctx, **kw: hooks)
    return hooks


def test_render_file_remote_and_hard_refresh(cli_hooks: Any, cache_dir: Path, repos: Any, helpers: Any,
                                             git_daemon: Any, tmp_path: Path, tools_plugin: Any) -> None:
    repo = repos.create({"app/cm.yaml": helpers.cm("remote")})
    app_file = tmp_path / "app.yaml"
    app_file.write_text(yaml.safe_dump(helpers.app_doc("web", {"repoURL": git_daemon.url(repo), "path": "app",
                                                               "targetRevision": "main"})))
    runner = CliRunner()
    result = runner.invoke(main, ["render", "-f", str(app_file)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["metadata"]["name"] == "remote"
    runner.invoke(main, ["render", "-f", str(app_file), "-o", "json"], catch_exceptions=False)
    assert tools_plugin.renders == 1
    result = runner.invoke(main, ["render", "-f", str(app_file), "--hard-refresh"], catch_exceptions=False)
    assert result.exit_code == 0 and tools_plugin.renders == 2


def test_repo_resolve_and_ls_refs(cli_hooks: Any, cache_dir: Path, repos: Any, helpers: Any, git_daemon: Any,
                                  helm_repo: Any) -> None:
    repo = repos.create({"a.yaml": helpers.cm("a")})
    repo.tag("v1.2.3", annotated=True)
    sha = helpers.git("rev-parse", "HEAD", cwd=repo.work)
    runner = CliRunner()
    for args in (["main"], [], ["v1.2.3"], ["1.2.*"], [sha[:7]]):
        result = runner.invoke(main, ["repo", "resolve", git_daemon.url(repo), *args], catch_exceptions=False)
        assert result.output.strip() == sha, args
    result = runner.invoke(main, ["repo", "ls-refs", git_daemon.url(repo)], catch_exceptions=False)
    lines = result.output.strip().splitlines()
    assert lines[0] == f"{sha} HEAD" and f"{sha} refs/heads/main" in lines and f"{sha} refs/tags/v1.2.3" in lines
    as_json = json.loads(runner.invoke(main, ["repo", "ls-refs", git_daemon.url(repo), "-o", "json"]).output)
    assert as_json["refs/tags/v1.2.3"] == sha
    chart = runner.invoke(main, ["repo", "resolve", helm_repo.helm_url, "0.*", "--chart", "demo"])
    assert chart.output.strip() == "0.2.0"


def test_cache_stats_and_clear(cli_hooks: Any, cache_dir: Path, repos: Any, helpers: Any, git_daemon: Any,
                               tmp_path: Path) -> None:
    repo = repos.create({"cm.yaml": helpers.cm("x")})
    app_file = tmp_path / "app.yaml"
    app_file.write_text(yaml.safe_dump(helpers.app_doc("web", {"repoURL": git_daemon.url(repo)})))
    runner = CliRunner()
    assert runner.invoke(main, ["render", "-f", str(app_file)]).exit_code == 0
    stats = json.loads(runner.invoke(main, ["cache", "stats", "-o", "json"]).output)
    assert stats["manifests"]["entries"] == 1 and stats["git_mirrors"]["count"] == 1
    text = runner.invoke(main, ["cache", "stats"]).output
    assert "manifest cache:  1 entries" in text and "git mirrors:     1" in text
    out = runner.invoke(main, ["cache", "clear", "--manifests-only"]).output
    assert "removed 1 manifest entries, 0 git mirrors" in out
    out = runner.invoke(main, ["cache", "clear"]).output
    assert "removed 0 manifest entries, 1 git mirrors" in out
    assert json.loads(runner.invoke(main, ["cache", "stats", "-o", "json"]).output)["git_mirrors"]["count"] == 0


def test_cli_errors_are_one_line(cache_dir: Path, repos: Any, helpers: Any, git_daemon: Any) -> None:
    repo = repos.create({"a.yaml": helpers.cm("a")})
    env = {**os.environ, "SYNCWRIGHT_CACHE": str(cache_dir), "SYNCWRIGHT_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.run([SYNCWRIGHT, "repo", "resolve", git_daemon.url(repo), "nope"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == f"error: repo {git_daemon.url(repo)}: revision 'nope' not found (no such branch, tag or commit)"
    proc = subprocess.run([SYNCWRIGHT, "repo", "ls-refs", "http://user:hunter2@127.0.0.1:1/x.git"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "hunter2" not in proc.stderr and "Traceback" not in proc.stderr


def test_local_render_imports_neither_git_nor_kubernetes(tmp_path: Path) -> None:
    """The render path for local sources must not pay for GitPython or the Kubernetes client."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    (tmp_path / "app.yaml").write_text(yaml.safe_dump({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "x"},
        "spec": {"source": {"repoURL": ".", "path": "src"}, "destination": {"namespace": "d"}}}))
    script = textwrap.dedent(f"""
        import sys
        from syncwright.api import Discovered, Rendered, hookimpl
        import syncwright.commands.render as r
        from syncwright.plugins import Hooks
        import syncwright.repo

        class P:
            __name__ = "p"
            @hookimpl
            def syncwright_discover(self, ctx):
                return Discovered("directory", 1000)
            @hookimpl
            def syncwright_render(self, ctx):
                return Rendered(tuple(ctx.parse((ctx.source_dir / "cm.yaml").read_text(), "cm.yaml")), "directory")

        r.load_hooks = lambda ctx, **kw: Hooks.load(entry_points=[], extra_plugins=[P()])
        from syncwright.cli import main
        try:
            main.main(["render", "-f", {str(tmp_path / "app.yaml")!r}], standalone_mode=False)
        finally:
            bad = sorted(m for m in sys.modules if m.split(".")[0] in ("git", "kubernetes"))
            print("LOADED", bad, file=sys.stderr)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "name: x" in proc.stdout
    assert "LOADED []" in proc.stderr
