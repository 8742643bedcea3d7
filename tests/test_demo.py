"""`make demo` end to end: the real processes, the narrated milestones, nothing left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scripts" / "demo.py"
PID = re.compile(r"\(pid (\d+)\)")


def _gone(pgid: int) -> bool:
    """No process is left in the group the demo started (the child and anything it forked)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def _assert_cleaned_up(out: str) -> None:
    pids = {int(p) for p in PID.findall(out)}
    assert len(pids) >= 2, out  # at least kubesim and git daemon were started
    deadline = time.monotonic() + 5
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in pids if not _gone(p)] == [], f"processes left behind\n{out}"
    removed = re.search(r"removed (\S+)", out)
    assert removed is not None and not Path(removed.group(1)).exists(), out


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_demo_runs_the_whole_loop_and_cleans_up() -> None:
    began = time.monotonic()
    res = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True, timeout=170,
                         env={**os.environ, "COLUMNS": "200"})
    took = time.monotonic() - began
    out = res.stdout
    assert res.returncode == 0, out + res.stderr
    assert took < 120, f"the demo took {took:.0f} s (must be under 2 minutes)"
    for milestone in (
        "kubesim serving https://127.0.0.1:",
        "git daemon serving git://127.0.0.1:",
        "source type directory", "source type kustomize", "source type helm", "source type jsonnet",
        "source type CMP",
        "all 5 apps Synced and Healthy",
        "signed with a wrong secret: HTTP 401",
        "signed GitHub push webhook delivered",
        "HTTP 200, apps refreshed:",
        "live greeting 'hello from a new commit', replicas 3",
        "drift reverted by self-heal",
        "controller log:",
        "refresh by webhook",
        "sync started (self-heal)",
        "syncwright app list --server http://127.0.0.1:",
        "demo finished in",
    ):
        assert milestone in out, f"missing {milestone!r} in\n{out}"
    sha = re.search(r"pushed ([0-9a-f]{12})", out)
    assert sha is not None and f"directory-app synced to {sha.group(1)}" in out, out
    # the app table: every app Synced and Healthy, with its automated policy
    rows = [ln.split() for ln in out.splitlines() if "Automated (Prune, SelfHeal)" in ln]
    assert sorted(r[0] for r in rows) == ["cmp-envsubst", "directory-app", "helm-app", "jsonnet-app",
                                          "kustomize-app"], out
    assert all("Synced" in r and "Healthy" in r for r in rows), out
    assert re.search(r"\[\d+/\d+\].*\n(.*\n)*.*✓ .*\(\d+\.\d s, \d+\.\d s total\)", out), "steps carry timings"
    _assert_cleaned_up(out)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_demo_interrupted_stops_everything() -> None:
    """Ctrl-C while the apps converge: exit 130, every child stopped, the temp dir removed."""
    proc = subprocess.Popen([sys.executable, str(DEMO)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "syncwright controller started" in line:
                proc.send_signal(signal.SIGINT)
                break
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines) + rest
    assert proc.returncode == 130, out
    assert "demo failed" in out and "interrupted" in out, out
    assert "controller (pid" in out and "stopped" in out, out
    _assert_cleaned_up(out)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_demo_failure_says_where_it_got_stuck_and_cleans_up() -> None:
    """An app that cannot render (its CMP plugin disabled): exit 1, the stuck step and the cause, no leftovers."""
    res = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True, timeout=100,
                         env={**os.environ, "SYNCWRIGHT_DISABLE_PLUGINS": "cmp", "SYNCWRIGHT_DEMO_TIMEOUT": "6"})
    out = res.stdout
    assert res.returncode == 1, out + res.stderr
    assert "demo failed at step 4/8 (wait until every app is Synced and Healthy)" in out, out
    assert "timed out after 6 s waiting for all 5 apps to be Synced and Healthy" in out, out
    assert re.search(r"cmp-envsubst: \S+ / \S+ .*Config Management Plugin", out), out
    assert "controller| " in out, "the controller's last log lines are shown"
    assert "Traceback" not in out + res.stderr
    _assert_cleaned_up(out)
