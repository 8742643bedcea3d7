"""``run``: the one way tools are started — timeouts, caps, env scrubbing, redaction."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from syncwright.errors import ToolError, ToolNotFoundError
from syncwright.execution import find_tool, redact, run, scrubbed_env

PY = sys.executable


def test_output_and_duration() -> None:
    res = run([PY, "-c", "print('hi')"])
    assert res.stdout == b"hi\n" and res.duration > 0


def test_nonzero_exit_has_stderr_tail() -> None:
    with pytest.raises(ToolError, match=r"failed with exit code 3: boom"):
        run([PY, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"], what="tool")


def test_hanging_tool_is_killed_at_timeout() -> None:
    start = time.monotonic()
    with pytest.raises(ToolError, match=r"timed out after 0.5s and was killed"):
        run([PY, "-c", "import time; time.sleep(60)"], timeout=0.5, what="sleeper")
    assert time.monotonic() - start < 5


def test_children_of_a_hanging_tool_are_killed(tmp_path: Path) -> None:
    marker = tmp_path / "child-alive"
    child = f"import time; time.sleep(3); open({str(marker)!r}, 'w')"
    script = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(60)"
    with pytest.raises(ToolError, match="timed out"):
        run([PY, "-c", script], timeout=0.5)
    time.sleep(3.5)
    assert not marker.exists()


def test_flooding_tool_hits_the_output_cap() -> None:
    start = time.monotonic()
    with pytest.raises(ToolError, match=r"more than 100000 bytes to stdout and was killed \(output cap\)"):
        run([PY, "-c", "import sys\nwhile True: sys.stdout.write('x' * 65536)"], max_output=100_000, timeout=30)
    assert time.monotonic() - start < 10


def test_missing_binary() -> None:
    with pytest.raises(ToolNotFoundError, match="not found"):
        run(["/nonexistent/tool", "x"])


def test_env_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sekret")
    env = scrubbed_env({"ARGOCD_APP_NAME": "a"})
    assert "AWS_SECRET_ACCESS_KEY" not in env and env["ARGOCD_APP_NAME"] == "a"
    out = run([PY, "-c", "import os; print(os.environ.get('AWS_SECRET_ACCESS_KEY'))"], env=env).stdout
    assert out.strip() == b"None"


def test_secrets_redacted_from_errors() -> None:
    with pytest.raises(ToolError) as e:
        run([PY, "-c", "import sys; sys.stderr.write('token=hunter22 url=https://u:pw@h/x'); sys.exit(1)"],
            secrets=["hunter22"])
    assert "hunter22" not in str(e.value) and "pw@" not in str(e.value)
    assert redact("https://user:pass@example.com/r.git", []) == "https://******@example.com/r.git"


def test_argv_is_never_a_shell(tmp_path: Path) -> None:
    res = run([PY, "-c", "import sys; print(sys.argv[1])", "$(touch pwned); `id`; echo"], cwd=tmp_path)
    assert res.stdout.strip() == b"$(touch pwned); `id`; echo"
    assert not (tmp_path / "pwned").exists()


def test_find_tool_env_var_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "helm"
    fake.write_text("#!/bin/sh\necho fake\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SYNCWRIGHT_HELM", str(fake))
    assert find_tool("helm", "SYNCWRIGHT_HELM", "hint").path == str(fake)
    monkeypatch.setenv("SYNCWRIGHT_HELM", "/nonexistent/helm")
    tool = find_tool("helm", "SYNCWRIGHT_HELM", "run `make tools`")
    with pytest.raises(ToolNotFoundError, match=r"helm not found .*SYNCWRIGHT_HELM.*make tools"):
        tool.require()
    assert os.environ["SYNCWRIGHT_HELM"] == "/nonexistent/helm"
